//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// run executes a command from the repository root and returns its stdout.
func run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KUBECACHEDIR="+kubeCacheDir, "GOWORK=off")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// kubectl runs kubectl against the local cluster.
func kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return run(ctx, "", kubectlPath, args...)
}

// mustKubectl runs kubectl and fails the spec on error.
func mustKubectl(args ...string) string {
	GinkgoHelper()
	out, err := kubectl(args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// apply applies manifests (YAML or JSON) server-side.
func apply(manifests string, extra ...string) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"apply", "--server-side", "--force-conflicts", "--field-manager=wayfabric-e2e", "-f", "-"}, extra...)
	_, err := run(ctx, manifests, kubectlPath, args...)
	Expect(err).NotTo(HaveOccurred())
}

// getJSON decodes `kubectl get ... -o json` into obj.
func getJSON(obj any, args ...string) error {
	out, err := kubectl(append([]string{"get", "-o", "json"}, args...)...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), obj)
}

// jsonpath returns `kubectl get ... -o jsonpath=EXPR`, empty on error.
func jsonpath(expr string, args ...string) string {
	out, _ := kubectl(append([]string{"get", "-o", "jsonpath=" + expr}, args...)...)
	return strings.TrimSpace(out)
}

// figure prints one measured figure of a scenario, in a form easy to grep
// from the test output ("FIGURE <scenario>: name=value ...").
func figure(scenario string, kv ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, "FIGURE %s:", scenario)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	GinkgoWriter.Println(b.String())
	AddReportEntry(scenario, b.String())
	fmt.Fprintln(os.Stderr, b.String())
}

// testPod is a one-shot pod of the echo image on the real node with this
// namespace's trust bundle and a projected token for the mesh CA.
func testPod(ns, name string, args ...string) *corev1.Pod {
	fsel := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	nonRoot, uid, exp := true, int64(65532), int64(3600)
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "e2e-client"}},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: "echo",
			NodeSelector:       map[string]string{corev1.LabelHostname: nodeName},
			SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot, RunAsUser: &uid},
			Containers: []corev1.Container{{
				Name: "client", Image: echoImage, ImagePullPolicy: corev1.PullNever, Args: args,
				Env: []corev1.EnvVar{
					{Name: "POD_NAMESPACE", ValueFrom: fsel("metadata.namespace")},
					{Name: "SERVICE_ACCOUNT", ValueFrom: fsel("spec.serviceAccountName")},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "token", MountPath: "/var/run/secrets/tokens", ReadOnly: true},
					{Name: "bundle", MountPath: "/var/run/secrets/wayfabric", ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
						Audience: "wayfabric", ExpirationSeconds: &exp, Path: "token"}}}}}},
				{Name: "bundle", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "wayfabric-trust-bundle"}}}},
			},
		},
	}
}

// runPod runs pod to completion and returns its logs.
func runPod(pod *corev1.Pod, timeout time.Duration) string {
	GinkgoHelper()
	startPod(pod)
	return waitPod(pod, timeout)
}

// startPod (re)creates pod without waiting for it.
func startPod(pod *corev1.Pod) {
	GinkgoHelper()
	b, err := json.Marshal(pod)
	Expect(err).NotTo(HaveOccurred())
	_, _ = kubectl("-n", pod.Namespace, "delete", "pod", pod.Name, "--ignore-not-found", "--wait=true")
	apply(string(b))
}

// waitPod waits for pod to finish and returns its logs; it fails the spec
// if the pod failed.
func waitPod(pod *corev1.Pod, timeout time.Duration) string {
	GinkgoHelper()
	var phase string
	Eventually(func() string {
		phase = jsonpath("{.status.phase}", "-n", pod.Namespace, "pod", pod.Name)
		return phase
	}).WithTimeout(timeout).WithPolling(time.Second).Should(BeElementOf("Succeeded", "Failed"),
		"pod %s/%s did not finish", pod.Namespace, pod.Name)
	logs := mustKubectl("-n", pod.Namespace, "logs", pod.Name)
	Expect(phase).To(Equal("Succeeded"), "pod %s/%s failed: %s", pod.Namespace, pod.Name, logs)
	return logs
}

// loadSummary is the SUMMARY line of `echo load` (hack/e2e/echo).
type loadSummary struct {
	Mode        string         `json:"mode"`
	Start       time.Time      `json:"start"`
	URL         string         `json:"url"`
	RPS         int            `json:"rps"`
	DurationS   float64        `json:"durationSeconds"`
	Sent        int            `json:"sent"`
	Failed      int            `json:"failed"`
	Dropped     int            `json:"dropped"`
	P50Ms       float64        `json:"p50Ms"`
	P99Ms       float64        `json:"p99Ms"`
	MaxMs       float64        `json:"maxMs"`
	ByPod       map[string]int `json:"byPod"`
	ErrorSample []string       `json:"errorSample"`
}

func parseSummary(logs string) loadSummary {
	GinkgoHelper()
	for _, l := range strings.Split(logs, "\n") {
		if rest, ok := strings.CutPrefix(l, "SUMMARY "); ok {
			var s loadSummary
			Expect(json.Unmarshal([]byte(rest), &s)).To(Succeed())
			return s
		}
	}
	Fail("no SUMMARY line in the load pod's logs:\n" + logs)
	return loadSummary{}
}

// loadArgs is the command line of a load pod; hbone routes it through the
// HBONE endpoint proxy (ip:port) whose identity is peer.
func loadArgs(url string, rps int, d time.Duration, hbone, peer string) []string {
	args := []string{"load", "-url=" + url, fmt.Sprintf("-rps=%d", rps), "-duration=" + d.String()}
	if hbone != "" {
		args = append(args, "-hbone-proxy="+hbone, "-peer-identity="+peer,
			"-ca-url="+caURL)
	}
	return args
}

// caURL is the mesh CA by its Service name, as the operator hands it to
// waypoints: test pods resolve it through the cluster DNS.
const caURL = "https://wayfabric-ca." + operatorNS + ".svc:15012"

// waitRollout waits for `kubectl rollout status`.
func waitRollout(ns, obj string, timeout time.Duration) {
	GinkgoHelper()
	mustKubectl("-n", ns, "rollout", "status", obj, "--timeout="+timeout.String())
}

// applyZtunnelSample applies config/samples' ZtunnelConfig with spec.cni set
// to the local cluster's CNI dirs, as make run does, and returns its name.
func applyZtunnelSample() string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "samples", "mesh_v1alpha1_ztunnelconfig.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var zc map[string]any
	Expect(yaml.Unmarshal(raw, &zc)).To(Succeed())
	spec, _ := zc["spec"].(map[string]any)
	Expect(spec).NotTo(BeNil())
	spec["cni"] = map[string]any{"binDir": filepath.Join(clusterDir, "run", "cni", "bin"), "confDir": filepath.Join(clusterDir, "run", "cni", "net.d")}
	out, err := yaml.Marshal(zc)
	Expect(err).NotTo(HaveOccurred())
	apply(string(out))
	return zc["metadata"].(map[string]any)["name"].(string)
}
