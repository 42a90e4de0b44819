package authz

import (
	"strings"

	"github.com/wayfabric/wayfabric/proxy/internal/urlpath"
)

// NormalizePath is the path policies see, as Istio's default (BASE)
// normalisation makes it: percent-encoded unreserved characters decoded
// ("/%61dmin" is "/admin"), other escapes upper-cased, dot segments
// removed after decoding ("/a/%2e%2e/admin" is "/admin"). Encoded slashes
// and backslashes stay encoded. A path needing none of it is returned as
// is, without allocating.
func NormalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.ContainsAny(p, "%.") {
		if p[0] != '/' {
			return "/" + p
		}
		return p
	}
	if strings.IndexByte(p, '%') >= 0 {
		p = decodeUnreserved(p)
	}
	return urlpath.RemoveDotSegments(p)
}

func decodeUnreserved(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(p[i+1]))
			b.WriteByte(upperHex(p[i+2]))
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
