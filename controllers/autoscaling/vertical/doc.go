// Package vertical recommends per-replica CPU and memory requests for
// waypoints and decides when to apply them.
//
// The recommender follows the Kubernetes VPA recommender and uses its
// decaying histograms (k8s.io/autoscaler/vertical-pod-autoscaler
// pkg/recommender/util): CPU usage samples and per-interval memory peaks
// go into exponentially bucketed histograms whose old samples lose half
// their weight every half-life. Target, lower and upper bound are
// percentiles plus a safety margin, widened while little history exists,
// and clamped to the Waypoint's min/max allowed.
//
// The update policy adds hysteresis (change only when the current request
// leaves the recommended range, and by enough to matter) and a minimum
// interval between changes. The horizontal policy scales on concurrency or
// requests per second, never on CPU utilisation, so resizing replicas does
// not move the replica count (see docs/autoscaling.md).
//
// The package is pure: no Kubernetes client, no goroutines, no wall clock.
package vertical
