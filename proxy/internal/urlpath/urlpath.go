// Package urlpath holds path normalisation shared by routing and
// authorization, so both see "/a/../admin" as "/admin".
package urlpath

import "strings"

// RemoveDotSegments implements RFC 3986 §5.2.4 on an absolute path ("/" is
// added when missing), keeping a trailing slash: "/a/./b/../c/" is "/a/c/".
func RemoveDotSegments(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
