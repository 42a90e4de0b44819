package routing

import (
	"net"
	"strconv"
	"strings"

	"github.com/wayfabric/wayfabric/proxy/internal/urlpath"
)

// prefixMatch implements PathPrefix: element-wise, trailing "/" of the
// prefix ignored, so "/abc" matches "/abc", "/abc/" and "/abc/d" but not "/abcd".
func prefixMatch(path, prefix string) bool {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		return true
	}
	if !strings.HasPrefix(path, p) {
		return false
	}
	return len(path) == len(p) || path[len(p)] == '/'
}

// NormalizePath removes dot segments and merges nothing else, keeping a
// trailing slash, so routing and the backend see the same path ("/a/../admin"
// must not match a "/a" prefix and then reach "/admin"). Input is the escaped path.
func NormalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	if !strings.Contains(p, ".") {
		return p
	}
	return urlpath.RemoveDotSegments(p)
}

// hostnameMatch implements HTTPRoute hostnames: exact, or "*." wildcard as a
// suffix match that needs at least one more label.
func hostnameMatch(hostnames []string, host string) bool {
	host = strings.ToLower(host)
	for _, h := range hostnames {
		if strings.HasPrefix(h, "*.") {
			if strings.HasSuffix(host, h[1:]) && len(host) > len(h)-1 {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

func stripPort(hostport string) string {
	if !strings.Contains(hostport, ":") {
		return hostport // no port; SplitHostPort would allocate an error to say so
	}
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// joinValues folds a repeated header into one comma-separated value (RFC 9110 §5.3).
func joinValues(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return strings.Join(v, ",")
}

func itoa(i int) string { return strconv.Itoa(i) }
