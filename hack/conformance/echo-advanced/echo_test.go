package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"sigs.k8s.io/gateway-api/conformance/utils/echo"
)

// The client's output must parse with the conformance suite's own parser
// (sigs.k8s.io/gateway-api/conformance/utils/echo), exactly as the suite
// reads it after `kubectl exec ... client URL ...`.

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := runClient(args, &out); err != nil {
		t.Fatalf("client %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// batch splits a --count output as the suite's RequestBatch does.
func batch(out string) []echo.Response {
	var rs []echo.Response
	for _, s := range strings.Split(out, "\n\n") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if r := echo.ParseResponse(s); r.Hostname != "" || r.Code != "" {
			rs = append(rs, r)
		}
	}
	return rs
}

func TestHTTPEchoParsesAsTheSuiteExpects(t *testing.T) {
	t.Setenv("HOSTNAME", "echo-v1-7c9f-abcde")
	srv := httptest.NewServer(httpEcho{o: serverOptions{version: "v1"}, port: 8080})
	defer srv.Close()
	// The suite passes the URL first, then flags; Host goes in as a header.
	out := runOK(t, srv.URL+"/path?q=1", "--method=GET", "-H", "X-Header-Remove:value", "-H", "Host:echo-v1.gateway-conformance-mesh")
	r := echo.ParseResponse(out)
	if r.Code != "200" || r.Hostname != "echo-v1-7c9f-abcde" || r.Method != "GET" || r.URL != "/path?q=1" || r.Version != "v1" {
		t.Errorf("parsed %s", r)
	}
	if r.Host != "echo-v1.gateway-conformance-mesh" || r.RequestHeaders.Get("X-Header-Remove") != "value" {
		t.Errorf("request seen by the server: host %q, headers %v", r.Host, r.RequestHeaders)
	}
	if r.ResponseHeaders.Get("Content-Type") == "" {
		t.Errorf("response headers not reported: %v", r.ResponseHeaders)
	}

	rs := batch(runOK(t, srv.URL, "--count=5"))
	if len(rs) != 5 {
		t.Fatalf("--count=5 gave %d responses, want 5", len(rs))
	}
	for _, r := range rs {
		if r.Hostname != "echo-v1-7c9f-abcde" || r.Code != "200" {
			t.Errorf("batch response %s", r)
		}
	}
}

func TestClientReportsTheStatusNotTheRedirectTarget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://example.org:8083/port")
		w.Header().Set("X-Header-Set", "set")
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	r := echo.ParseResponse(runOK(t, srv.URL+"/port"))
	if r.Code != "302" || r.ResponseHeaders.Get("Location") != "http://example.org:8083/port" || r.ResponseHeaders.Get("X-Header-Set") != "set" {
		t.Errorf("parsed %s", r)
	}
}

func TestGRPCEchoParsesAsTheSuiteExpects(t *testing.T) {
	t.Setenv("HOSTNAME", "echo-v2-1-x")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(wireCodec{}))
	srv.RegisterService(&echoServiceDesc, grpcEcho{port: 7070})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	out := runOK(t, "grpc://"+ln.Addr().String(), "-H", "X-Tenant:blue", "--count=3")
	rs := batch(out)
	if len(rs) != 3 {
		t.Fatalf("got %d responses, want 3:\n%s", len(rs), out)
	}
	for _, r := range rs {
		if r.Code != "200" || r.Hostname != "echo-v2-1-x" || r.RequestHeaders.Get("X-Tenant") != "blue" || r.Protocol != "GRPC" {
			t.Errorf("parsed %s", r)
		}
	}
}

func TestClientFailsWhenNothingAnswers(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	if err := runClient([]string{"http://" + addr + "/", "--timeout=2s"}, &out); err == nil {
		t.Fatal("a refused connection must make the client fail (the suite retries on a failed exec)")
	}
}

func TestClientFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"http://a/", "--count=2", "-H", "k:v"}, true},
		{[]string{"--count=2", "http://a/"}, true},
		{[]string{"a"}, true}, // scheme defaults to http, as curl's
		{[]string{}, false},
		{[]string{"http://a/", "http://b/"}, false},
		{[]string{"http://a/", "-H", "novalue"}, false},
		{[]string{"http://a/", "--count=0"}, false},
	} {
		_, err := parseClientFlags(tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("%v: err = %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}

func TestServerFlagsOfTheMeshManifests(t *testing.T) {
	// The arguments the suite's mesh/manifests.yaml gives the image.
	o, err := parseServerFlags([]string{"--tcp=9090", "--port=8080", "--grpc=7070", "--port=8443", "--tls=8443", "--crt=/cert.crt", "--key=/cert.key"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.http) != 2 || o.http[1] != 8443 || len(o.grpc) != 1 || len(o.tcp) != 1 || len(o.tls) != 1 {
		t.Errorf("options %+v", o)
	}
	if _, err := serverTLS("/nonexistent.crt", "/nonexistent.key"); err != nil {
		t.Errorf("missing certificate files must give a self-signed certificate: %v", err)
	}
}
