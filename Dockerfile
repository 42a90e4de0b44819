# syntax=docker/dockerfile:1
#
# Wayfabric images for people with Docker (BuildKit). One stage per binary:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg BINARY=manager --build-arg VERSION=v0.1.0 \
#     --target manager -t ghcr.io/wayfabric/manager:v0.1.0 .
#
# Without a Docker engine, `make images` builds the same images (static binary,
# non-root 65532, entrypoint /<binary>, OCI labels, amd64 + arm64) as OCI
# tarballs with hack/images. Every main package under cmd/ needs a stage at the
# end of this file, or is copied into one (wayfabric-cni, the CNI plugin, ships
# in the ztunnel image); test/packaging checks that.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG BINARY
ARG VERSION=v0.0.0-dev
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN test -n "${BINARY}" || { echo "set --build-arg BINARY=<name of a directory under cmd/>" >&2; exit 1; }
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X github.com/wayfabric/wayfabric/cmd/internal/buildinfo.Version=${VERSION}" \
      -o /out/${BINARY} ./cmd/${BINARY}
# The ztunnel image also carries the CNI plugin it installs on each node.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    if [ "${BINARY}" = ztunnel ]; then CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
      go build -trimpath -buildvcs=false \
        -ldflags "-s -w -buildid= -X github.com/wayfabric/wayfabric/cmd/internal/buildinfo.Version=${VERSION}" \
        -o /out/wayfabric-cni ./cmd/wayfabric-cni; fi

# Static base with CA certificates, /etc/passwd and /tmp; runs as nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot AS image
ARG BINARY
ARG VERSION=v0.0.0-dev
LABEL org.opencontainers.image.title="${BINARY}" \
      org.opencontainers.image.description="Wayfabric ambient service mesh: ${BINARY}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/wayfabric/wayfabric" \
      org.opencontainers.image.url="https://github.com/wayfabric/wayfabric" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Wayfabric"
COPY --from=build /out/${BINARY} /${BINARY}
USER 65532:65532
WORKDIR /

# An exec-form ENTRYPOINT cannot expand build arguments, hence one stage per binary.
FROM image AS manager
ENTRYPOINT ["/manager"]

FROM image AS waypoint
ENTRYPOINT ["/waypoint"]

FROM image AS ztunnel
COPY --from=build /out/wayfabric-cni /wayfabric-cni
ENTRYPOINT ["/ztunnel"]
