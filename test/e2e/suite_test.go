//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/wayfabric/wayfabric/internal/testenv"
)

const (
	operatorNS = "wayfabric-system"
	nodeName   = "wayfabric-node"
	imageRepo  = "wayfabric.local"
	version    = "v0.1.0"
	echoImage  = imageRepo + "/echo:" + version
)

var (
	repoRoot     string
	kubeconfig   string
	kubeCacheDir string
	kubectlPath  string
	clusterDir   string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Wayfabric end-to-end (local cluster)")
}

var _ = BeforeSuite(func() {
	repoRoot = testenv.RepoRoot()
	clusterDir = os.Getenv("WAYFABRIC_CLUSTER_DIR")
	if clusterDir == "" {
		clusterDir = filepath.Join(repoRoot, "bin", "cluster")
	}
	kubeconfig = filepath.Join(clusterDir, "kubeconfig")
	kubeCacheDir = filepath.Join(clusterDir, "run", "kubecache")
	if os.Geteuid() != 0 {
		Skip("the end-to-end suite needs root (the local cluster does): run `sudo make test-e2e`")
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		Skip(fmt.Sprintf("no local cluster (%s is missing): run `sudo make test-e2e`, or `sudo make cluster-up && sudo hack/e2e/images.sh` first", kubeconfig))
	}
	matches, _ := filepath.Glob(filepath.Join(repoRoot, "bin", "k8s", "*", "kubectl"))
	Expect(matches).NotTo(BeEmpty(), "no kubectl under bin/k8s: run `make envtest`")
	kubectlPath = matches[len(matches)-1]
	mustKubectl("get", "node", nodeName)

	// The images must be in the cluster's containerd; build and import them
	// if they are not (hack/e2e/run.sh has done it already).
	sock := filepath.Join(clusterDir, "run", "containerd", "containerd.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	have, err := run(ctx, "", "ctr", "--address", sock, "-n", "k8s.io", "images", "ls", "-q")
	Expect(err).NotTo(HaveOccurred())
	for _, ref := range []string{"manager:" + version, "waypoint:" + version, "waypoint:" + nextVersion,
		"ztunnel:" + version, "ztunnel:" + nextVersion, "echo:" + version} {
		if !strings.Contains(have, imageRepo+"/"+ref) {
			By("building and importing the e2e images (hack/e2e/images.sh)")
			out, err := run(ctx, "", filepath.Join(repoRoot, "hack", "e2e", "images.sh"))
			Expect(err).NotTo(HaveOccurred(), out)
			break
		}
	}
})
