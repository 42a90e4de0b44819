package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/waypoint/config/configtest"
)

var binPath string

// TestMain compiles the real binary once for all tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "waypoint-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "waypoint")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildWaypoint(*testing.T) string { return binPath }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestVersionAndFlagValidation(t *testing.T) {
	bin := buildWaypoint(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "waypoint v") {
		t.Fatalf("--version: %q %v", out, err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing identity", []string{"--hbone-addr="}, "--namespace and --waypoint-name are required"},
		{"hbone without CA", []string{"--namespace=a", "--waypoint-name=w"}, "--ca-url is required"},
		{"bad plaintext listener", []string{"--plaintext-listener=nonsense"}, "LISTEN=DESTINATION"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := exec.Command(bin, tc.args...)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("err=%v stderr=%q, want it to mention %q", err, stderr.String(), tc.want)
			}
		})
	}
}

// TestProcessServesAndDrainsOnSIGTERM runs the binary with a static config
// and checks the port contracts and the SIGTERM sequence on a real process.
func TestProcessServesAndDrainsOnSIGTERM(t *testing.T) {
	bin := buildWaypoint(t)
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d)
		}
		fmt.Fprint(w, "backend:"+r.URL.Path)
	})}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = backend.Serve(bl) }()
	defer backend.Close()
	cfg := configtest.WriteOneService(t, bl.Addr().(*net.TCPAddr).Port)
	data, stats, ready := freeAddr(t), freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "--namespace=app", "--waypoint-name=wp", "--hbone-addr=", "--static-config="+cfg,
		"--stats-addr="+stats, "--ready-addr="+ready, "--plaintext-listener="+data+"=10.96.0.10:80",
		"--drain-seconds=4", "--drain-accept-seconds=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get("http://" + ready + "/healthz/ready"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get("http://" + data + "/hello"); code != 200 || body != "backend:/hello" {
		t.Fatalf("proxied request: %d %q", code, body)
	}
	// The request is recorded just after its response is written: poll.
	var rep struct {
		Requests struct{ Total int64 } `json:"requests"`
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := get("http://" + stats + "/load")
		if code == 200 && json.Unmarshal([]byte(body), &rep) == nil && rep.Requests.Total == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/load: %d %q", code, body)
		}
	}
	if code, body := get("http://" + stats + "/metrics"); code != 200 || !strings.Contains(body, `wayfabric_waypoint_requests_total{code="2xx",route="default",service="app/web"} 1`) {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}

	// A slow request is in flight when SIGTERM arrives; it must complete.
	slow := make(chan string, 1)
	go func() {
		code, body := get("http://" + data + "/slow?sleep=1500ms")
		slow <- fmt.Sprint(code, " ", body)
	}()
	time.Sleep(200 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		if code, _ := get("http://" + ready + "/healthz/ready"); code == http.StatusServiceUnavailable {
			break
		}
		if time.Since(sent) > time.Second {
			t.Fatal("readiness did not fail within 1s of SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := <-slow; got != "200 backend:/slow" {
		t.Errorf("in-flight request during drain: %q", got)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
		if took := time.Since(sent); took > 4*time.Second {
			t.Errorf("exited after %v, want before --drain-seconds=4", took)
		}
	case <-time.After(6 * time.Second):
		t.Fatalf("did not exit; stderr:\n%s", stderr.String())
	}
}

func TestSetGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	t.Setenv("GOGC", "")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Fatalf("GOGC unset: GC percent %d, want %d", got, defaultGCPercent)
	}
	t.Setenv("GOGC", "100")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC=100 set: GC percent %d, want it left alone", got)
	}
}
