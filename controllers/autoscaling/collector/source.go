package collector

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Source returns the load of one Waypoint's ready replicas.
type Source interface {
	Collect(ctx context.Context, waypoint types.NamespacedName) (Snapshot, error)
}

// Forgetter is implemented by Sources that keep per-Waypoint state (such as
// the previous CPU counter of each pod); the controller calls Forget when a
// Waypoint is deleted so that state does not leak.
type Forgetter interface {
	Forget(waypoint types.NamespacedName)
}

// Snapshot is one collection round over a Waypoint's ready replicas.
type Snapshot struct {
	// Replicas holds one entry per ready replica that answered.
	Replicas []ReplicaLoad
	// Ready is the number of ready replicas found (answering or not),
	// excluding those that reported they are draining.
	Ready int32
	// Missing ready replicas did not answer (timeout, refused, bad body).
	Missing int32
	// Draining replicas answered but are leaving; they carry no samples
	// and do not count as ready.
	Draining int32
	// Failures describes why each missing replica did not answer, by pod.
	Failures map[string]string
	// At is when the round started; Duration is how long it took.
	At       time.Time
	Duration time.Duration
}

// ReplicaLoad is one replica's report.
type ReplicaLoad struct {
	Pod string
	// Concurrency is requests in flight, averaged over the last second.
	Concurrency float64
	// RequestsPerSecond over the last second; RequestsPerSecond10s over ten.
	RequestsPerSecond    float64
	RequestsPerSecond10s float64
	// P50 and P99 request latency over the last ten seconds.
	P50, P99 time.Duration
	// CPUCores is the process's CPU usage since the previous report of the
	// same pod; HasCPU is false on a pod's first report (no rate yet).
	CPUCores float64
	HasCPU   bool
	// MemoryBytes is the process's resident memory.
	MemoryBytes int64
}
