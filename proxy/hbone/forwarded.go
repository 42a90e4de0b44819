package hbone

import (
	"fmt"
	"net/netip"
	"strings"
)

// FormatForwarded renders the RFC 7239 Forwarded value naming the original
// source; addresses with a port (and all IPv6) are quoted as required.
func FormatForwarded(src netip.AddrPort) string {
	if src.Port() == 0 {
		if src.Addr().Is6() {
			return `for="[` + src.Addr().String() + `]"`
		}
		return "for=" + src.Addr().String()
	}
	return `for="` + src.String() + `"`
}

// ParseForwarded returns the for= source of the first element of a
// Forwarded header. A missing port yields port 0.
func ParseForwarded(v string) (netip.AddrPort, error) {
	first, _, _ := strings.Cut(v, ",")
	for pair := range strings.SplitSeq(first, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(k, "for") {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if ap, err := netip.ParseAddrPort(val); err == nil {
			return ap, nil
		}
		if strings.HasPrefix(val, "[") && strings.HasSuffix(val, "]") {
			val = val[1 : len(val)-1]
		}
		a, err := netip.ParseAddr(val)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("forwarded for=%q: not an IP address", val)
		}
		return netip.AddrPortFrom(a, 0), nil
	}
	return netip.AddrPort{}, fmt.Errorf("forwarded %q: no for= parameter", v)
}
