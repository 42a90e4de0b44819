package collector

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// cpuMark is a pod's CPU counter at one report.
type cpuMark struct {
	seconds float64
	at      time.Time
}

// cpuRates turns each pod's cumulative CPU counter into a usage rate
// between two reports. State is per Waypoint and pruned to the pods seen in
// the last round, so it stays as small as the fleet.
type cpuRates struct {
	mu    sync.Mutex
	marks map[types.NamespacedName]map[types.UID]cpuMark
}

// observe records the counters of one round and returns each pod's rate in
// cores (absent when the pod has no earlier report or its counter went back,
// i.e. the process restarted).
func (c *cpuRates) observe(wp types.NamespacedName, now map[types.UID]cpuMark) map[types.UID]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.marks == nil {
		c.marks = map[types.NamespacedName]map[types.UID]cpuMark{}
	}
	prev := c.marks[wp]
	rates := make(map[types.UID]float64, len(now))
	for uid, m := range now {
		p, ok := prev[uid]
		if !ok {
			continue
		}
		dt := m.at.Sub(p.at).Seconds()
		if d := m.seconds - p.seconds; dt > 0 && d >= 0 {
			rates[uid] = d / dt
		}
	}
	c.marks[wp] = now
	return rates
}

func (c *cpuRates) forget(wp types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.marks, wp)
}
