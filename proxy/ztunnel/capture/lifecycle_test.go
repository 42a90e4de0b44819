package capture_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/capture"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netnstest"
)

// routesIn counts the IPv4 and IPv6 routes in a routing table of ns.
func routesIn(t *testing.T, ns *netns.NS, table int) int {
	t.Helper()
	h, err := ns.NetlinkHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	return len(routes)
}

func installed(t *testing.T, ns *netns.NS) bool {
	t.Helper()
	ok, err := capture.Installed(ns)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestInstallLifecycle: Install is idempotent, converges on a changed
// Config, refuses a bad one without touching what runs, and Remove restores
// plain networking.
func TestInstallLifecycle(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 2})
	client, server := topo.Pods[0], topo.Pods[1]
	serve(t, server.NS, anyAddr(8080), "app", false)
	serve(t, server.NS, anyAddr(9090), "app9090", false)
	serve(t, client.NS, netip.MustParseAddrPort("127.0.0.1:15001"), "outbound", true)
	cfg := testConfig(topo)
	captured := fmt.Sprintf("outbound %s %s", client.Addr, server.AddrPort(8080))
	direct := fmt.Sprintf("app %s -", client.Addr)

	if installed(t, client.NS) {
		t.Fatal("Installed before Install")
	}
	empty := dump(t, client.NS)
	if !strings.HasPrefix(empty, "no table\n") || strings.Contains(empty, "fwmark") {
		t.Fatalf("fresh namespace dump:\n%s", empty)
	}

	install(t, client.NS, cfg)
	first := dump(t, client.NS)
	if !installed(t, client.NS) {
		t.Fatal("not Installed after Install")
	}
	if n := routesIn(t, client.NS, cfg.RouteTable); n != 2 {
		t.Fatalf("%d routes in table %d, want local default v4 and v6", n, cfg.RouteTable)
	}
	for _, want := range []string{"chain prerouting", "chain output", "chain route_output", "chain input", "fwmark 0x53a lookup 1338"} {
		if !strings.Contains(first, want) {
			t.Fatalf("dump lacks %q:\n%s", want, first)
		}
	}
	if got := ask(t, client.NS, server.AddrPort(8080), netns.DialOptions{}); got != captured {
		t.Fatalf("after Install: got %q, want %q", got, captured)
	}

	t.Run("twice gives the same ruleset", func(t *testing.T) {
		install(t, client.NS, cfg)
		if again := dump(t, client.NS); again != first {
			t.Fatalf("second Install changed the namespace:\n%s\nvs\n%s", first, again)
		}
	})

	t.Run("a changed config converges", func(t *testing.T) {
		changed := cfg
		changed.ExcludeOutboundPorts = []uint16{9090}
		changed.TransparentMark, changed.RouteTable, changed.RulePriority = 0x77, 77, 77
		install(t, client.NS, changed)
		d, err := capture.Dump(client.NS, 0x77)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(d, "fwmark 0x77 lookup 77") || strings.Count(d, "fwmark") != 2 {
			t.Fatalf("changed config dump:\n%s", d)
		}
		if old := dump(t, client.NS); strings.Contains(old, "fwmark") || routesIn(t, client.NS, cfg.RouteTable) != 0 {
			t.Fatalf("the old mark's policy routing is left over:\n%s", old)
		}
		if got, want := ask(t, client.NS, server.AddrPort(9090), netns.DialOptions{}), fmt.Sprintf("app9090 %s -", client.Addr); got != want {
			t.Fatalf("newly excluded port: got %q, want %q", got, want)
		}
		install(t, client.NS, cfg)
		if back := dump(t, client.NS); back != first {
			t.Fatalf("going back to the first config:\n%s\nvs\n%s", first, back)
		}
	})

	t.Run("a bad config changes nothing", func(t *testing.T) {
		bad := cfg
		bad.InboundPort = bad.OutboundPort
		bad.RouteTable = 254
		err := capture.Install(client.NS, bad)
		if err == nil || !strings.Contains(err.Error(), "must differ") || !strings.Contains(err.Error(), "routeTable 254") {
			t.Fatalf("Install(bad) = %v, want an error naming both problems", err)
		}
		if d := dump(t, client.NS); d != first {
			t.Fatalf("a refused config changed the namespace:\n%s", d)
		}
	})

	t.Run("remove restores plain networking", func(t *testing.T) {
		if err := capture.Remove(client.NS); err != nil {
			t.Fatal(err)
		}
		if installed(t, client.NS) {
			t.Fatal("Installed after Remove")
		}
		if d := dump(t, client.NS); d != empty || routesIn(t, client.NS, cfg.RouteTable) != 0 {
			t.Fatalf("after Remove:\n%s\nwant\n%s", d, empty)
		}
		if got := ask(t, client.NS, server.AddrPort(8080), netns.DialOptions{}); got != direct {
			t.Fatalf("after Remove: got %q, want %q", got, direct)
		}
		if err := capture.Remove(client.NS); err != nil {
			t.Fatalf("Remove when nothing is installed: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*capture.Config)
		want   string // "" = valid
	}{
		{"default", func(*capture.Config) {}, ""},
		{"exemptions and exclusions", func(c *capture.Config) {
			c.ExemptSources = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
			c.ExcludeInboundPorts, c.ExcludeOutboundPorts = []uint16{22}, []uint16{53}
		}, ""},
		{"missing port", func(c *capture.Config) { c.HBONEPort = 0 }, "must be set"},
		{"same ports", func(c *capture.Config) { c.InboundPort = c.HBONEPort }, "must differ"},
		{"same marks", func(c *capture.Config) { c.BypassMark = c.TransparentMark }, "bypassMark and transparentMark"},
		{"zero mark", func(c *capture.Config) { c.TransparentMark = 0 }, "bypassMark and transparentMark"},
		{"main table", func(c *capture.Config) { c.RouteTable = 254 }, "routeTable 254"},
		{"rule after main", func(c *capture.Config) { c.RulePriority = 32766 }, "rulePriority 32766"},
		{"invalid prefix", func(c *capture.Config) { c.ExemptSources = []netip.Prefix{{}} }, "invalid prefix"},
		{"excluding a capture port", func(c *capture.Config) { c.ExcludeInboundPorts = []uint16{15006} }, "capture ports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := capture.DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestIPv6DisabledPod: a pod with IPv6 switched off by sysctl (some
// clusters do that) is captured over IPv4; only the IPv6 route is skipped.
func TestIPv6DisabledPod(t *testing.T) {
	topo := netnstest.New(t, netnstest.Options{Pods: 2, NoIPv6: true})
	client, server := topo.Pods[0], topo.Pods[1]
	for _, k := range []string{"all", "default", "lo", "eth0"} {
		if err := client.Sysctl("net/ipv6/conf/"+k+"/disable_ipv6", "1"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := capture.DefaultConfig()
	cfg.ExemptSources = []netip.Prefix{netip.PrefixFrom(topo.Gateway, 32)}
	install(t, client.NS, cfg)
	serve(t, client.NS, netip.MustParseAddrPort("127.0.0.1:15001"), "outbound", true)
	if got, want := ask(t, client.NS, server.AddrPort(8080), netns.DialOptions{}), fmt.Sprintf("outbound %s %s", client.Addr, server.AddrPort(8080)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if d := dump(t, client.NS); strings.Count(d, "fwmark") != 1 {
		t.Fatalf("want the IPv4 rule only:\n%s", d)
	}
	if err := capture.Remove(client.NS); err != nil {
		t.Fatal(err)
	}
	if installed(t, client.NS) {
		t.Fatal("Installed after Remove")
	}
}
