package authz

import (
	"strings"
	"testing"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

func TestPatternOnJoinedValues(t *testing.T) {
	cases := []struct {
		pattern string
		fold    bool
		parts   []string
		sep     string
		want    bool
	}{
		{"abc", false, []string{"abc"}, "", true},
		{"abc", false, []string{"ab", "c"}, "", true},
		{"abc", false, []string{"ab", "cd"}, "", false},
		{"a,b", false, []string{"a", "b"}, ",", true},
		{"a,b*", false, []string{"a", "bc", "d"}, ",", true},
		{"*c,d", false, []string{"a", "bc", "d"}, ",", true},
		{"*b,c", false, []string{"a", "bc", "d"}, ",", false},
		{"ab*", false, []string{"a", "b"}, ",", false},
		{"*", false, []string{"", ""}, "", false},
		{"*", false, []string{"", "x"}, "", true},
		{"ABC*", true, []string{"ab", "cdef"}, "", true},
		{"*EF", true, []string{"ab", "cdef"}, "", true},
		{"abcdefg", false, []string{"ab", "cdef"}, "", false},
		{"*xabcdef", false, []string{"ab", "cdef"}, "", false},
	}
	for _, tc := range cases {
		p, err := compilePattern(tc.pattern, tc.fold)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.matchParts(joined{parts: tc.parts, sep: tc.sep}); got != tc.want {
			t.Errorf("%q on %q (sep %q) = %v, want %v", tc.pattern, tc.parts, tc.sep, got, tc.want)
		}
		// The same as matching the concatenation.
		if got := p.match(strings.Join(tc.parts, tc.sep)); got != tc.want {
			t.Errorf("%q on joined %q = %v, want %v", tc.pattern, strings.Join(tc.parts, tc.sep), got, tc.want)
		}
	}
}

func TestPrincipalForms(t *testing.T) {
	id := identity.MustParse("spiffe://cluster.local/ns/app/sa/client")
	cases := map[string]bool{
		"cluster.local/ns/app/sa/client":           true,
		"spiffe://cluster.local/ns/app/sa/client":  true,
		"ns/app/sa/client":                         true,
		"ns/app/sa/*":                              true,
		"ns/app/*":                                 true,
		"*/ns/app/sa/client":                       true,
		"*/sa/client":                              true,
		"cluster.local/*":                          true,
		"*":                                        true,
		"other.td/ns/app/sa/client":                false,
		"cluster.local/ns/app/sa/clien":            false,
		"cluster.local/ns/app/sa/client2":          false,
		"ns/app/sa/other":                          false,
		"ns/cluster.local/ns/app/sa/client":        false,
		"spiffe://cluster.local/ns/app/sa/client/": false,
	}
	for v, want := range cases {
		p, err := compilePrincipal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.matches(&id); got != want {
			t.Errorf("principal %q on %s = %v, want %v", v, id, got, want)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	cases := map[string]string{
		"":                     "/",
		"/":                    "/",
		"/a/b":                 "/a/b",
		"a":                    "/a",
		"/a/./b":               "/a/b",
		"/a/../b":              "/b",
		"/../../b":             "/b",
		"/a/b/..":              "/a/",
		"/a/.":                 "/a/",
		"/%61dmin":             "/admin",
		"/%2E%2e/admin":        "/admin",
		"/a/%2e%2E/b":          "/b",
		"/a%2fb":               "/a%2Fb",
		"/a%5cb":               "/a%5Cb",
		"/%7e%2D%5F%30":        "/~-_0",
		"/100%":                "/100%",
		"/%zz":                 "/%zz",
		"/file.txt":            "/file.txt",
		"/a/b.c/../d":          "/a/d",
		"/api/v1.2/users/../x": "/api/v1.2/x",
	}
	for in, want := range cases {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}
