package waypoint_test

import (
	"errors"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/controllers/internal/testutil"
	"github.com/wayfabric/wayfabric/controllers/waypoint"
)

const (
	imageRepo      = "ghcr.io/wayfabric/waypoint"
	defaultVersion = "v0.1.0"
)

var (
	env *testutil.Env
	k8s client.Client // uncached, for assertions
)

func TestWaypointEnvtest(t *testing.T) {
	testutil.RunSuite(t, "Waypoint reconciler suite")
}

// newReconciler is the reconciler as controllers.Setup builds it.
func newReconciler(mgr ctrl.Manager, c client.Client) *waypoint.Reconciler {
	return &waypoint.Reconciler{Client: c, Recorder: mgr.GetEventRecorder("waypoint-controller"),
		Image: imageRepo, DefaultVersion: defaultVersion}
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testutil.Start(func(mgr ctrl.Manager) error {
		// The three Waypoint controllers, as controllers.Setup lists them.
		c := mgr.GetClient()
		return errors.Join(newReconciler(mgr, c).SetupWithManager(mgr),
			(&waypoint.ReaderReconciler{Client: c, Recorder: mgr.GetEventRecorder("waypoint-controller")}).SetupWithManager(mgr),
			(&waypoint.TrustBundleReconciler{Client: c}).SetupWithManager(mgr))
	})
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
