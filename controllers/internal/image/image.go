// Package image resolves the proxy image of a Waypoint or ZtunnelConfig.
package image

import "strings"

// Resolve returns override when set; otherwise repo tagged with version. A
// repo that already carries a tag or digest (a pinned mirror) is used as is.
func Resolve(repo, override, version string) string {
	if override != "" {
		return override
	}
	if HasTagOrDigest(repo) || version == "" {
		return repo
	}
	return repo + ":" + version
}

// HasTagOrDigest reports whether ref names a tag or digest, not just a
// repository. A colon before the last slash is a registry port.
func HasTagOrDigest(ref string) bool {
	if strings.Contains(ref, "@") {
		return true
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	return strings.Contains(last, ":")
}
