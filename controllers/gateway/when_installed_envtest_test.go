package gateway_test

import (
	"context"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/controllers"
	"github.com/wayfabric/wayfabric/controllers/gateway"
	"github.com/wayfabric/wayfabric/internal/testenv"
)

// TestGatewayAPITurnsOnWhenInstalled starts a manager on an API server
// without the Gateway API CRDs, installs them while it runs, and expects the
// GatewayClass to be Accepted: no restart needed.
func TestGatewayAPITurnsOnWhenInstalled(t *testing.T) {
	env, gatewayCRDs, err := testenv.NewWithoutGatewayAPI()
	cfg := testenv.StartOrSkip(t, env, err)

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		// The Ginkgo suite in this test binary registers the same controller
		// names; names are unique per process, not per manager.
		Controller: config.Controller{SkipNameValidation: new(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gateway.WhenInstalled(mgr, 200*time.Millisecond, controllers.SetupGatewayAPI); err != nil {
		t.Fatalf("WhenInstalled without the CRDs: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var mgrErr error
	go func() { defer close(done); mgrErr = mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if mgrErr != nil {
			t.Errorf("manager: %v", mgrErr)
		}
	})

	time.Sleep(time.Second) // the manager runs a while without Gateway API
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{gatewayCRDs}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: gateway.GatewayClassName},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: gateway.ControllerName}}
	if err := c.Create(ctx, gc); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("the manager stopped: %v", mgrErr)
		default:
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(gc), gc); err == nil &&
			apimeta.IsStatusConditionTrue(gc.Status.Conditions, string(gatewayv1.GatewayClassConditionStatusAccepted)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GatewayClass not Accepted 30 s after the CRDs were installed; conditions: %+v", gc.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
