package identity

import (
	"net/url"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		wantErr string
	}{
		{in: "spiffe://cluster.local/ns/default/sa/web", want: ID{"cluster.local", "default", "web"}},
		{in: "spiffe://td/ns/a-b/sa/x.y", want: ID{"td", "a-b", "x.y"}},
		{in: "http://cluster.local/ns/default/sa/web", wantErr: "must start with"},
		{in: "spiffe://cluster.local", wantErr: "missing path"},
		{in: "spiffe://cluster.local/ns/default", wantErr: "path must be"},
		{in: "spiffe://cluster.local/ns/default/sa/web/extra", wantErr: "path must be"},
		{in: "spiffe://cluster.local/sa/web/ns/default", wantErr: "path must be"},
		{in: "spiffe://Cluster.Local/ns/default/sa/web", wantErr: "lower-case"},
		{in: "spiffe://cluster.local:8080/ns/default/sa/web", wantErr: "trust domain"},
		{in: "spiffe:///ns/default/sa/web", wantErr: "trust domain is empty"},
		{in: "spiffe://cluster.local/ns//sa/web", wantErr: "namespace is empty"},
		{in: "spiffe://cluster.local/ns/default/sa/Web", wantErr: "service account"},
		{in: "spiffe://cluster.local/ns/default/sa/web?x=1", wantErr: "query"},
		{in: "spiffe://cluster.local/ns/de%66ault/sa/web", wantErr: "percent"},
		{in: "spiffe://cluster.local/ns/-bad/sa/web", wantErr: "namespace"},
		{in: "spiffe://user@cluster.local/ns/a/sa/b", wantErr: "trust domain"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in || got.URL().String() != tt.in {
				t.Errorf("round trip: String %q URL %q, want %q", got.String(), got.URL(), tt.in)
			}
		})
	}
}

func TestFromURIs(t *testing.T) {
	a, _ := url.Parse("spiffe://td/ns/a/sa/b")
	b, _ := url.Parse("spiffe://td/ns/c/sa/d")
	other, _ := url.Parse("https://example.com")
	if _, err := fromURIs(nil); err == nil {
		t.Error("no URI accepted")
	}
	if _, err := fromURIs([]*url.URL{a, b}); err == nil {
		t.Error("two SPIFFE IDs accepted")
	}
	if id, err := fromURIs([]*url.URL{other, a}); err != nil || id.String() != a.String() {
		t.Errorf("got %v, %v", id, err)
	}
}
