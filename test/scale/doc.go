// Package scale measures the operator at fleet size on envtest: how long
// 1,000 Waypoints across 50 namespaces take to converge (every Deployment
// exists and every Waypoint's status is correct), and the manager's peak
// memory, against a 100-Waypoint baseline in the same run.
//
// It is skipped unless WAYFABRIC_BENCH_OPERATOR=1 (make bench-operator).
package scale
