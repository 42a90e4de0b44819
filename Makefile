# Wayfabric — run `make help` for the targets.

# The Kubernetes release our k8s.io/* libraries belong to (k8s.io/api v0.X.Y -> v1.X.Y).
K8S_VERSION ?= $(shell GOWORK=off go list -m -f '{{.Version}}' k8s.io/api | sed 's/^v0\./1./')
ENVTEST_DIR ?= $(CURDIR)/bin/k8s/$(K8S_VERSION)
KUBECTL ?= $(ENVTEST_DIR)/kubectl
# Release version (semver without "v", as OLM wants it); images and binaries are tagged v$(VERSION).
VERSION ?= 0.1.0
PREVIOUS_VERSION ?=
IMAGE_REPO ?= ghcr.io/wayfabric
# Binaries with an image of their own (the CNI plugin ships in the ztunnel image).
BINARIES ?= $(filter-out wayfabric-cni,$(notdir $(patsubst %/main.go,%,$(wildcard cmd/*/main.go))))
LDFLAGS := -X github.com/wayfabric/wayfabric/cmd/internal/buildinfo.Version=v$(VERSION)
CONTROLLER_GEN := go tool controller-gen
KUSTOMIZE := go tool kustomize
GO_TEST_FLAGS ?= -count=1 -timeout=30m
export GOWORK := off

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate CRDs and RBAC from the Go types and markers into config/.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: ## Generate DeepCopy methods and apply configurations (api/applyconfiguration) for the API types.
	$(CONTROLLER_GEN) object applyconfiguration paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

# Cold (the tool's first build plus an empty analysis cache) it takes a few
# minutes on 2 cores; warm, well under one.
LINT_TIMEOUT ?= 15m
.PHONY: lint
lint: ## Run golangci-lint (version pinned in go.mod's tool block, checks in .golangci.yml).
	go tool golangci-lint run --timeout=$(LINT_TIMEOUT) ./...

.PHONY: test
test: vet lint envtest ## Run all unit and envtest suites (real kube-apiserver and etcd from bin/k8s), then the short fuzz runs.
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	WAYFABRIC_REQUIRE_ENVTEST=1 KUBEBUILDER_ASSETS=$(ENVTEST_DIR) go test $(GO_TEST_FLAGS) ./...
	$(MAKE) -s fuzz-short

# The HTTP/1.1 parser's differential fuzz targets (against net/http), a few
# seconds each; the package has no dependencies outside the standard library,
# so the instrumented build is quick. Seed corpora run in every `go test`.
FUZZTIME ?= 5s
.PHONY: fuzz-short
fuzz-short: ## Fuzz the waypoint's HTTP/1.1 parser for FUZZTIME per target (default 5s).
	go test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME) ./proxy/waypoint/h1/
	go test -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME) ./proxy/waypoint/h1/

.PHONY: envtest
envtest: ## Build kube-apiserver, kubectl and etcd from Go modules into bin/k8s/<version> (cached).
	@K8S_VERSION=v$(K8S_VERSION) hack/build-k8s.sh kube-apiserver kubectl etcd

.PHONY: envtest-path
envtest-path: ## Print the KUBEBUILDER_ASSETS folder.
	@echo $(ENVTEST_DIR)

##@ Benchmarks (figures go to docs/performance.md)

.PHONY: bench-operator
bench-operator: envtest ## 1,000 Waypoints in 50 namespaces on envtest vs a 100-Waypoint baseline: convergence time, writes, manager CPU and peak memory.
	WAYFABRIC_BENCH_OPERATOR=1 KUBEBUILDER_ASSETS=$(ENVTEST_DIR) go test -count=1 -timeout=30m -run TestOperatorScale -v ./test/scale/

.PHONY: bench-waypoint
bench-waypoint: ## Waypoint vs nginx as a reverse proxy (installs nginx and wrk if missing).
	test/bench/waypoint.sh

.PHONY: bench-ztunnel
bench-ztunnel: envtest ## (root) Two ztunnel processes on network namespaces vs plain pod to pod: added latency at 1,000 req/s, CPU, RSS, throughput.
	WAYFABRIC_BENCH_ZTUNNEL=1 KUBEBUILDER_ASSETS=$(ENVTEST_DIR) go test -count=1 -timeout=20m -run TestBenchZtunnel -v ./proxy/ztunnel/

.PHONY: bench-ztunnel-memory
bench-ztunnel-memory: envtest ## ztunnel's view of 1,000 pods and 1,000 Services on envtest: heap vs informers keeping full objects.
	WAYFABRIC_BENCH_ZTUNNEL=1 KUBEBUILDER_ASSETS=$(ENVTEST_DIR) go test -count=1 -timeout=20m -run TestMemoryAt1000PodsAnd1000Services -v ./proxy/ztunnel/discovery/

.PHONY: bench-authz
bench-authz: ## Waypoint requests/s per core with 0, 10 and 100 authorization rules (installs nginx and wrk if missing).
	test/bench/authz.sh

.PHONY: bench-autoscaler
bench-autoscaler: ## Autoscaling policy vs the HPA algorithm on simulated traces.
	go test -count=1 -run TestComparison -v ./test/simulation/

##@ Build

.PHONY: build
build: ## Build every binary under cmd/ into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

.PHONY: run
run: envtest ## Run Wayfabric: on the configured cluster; else, as root, a local Kubernetes with the operator and a demo mesh; else a local control plane. RUN_ARGS=-envtest forces the last.
	@# Built, not `go run`: go run exits 1 on Ctrl-C even when the program stops cleanly.
	go build -o bin/localrun ./hack/localrun
	bin/localrun --assets $(ENVTEST_DIR) --version v$(VERSION) $(RUN_ARGS)

##@ Packaging

.PHONY: bundle
bundle: manifests ## Regenerate the OLM bundle (bundle/, bundle.Dockerfile) from config/.
	go run ./hack/bundle -version $(VERSION) -manager-image $(IMAGE_REPO)/manager:v$(VERSION) \
		-channels stable,candidate -default-channel stable $(if $(PREVIOUS_VERSION),-replaces $(PREVIOUS_VERSION))

.PHONY: images
images: ## Build OCI image tarballs (linux/amd64 + arm64) of every cmd/ binary into bin/images/.
	go run ./hack/images -version v$(VERSION) -repo $(IMAGE_REPO) -out bin/images

.PHONY: bundle-image
bundle-image: bundle ## Build the bundle image tarball into bin/images/.
	go run ./hack/images -version v$(VERSION) -repo $(IMAGE_REPO) -out bin/images -bundle bundle

.PHONY: docker-build
docker-build: ## Build the images with Docker buildx (for machines with a Docker engine).
	for b in $(BINARIES); do docker buildx build --platform linux/amd64,linux/arm64 --build-arg BINARY=$$b \
	  --build-arg VERSION=v$(VERSION) --target $$b -t $(IMAGE_REPO)/$$b:v$(VERSION) . || exit 1; done

##@ Local cluster (root)

.PHONY: cluster-up
cluster-up: ## Start a real single-node Kubernetes on this machine; KUBECONFIG=bin/cluster/kubeconfig. WAYFABRIC_CLUSTER_KWOK_NODES=N adds fake nodes.
	K8S_VERSION=v$(K8S_VERSION) hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and restore the machine exactly as it was.
	K8S_VERSION=v$(K8S_VERSION) hack/cluster/down.sh

.PHONY: test-cluster
test-cluster: ## cluster-up, a real pod answering from the host, then cluster-down leaving nothing behind.
	WAYFABRIC_CLUSTER_TEST=1 go test ./test/cluster/ -v -count=1 -timeout 30m

.PHONY: test-e2e
test-e2e: ## End-to-end suites on the local cluster (with 100 kwok nodes): cluster up, images, test/e2e, Gateway API conformance (Mesh), cluster down, always.
	K8S_VERSION=v$(K8S_VERSION) hack/e2e/run.sh

.PHONY: conformance
conformance: ## The upstream Gateway API conformance suite (Mesh profile) alone on the local cluster; writes conformance/reports/.
	K8S_VERSION=v$(K8S_VERSION) WAYFABRIC_E2E_SUITES=conformance WAYFABRIC_CLUSTER_KWOK_NODES=0 hack/e2e/run.sh

##@ Deployment

.PHONY: install
install: ## Install the CRDs into the configured cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: ## Remove the CRDs from the configured cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests ## Deploy the operator (config/default) to the configured cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator from the configured cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -
