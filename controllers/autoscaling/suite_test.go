package autoscaling_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/controllers/autoscaling"
	"github.com/wayfabric/wayfabric/controllers/autoscaling/collector"
	"github.com/wayfabric/wayfabric/controllers/internal/testutil"
	"github.com/wayfabric/wayfabric/controllers/waypoint"
)

var (
	env    *testutil.Env
	k8s    client.Client // uncached, for assertions
	source *fakeSource
)

func TestAutoscalerEnvtest(t *testing.T) {
	testutil.RunSuite(t, "Waypoint autoscaler suite")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testutil.Start(func(mgr ctrl.Manager) error {
		// The Waypoint reconciler as controllers.Setup builds it, so the
		// Deployment follows status.desiredReplicas.
		if err := (&waypoint.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("waypoint-controller"),
			Image: "ghcr.io/wayfabric/waypoint", DefaultVersion: "v0.1.0"}).SetupWithManager(mgr); err != nil {
			return err
		}
		// Load is injected per Waypoint; the real-process spec routes its
		// Waypoint to the HTTP collector on the same cache.
		source = &fakeSource{http: collector.NewHTTPSource(mgr.GetClient(), collector.HTTPOptions{Port: realStatsPort()})}
		return mgr.Add(autoscaling.New(mgr.GetClient(), source, mgr.GetEventRecorder("waypoint-autoscaler"),
			autoscaling.Options{StatusInterval: 2 * time.Second}))
	})
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
