package ztunnel_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
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

// nodeStatus stands in for the ztunnels' status endpoints: envtest runs no
// pod, so this is the one boundary the suite fakes.
var nodeStatus = &fakeNodeStatus{byPod: map[string]ztunnelstatus.Status{}}

// statusRefresh is short so the specs see the periodic refresh.
const statusRefresh = time.Second

func newReconciler(mgr ctrl.Manager, c client.Client) *ztunnel.Reconciler {
	return &ztunnel.Reconciler{Client: c, Recorder: mgr.GetEventRecorder("ztunnel-controller"),
		Image: imageRepo, DefaultVersion: defaultVersion, Namespace: namespace,
		NodeStatus: nodeStatus, StatusRefresh: statusRefresh}
}

// fakeNodeStatus answers for the pods named in byPod.
type fakeNodeStatus struct {
	mu    sync.Mutex
	byPod map[string]ztunnelstatus.Status
}

func (f *fakeNodeStatus) set(pod string, st ztunnelstatus.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byPod[pod] = st
}

func (f *fakeNodeStatus) Statuses(_ context.Context, pods []*corev1.Pod) map[types.UID]ztunnelstatus.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[types.UID]ztunnelstatus.Status{}
	for _, p := range pods {
		if st, ok := f.byPod[p.Name]; ok {
			out[p.UID] = st
		}
	}
	return out
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
