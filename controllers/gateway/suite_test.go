package gateway_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/controllers"
	"github.com/wayfabric/wayfabric/controllers/internal/testutil"
)

// The suite runs the Gateway API controllers alone against a real
// kube-apiserver; no Waypoint controller runs, so tests play its part
// (Waypoint status, the waypoint Service) by hand.
var (
	env *testutil.Env
	k8s client.Client // uncached, for assertions
)

func TestGatewayEnvtest(t *testing.T) {
	testutil.RunSuite(t, "Gateway API controllers suite")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testutil.Start(controllers.SetupGatewayAPI)
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
	DeferCleanup(func() {
		Expect(env.Stop()).To(Succeed())
	})
})
