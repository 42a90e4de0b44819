package capture

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
)

// addrRange is an inclusive address range of one family.
type addrRange struct{ first, last netip.Addr }

// mergePrefixes turns prefixes of one family into sorted, disjoint ranges
// (the kernel rejects overlapping intervals; nft merges them in userspace,
// so we do too).
func mergePrefixes(ps []netip.Prefix, v4 bool) []addrRange {
	var rs []addrRange
	for _, p := range ps {
		p = p.Masked()
		if !p.IsValid() || p.Addr().Is4() != v4 {
			continue
		}
		rs = append(rs, addrRange{p.Addr(), lastOf(p)})
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return a.first.Compare(b.first) })
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			// Overlapping or adjacent: extend.
			if next := prev.last.Next(); !next.IsValid() || r.first.Compare(next) <= 0 {
				if r.last.Compare(prev.last) > 0 {
					prev.last = r.last
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// lastOf is the highest address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// intervalElements encodes ranges for an interval set: a start element and
// an end element holding the first address past the range (none when the
// range reaches the top of the address space).
func intervalElements(rs []addrRange) []nftables.SetElement {
	var els []nftables.SetElement
	for _, r := range rs {
		els = append(els, nftables.SetElement{Key: r.first.AsSlice()})
		if end := r.last.Next(); end.IsValid() {
			els = append(els, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return els
}

// portElements encodes distinct ports (network byte order).
func portElements(ports []uint16) []nftables.SetElement {
	ps := slices.Clone(ports)
	slices.SortFunc(ps, cmp.Compare)
	ps = slices.Compact(ps)
	els := make([]nftables.SetElement, 0, len(ps))
	for _, p := range ps {
		els = append(els, nftables.SetElement{Key: binaryutil.BigEndian.PutUint16(p)})
	}
	return els
}
