package capture

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestMergePrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name string
		in   []netip.Prefix
		v4   bool
		want string
	}{
		{"empty", nil, true, ""},
		{"one host", []netip.Prefix{p("10.0.0.1/32")}, true, "10.0.0.1-10.0.0.1"},
		{"unmasked prefix", []netip.Prefix{p("10.1.2.3/16")}, true, "10.1.0.0-10.1.255.255"},
		{"contained", []netip.Prefix{p("10.1.0.0/16"), p("10.0.0.0/8")}, true, "10.0.0.0-10.255.255.255"},
		{"adjacent", []netip.Prefix{p("10.0.0.0/25"), p("10.0.0.128/25")}, true, "10.0.0.0-10.0.0.255"},
		{"disjoint sorted", []netip.Prefix{p("192.168.0.0/16"), p("10.0.0.0/8")}, true, "10.0.0.0-10.255.255.255 192.168.0.0-192.168.255.255"},
		{"other family dropped", []netip.Prefix{p("10.0.0.0/8"), p("fd00::/8")}, false, "fd00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"everything", []netip.Prefix{p("0.0.0.0/0"), p("10.0.0.0/8")}, true, "0.0.0.0-255.255.255.255"},
		{"top of the space", []netip.Prefix{p("255.255.255.255/32"), p("255.255.255.254/32")}, true, "255.255.255.254-255.255.255.255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range mergePrefixes(tc.in, tc.v4) {
				got = append(got, fmt.Sprintf("%s-%s", r.first, r.last))
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestIntervalElements(t *testing.T) {
	els := intervalElements(mergePrefixes([]netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("255.255.255.0/24"),
	}, true))
	var got []string
	for _, e := range els {
		a, _ := netip.AddrFromSlice(e.Key)
		got = append(got, fmt.Sprintf("%s:%v", a, e.IntervalEnd))
	}
	// The end element is the first address after the range; a range that
	// reaches the top has none.
	if s, want := strings.Join(got, " "), "10.0.0.0:false 11.0.0.0:true 255.255.255.0:false"; s != want {
		t.Fatalf("got %q, want %q", s, want)
	}
}
