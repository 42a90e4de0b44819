package waypoint

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// balancer implements least-request with power of two choices: sample two
// endpoints at random, take the one with fewer requests in flight. Counters
// outlive routing tables, so a config swap does not reset the balance.
type balancer struct {
	mu   sync.RWMutex
	load map[netip.AddrPort]*atomic.Int64
}

func newBalancer() *balancer { return &balancer{load: map[netip.AddrPort]*atomic.Int64{}} }

func (b *balancer) counter(a netip.AddrPort) *atomic.Int64 {
	b.mu.RLock()
	c := b.load[a]
	b.mu.RUnlock()
	if c != nil {
		return c
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c = b.load[a]; c == nil {
		c = new(atomic.Int64)
		b.load[a] = c
	}
	return c
}

// pick chooses an endpoint and counts it in flight; call the returned
// release when the request to it is over. avoid (may be invalid) is skipped
// when there is another choice, so retries move to a different endpoint.
func (b *balancer) pick(eps []routing.Endpoint, avoid netip.AddrPort) (routing.Endpoint, func()) {
	ep, ctr := b.choose(eps, avoid)
	return ep, func() { ctr.Add(-1) }
}

// choose is pick without the release closure: the caller decrements the
// returned in-flight counter when the request is over.
func (b *balancer) choose(eps []routing.Endpoint, avoid netip.AddrPort) (routing.Endpoint, *atomic.Int64) {
	var ep routing.Endpoint
	switch n := len(eps); n {
	case 1:
		ep = eps[0]
	default:
		i := rand.IntN(n)
		j := rand.IntN(n - 1)
		if j >= i {
			j++
		}
		a, c := eps[i], eps[j]
		switch {
		case a.Addr == avoid:
			ep = c
		case c.Addr == avoid:
			ep = a
		case b.counter(c.Addr).Load() < b.counter(a.Addr).Load():
			ep = c
		default:
			ep = a
		}
	}
	ctr := b.counter(ep.Addr)
	ctr.Add(1)
	return ep, ctr
}
