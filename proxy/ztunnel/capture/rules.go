package capture

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table (family inet) Install owns in each pod
// namespace.
const TableName = "wayfabric"

var table = &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}

// Set names, as `nft list ruleset` shows them.
const (
	setExemptSrc4      = "exempt_src4"
	setExemptSrc6      = "exempt_src6"
	setExcludeInPorts  = "exclude_in_ports"
	setExcludeOutPorts = "exclude_out_ports"
	setExcludeOutDst4  = "exclude_out_dst4"
	setExcludeOutDst6  = "exclude_out_dst6"
	setReservedPorts   = "reserved_ports"
)

// Loopback destinations are never captured outbound (oif lo covers them
// too; the set says it explicitly).
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// queueTable appends to c's batch: (re)create our table from scratch with
// cfg. "add table; delete table; add table ..." in one batch makes the
// replacement atomic and needs no knowledge of what was there.
func queueTable(c *nftables.Conn, cfg Config) error {
	c.AddTable(table)
	c.DelTable(table)
	c.AddTable(table)

	sets := map[string]*nftables.Set{}
	addSet := func(name string, key nftables.SetDatatype, interval bool, els []nftables.SetElement) error {
		s := &nftables.Set{Table: table, Name: name, KeyType: key, Interval: interval}
		sets[name] = s
		return c.AddSet(s, els)
	}
	outDst := append(append([]netip.Prefix(nil), loopback...), cfg.ExcludeOutboundCIDRs...)
	for _, s := range []struct {
		name     string
		key      nftables.SetDatatype
		interval bool
		els      []nftables.SetElement
	}{
		{setExemptSrc4, nftables.TypeIPAddr, true, intervalElements(mergePrefixes(cfg.ExemptSources, true))},
		{setExemptSrc6, nftables.TypeIP6Addr, true, intervalElements(mergePrefixes(cfg.ExemptSources, false))},
		{setExcludeInPorts, nftables.TypeInetService, false, portElements(cfg.ExcludeInboundPorts)},
		{setExcludeOutPorts, nftables.TypeInetService, false, portElements(cfg.ExcludeOutboundPorts)},
		{setExcludeOutDst4, nftables.TypeIPAddr, true, intervalElements(mergePrefixes(outDst, true))},
		{setExcludeOutDst6, nftables.TypeIP6Addr, true, intervalElements(mergePrefixes(outDst, false))},
		{setReservedPorts, nftables.TypeInetService, false, portElements([]uint16{cfg.OutboundPort, cfg.InboundPort})},
	} {
		if err := addSet(s.name, s.key, s.interval, s.els); err != nil {
			return err
		}
	}
	in := func(name string) []expr.Any {
		return one(&expr.Lookup{SourceRegister: 1, SetName: name, SetID: sets[name].ID})
	}

	accept := nftables.ChainPolicyAccept
	chain := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: table, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept})
	}
	rule := func(ch *nftables.Chain, why string, exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: all,
			UserData: userdata.AppendString(nil, userdata.TypeComment, why)})
	}

	// Inbound: new connections arriving from the network.
	pre := chain("prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	rule(pre, "pod-local traffic", ifname(expr.MetaKeyIIFNAME, "lo"), ret())
	rule(pre, "only TCP is captured", notTCP(), ret())
	rule(pre, "HBONE: ztunnel serves it directly", tcpDport(cfg.HBONEPort), ret())
	rule(pre, "capture ports: not redirected, so that input rejects them", isTCP(), dport(), in(setReservedPorts), ret())
	rule(pre, "node traffic (kubelet probes)", addrField(unix.NFPROTO_IPV4, srcAddr), in(setExemptSrc4), ret())
	rule(pre, "node traffic (kubelet probes)", addrField(unix.NFPROTO_IPV6, srcAddr), in(setExemptSrc6), ret())
	rule(pre, "excluded inbound ports", isTCP(), dport(), in(setExcludeInPorts), ret())
	rule(pre, "captured inbound plaintext", isTCP(), redirect(cfg.InboundPort))

	// Outbound: new connections the pod opens.
	out := chain("output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	rule(out, "ztunnel's own sockets", markIs(cfg.BypassMark), ret())
	rule(out, "ztunnel's transparent connections to the application", markIs(cfg.TransparentMark), ret())
	rule(out, "pod-local traffic, also to the pod's own address", ifname(expr.MetaKeyOIFNAME, "lo"), ret())
	rule(out, "only TCP is captured", notTCP(), ret())
	rule(out, "excluded outbound destinations", addrField(unix.NFPROTO_IPV4, dstAddr), in(setExcludeOutDst4), ret())
	rule(out, "excluded outbound destinations", addrField(unix.NFPROTO_IPV6, dstAddr), in(setExcludeOutDst6), ret())
	rule(out, "excluded outbound ports", isTCP(), dport(), in(setExcludeOutPorts), ret())
	rule(out, "captured outbound", isTCP(), redirect(cfg.OutboundPort))

	// Replies of the application to ztunnel's transparent connections:
	// route them back to ztunnel's socket (lo), not out of the pod.
	route := chain("route_output", nftables.ChainTypeRoute, nftables.ChainHookOutput, nftables.ChainPriorityMangle)
	rule(route, "remember ztunnel's transparent connections", markIs(cfg.TransparentMark), ctMarkSet(cfg.TransparentMark))
	rule(route, "their replies follow the transparent-mark route", ctMarkIs(cfg.TransparentMark), markSet(cfg.TransparentMark))

	// Nothing from outside may reach ztunnel's capture listeners directly.
	input := chain("input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter)
	rule(input, "pod-local traffic", ifname(expr.MetaKeyIIFNAME, "lo"), ret())
	rule(input, "capture ports are not reachable from outside", isTCP(), dport(), in(setReservedPorts), notDNATed(), reject())
	return nil
}

const (
	srcAddr = iota
	dstAddr
)

func one(e expr.Any) []expr.Any { return []expr.Any{e} }

func ret() []expr.Any { return one(&expr.Verdict{Kind: expr.VerdictReturn}) }

func ifname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

func l4proto(op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

func isTCP() []expr.Any  { return l4proto(expr.CmpOpEq) }
func notTCP() []expr.Any { return l4proto(expr.CmpOpNeq) }

// dport loads the TCP destination port into register 1.
func dport() []expr.Any {
	return one(&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
}

func tcpDport(p uint16) []expr.Any {
	return append(append(isTCP(), dport()...), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)})
}

// notDNATed matches packets of connections no NAT rule redirected: their
// destination is the one the sender chose.
func notDNATed() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: make([]byte, 4)},
	}
}

// ipsDstNAT is IPS_DST_NAT of enum ip_conntrack_status.
const ipsDstNAT = 1 << 5

// addrField loads the source or destination address of an IPv4 or IPv6
// packet into register 1 (and does not match other families).
func addrField(family byte, which int) []expr.Any {
	off, n := uint32(12), uint32(4) // IPv4 saddr
	if family == unix.NFPROTO_IPV6 {
		off, n = 8, 16
	}
	if which == dstAddr {
		off += n
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
	}
}

func markIs(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(m)},
	}
}

func ctMarkIs(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(m)},
	}
}

func ctMarkSet(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(m)},
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true},
	}
}

func markSet(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(m)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1, SourceRegister: true},
	}
}

// redirect rewrites the destination to the local address (prerouting: the
// incoming interface's primary address; output: loopback) and port p.
func redirect(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
		&expr.Redir{RegisterProtoMin: 1, Flags: unix.NF_NAT_RANGE_PROTO_SPECIFIED},
	}
}

func reject() []expr.Any {
	return one(&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
}
