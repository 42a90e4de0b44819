// Package simulation replays synthetic load traces through the horizontal
// policy and through a model of the Kubernetes HPA, so the two can be
// compared on the same input: reaction time, scale events and how many
// replica-seconds were over- or under-provisioned.
//
// Everything is deterministic: traces come from a seeded RNG and time is
// simulated in one-second ticks.
package simulation
