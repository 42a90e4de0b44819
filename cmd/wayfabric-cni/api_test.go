package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wayfabric/wayfabric/api/mesh"
	"github.com/wayfabric/wayfabric/internal/testenv"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
)

const ztunnelNS = "wayfabric-system"

// seed creates what the fallback reads: namespaces and pods labelled every
// way enrollment can go, and the ztunnel's service account with the only
// permissions the plugin needs (get pods and namespaces).
func seed(ctx context.Context) error {
	ambient := map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeAmbient}
	none := map[string]string{mesh.LabelDataplaneMode: mesh.DataplaneModeNone}
	for name, labels := range map[string]map[string]string{"shop": ambient, "plain": nil, ztunnelNS: nil} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		ns, name string
		labels   map[string]string
	}{{"shop", "web", nil}, {"shop", "legacy", none}, {"plain", "app", nil}, {"plain", "meshed", ambient}} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.name, Labels: p.labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
		if _, err := kube.CoreV1().Pods(p.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, sa := range []string{"ztunnel", "nobody"} {
		if _, err := kube.CoreV1().ServiceAccounts(ztunnelNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "wayfabric-cni"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get"}}}}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "wayfabric-cni"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "wayfabric-cni"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ztunnelNS, Name: "ztunnel"}}}
	_, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	return err
}

// kubeconfigFor writes the plugin's kubeconfig the way the ztunnel does:
// a real token of service account sa, the API server's CA.
func kubeconfigFor(t *testing.T, sa, server string) string {
	t.Helper()
	tr, err := kube.CoreV1().ServiceAccounts(ztunnelNS).CreateToken(context.Background(), sa, &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(tr.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wayfabric-cni.kubeconfig")
	if err := cni.WriteKubeconfig(path, server, apiConfig.CAData, token); err != nil {
		t.Fatal(err)
	}
	return path
}

func needAPI(t *testing.T) {
	t.Helper()
	if kube == nil {
		testenv.RequireAssets(t) // TestMain starts envtest whenever the assets are set
	}
}

func TestNoZtunnelDecidesFromTheAPI(t *testing.T) {
	needAPI(t)
	kubeconfig := kubeconfigFor(t, "ztunnel", apiConfig.Host)
	netns := newNetns(t)

	// A socket file left by a ztunnel killed with SIGKILL: connection refused.
	stale := filepath.Join(t.TempDir(), "ztunnel.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	for _, tc := range []struct {
		ns, name string
		enrolled bool
	}{
		{"shop", "web", true},             // by its namespace
		{"shop", "legacy", false},         // opted out by its own label
		{"plain", "app", false},           // nothing enrolls it
		{"plain", "meshed", true},         // by its own label
		{"shop", "not-created-yet", true}, // unknown pod: its namespace decides
		{"plain", "not-created-yet", false},
	} {
		for socketName, socket := range map[string]string{"no socket": absentSocket(t), "stale socket": stale} {
			t.Run(tc.ns+"/"+tc.name+" "+socketName, func(t *testing.T) {
				conf := pluginConf(t, socket, map[string]any{"kubeconfig": kubeconfig})
				o := run(t, call{command: "ADD", netns: netns, k8sArgs: podArgs(tc.ns, tc.name), conf: conf})
				d := lastDecision(t, conf)
				if !tc.enrolled {
					if o.exit != 0 || d.Result != "not-enrolled" {
						t.Fatalf("an unenrolled pod was held back: exit %d %s, decision %+v", o.exit, o.stdout, d)
					}
					return
				}
				want := fmt.Sprintf("no ztunnel is running on this node; enrolled pod %s/%s cannot start until one does (fail closed)", tc.ns, tc.name)
				if e := o.err(t); o.exit == 0 || e.Msg != want || e.Code != types.ErrTryAgainLater {
					t.Fatalf("exit %d, error %+v; want %q", o.exit, e, want)
				}
				if d.Result != "failed" || d.Error != want {
					t.Fatalf("decision %+v", d)
				}
			})
		}
	}
}

func TestNoZtunnelAndNoAPIFailsClosed(t *testing.T) {
	needAPI(t)
	netns := newNetns(t)
	// A port where nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := "https://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name, kubeconfig, apiError string
	}{
		{"API server unreachable", kubeconfigFor(t, "ztunnel", closedPort), "connection refused"},
		{"token without permission", kubeconfigFor(t, "nobody", apiConfig.Host), "403 Forbidden"},
		{"kubeconfig missing", filepath.Join(t.TempDir(), "absent.kubeconfig"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := pluginConf(t, absentSocket(t), map[string]any{"kubeconfig": tc.kubeconfig})
			// Even a pod that is in fact not enrolled is held back: nobody
			// can say so.
			o := run(t, call{command: "ADD", netns: netns, k8sArgs: podArgs("plain", "app"), conf: conf})
			e := o.err(t)
			if o.exit == 0 || !strings.Contains(e.Msg, "cannot tell whether pod plain/app is enrolled") ||
				!strings.Contains(e.Msg, tc.apiError) || !strings.Contains(e.Msg, "fail closed") {
				t.Fatalf("exit %d, error %+v; want fail closed naming %q", o.exit, e, tc.apiError)
			}
			// Excluded namespaces still start, so the node can come up.
			if o := run(t, call{command: "ADD", netns: netns, k8sArgs: podArgs("kube-system", "coredns"), conf: conf}); o.exit != 0 {
				t.Fatalf("an excluded pod was held back: %s", o.stdout)
			}
		})
	}
}
