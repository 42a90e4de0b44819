// Package horizontal decides how many waypoint replicas to run from the HTTP
// load the replicas report (concurrency or requests per second per replica).
//
// The algorithm follows the Knative Pod Autoscaler (KPA): a long stable
// window smooths noise, a short panic window reacts to bursts, and a panic
// mode never scales down. Around it sit the Kubernetes HPA "behavior"
// guards: a tolerance dead band, a scale-down stabilization window and
// rate-limit policies. It never looks at CPU utilisation, so it cannot fight
// the vertical recommender (see docs/autoscaling.md).
//
// The package is pure: no Kubernetes client, no goroutines, no wall clock.
// The caller owns one Autoscaler per Waypoint and calls Decide about once a
// second with the samples it collected.
package horizontal
