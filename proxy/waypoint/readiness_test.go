package waypoint

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadinessChecks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checks     []func() error
		wantStatus int
		wantBody   string
	}{
		{"no extra checks", nil, http.StatusOK, "ready"},
		{"passing check", []func() error{func() error { return nil }}, http.StatusOK, "ready"},
		{"failing check names its cause", []func() error{
			func() error { return nil },
			func() error { return errors.New("no workload certificate yet: ca unreachable") },
		}, http.StatusServiceUnavailable, "no workload certificate yet: ca unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, newWorld(), Config{ReadinessChecks: tc.checks})
			srv := httptest.NewServer(p.ReadyHandler())
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/healthz/ready")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}
