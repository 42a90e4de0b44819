package cni

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// projectedToken lays out a token the way the kubelet projects it: the
// file is a symlink through ..data, which the kubelet swaps atomically.
func projectedToken(t *testing.T, dir, token string) string {
	t.Helper()
	gen := filepath.Join(dir, "..gen-"+token)
	writeFile(t, filepath.Join(gen, "token"), token+"\n")
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(gen), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "token")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink("..data/token", link); err != nil {
			t.Fatal(err)
		}
	}
	return link
}

func TestKubeconfigReachesTheAPIServer(t *testing.T) {
	var gotAuth string
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Write([]byte(`{}`))
	}))
	defer api.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})

	dir := t.TempDir()
	token := projectedToken(t, filepath.Join(dir, "sa"), "tok-1")
	path := filepath.Join(dir, "net.d", "wayfabric-cni.kubeconfig")
	if err := WriteKubeconfig(path, api.URL, caPEM, token); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig mode: %v %v", st, err)
	}

	access, err := ReadKubeconfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if access.Server != api.URL || access.Token != "tok-1" {
		t.Fatalf("read back %q %q", access.Server, access.Token)
	}
	// Real TLS: the written CA must verify the server.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: access.TLS}}
	req, _ := http.NewRequest("GET", access.Server+"/api", nil)
	req.Header.Set("Authorization", "Bearer "+access.Token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("TLS with the written CA: %v", err)
	}
	resp.Body.Close()
	if gotAuth != "Bearer tok-1" {
		t.Fatalf("server saw %q", gotAuth)
	}
}

func TestRefreshKubeconfigFollowsTokenRotation(t *testing.T) {
	dir := t.TempDir()
	sa := filepath.Join(dir, "sa")
	token := projectedToken(t, sa, "tok-1")
	path := filepath.Join(dir, "wayfabric-cni.kubeconfig")
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RefreshKubeconfig(ctx, path, "https://10.96.0.1:443", nil, token, logs.logger(t)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	tokenIs := func(want string) bool {
		a, err := ReadKubeconfig(path)
		return err == nil && a.Token == want
	}
	deadline := time.Now().Add(5 * time.Second)
	for !tokenIs("tok-1") {
		if time.Now().After(deadline) {
			t.Fatal("first kubeconfig not written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	projectedToken(t, sa, "tok-2")             // the kubelet rotates
	deadline = time.Now().Add(3 * time.Second) // well under the poll interval
	for !tokenIs("tok-2") {
		if time.Now().After(deadline) {
			t.Fatalf("rotated token not written; logs:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	writeFile(t, token, "tok")
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "\n")
	for _, tc := range []struct {
		name, server, tokenFile, ca, want string
	}{
		{"plain http", "http://api", token, "", "must be an https:// URL"},
		{"missing token", "https://api", filepath.Join(dir, "nope"), "", "reading the service account token"},
		{"empty token", "https://api", empty, "", "is empty"},
		{"bad CA", "https://api", token, "not pem", "holds no PEM certificate"},
	} {
		err := WriteKubeconfig(filepath.Join(dir, "kc"), tc.server, []byte(tc.ca), tc.tokenFile)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	yaml := filepath.Join(dir, "yaml")
	writeFile(t, yaml, "apiVersion: v1\nkind: Config\n")
	if _, err := ReadKubeconfig(yaml); err == nil || !strings.Contains(err.Error(), "JSON kubeconfigs only") {
		t.Errorf("YAML kubeconfig: %v", err)
	}
}
