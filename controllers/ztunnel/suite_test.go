package ztunnel_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/controllers/internal/testutil"
	"github.com/wayfabric/wayfabric/controllers/ztunnel"
)

const (
	imageRepo      = "ghcr.io/wayfabric/ztunnel"
	defaultVersion = "v0.1.0"
	namespace      = "wayfabric-system"
)

var (
	env *testutil.Env
	k8s client.Client // uncached, for assertions
)

func TestZtunnelEnvtest(t *testing.T) {
	testutil.RunSuite(t, "ZtunnelConfig reconciler suite")
}

func newReconciler(mgr ctrl.Manager, c client.Client) *ztunnel.Reconciler {
	return &ztunnel.Reconciler{Client: c, Recorder: mgr.GetEventRecorder("ztunnel-controller"),
		Image: imageRepo, DefaultVersion: defaultVersion, Namespace: namespace}
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testutil.Start(func(mgr ctrl.Manager) error {
		return newReconciler(mgr, mgr.GetClient()).SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
	Expect(k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
