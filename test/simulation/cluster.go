package simulation

import "time"

// cluster models a Deployment: pods become ready ReadyDelay after they are
// created; a scale-down removes not-ready pods first, then the newest, as
// a ReplicaSet does.
type cluster struct {
	readyDelay time.Duration
	readyAt    []time.Time // one per pod, oldest first
}

func newCluster(replicas int32, readyDelay time.Duration, now time.Time) *cluster {
	c := &cluster{readyDelay: readyDelay}
	for range replicas {
		c.readyAt = append(c.readyAt, now) // start ready
	}
	return c
}

func (c *cluster) replicas() int32 { return int32(len(c.readyAt)) }

func (c *cluster) ready(now time.Time) int32 {
	var n int32
	for _, at := range c.readyAt {
		if !at.After(now) {
			n++
		}
	}
	return n
}

func (c *cluster) scale(now time.Time, desired int32) {
	for c.replicas() < desired {
		c.readyAt = append(c.readyAt, now.Add(c.readyDelay))
	}
	// Pods are appended in creation order, so the newest (and any not
	// yet ready) are at the end.
	if c.replicas() > desired {
		c.readyAt = c.readyAt[:max(desired, 0)]
	}
}
