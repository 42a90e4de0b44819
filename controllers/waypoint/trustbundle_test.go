package waypoint_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/controllers/waypoint"
)

var _ = Describe("Trust bundle", func() {
	const operatorNS = "wayfabric-system" // the default operator namespace in this suite
	const bundleName, bundleKey = "wayfabric-trust-bundle", "root-cert.pem"

	copyIn := func(ctx context.Context, ns string) func() (string, error) {
		return func() (string, error) {
			var cm corev1.ConfigMap
			err := k8s.Get(ctx, key(ns, bundleName), &cm)
			return cm.Data[bundleKey], err
		}
	}

	It("publishes the CA's bundle into waypoint namespaces, follows rotations and prunes copies", func(ctx context.Context) {
		err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}})
		Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
		source := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: bundleName},
			Data:       map[string]string{bundleKey: "ROOT-A"},
		}
		Expect(k8s.Create(ctx, source)).To(Succeed())
		DeferCleanup(func(ctx context.Context) { Expect(k8s.Delete(ctx, source)).To(Succeed()) })

		ns := newNamespace(ctx)
		wp := newWaypoint(ns, "bundle")
		Expect(k8s.Create(ctx, wp)).To(Succeed())
		Eventually(copyIn(ctx, ns)).Should(Equal("ROOT-A"))

		var published corev1.ConfigMap
		Expect(k8s.Get(ctx, key(ns, bundleName), &published)).To(Succeed())
		Expect(published.Labels).To(HaveKeyWithValue(waypoint.LabelTrustBundleCopy, "true"))

		By("following a root rotation in the operator namespace")
		source.Data[bundleKey] = "ROOT-A\nROOT-B"
		Expect(k8s.Update(ctx, source)).To(Succeed())
		Eventually(copyIn(ctx, ns)).Should(Equal("ROOT-A\nROOT-B"))

		By("repairing a copy someone edited")
		Expect(k8s.Get(ctx, key(ns, bundleName), &published)).To(Succeed())
		published.Data[bundleKey] = "tampered"
		Expect(k8s.Update(ctx, &published)).To(Succeed())
		Eventually(copyIn(ctx, ns)).Should(Equal("ROOT-A\nROOT-B"))

		By("removing the copy once the namespace has no Waypoint left")
		Expect(k8s.Delete(ctx, wp)).To(Succeed())
		Eventually(func() bool {
			_, err := copyIn(ctx, ns)()
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())

		By("never touching the source")
		Expect(k8s.Get(ctx, key(operatorNS, bundleName), source)).To(Succeed())
	})
})
