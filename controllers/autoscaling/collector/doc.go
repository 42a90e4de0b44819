// Package collector reads the load report of every ready replica of a
// Waypoint (format in api/loadreport, served on port 15020) for the
// autoscaler. Source is the seam: HTTPSource scrapes real pods, tests inject
// load with their own Source.
//
// A replica that does not answer is reported as missing, never as idle: the
// horizontal policy counts missing replicas at no less than target, as the
// HPA does, so an outage of the load report can never scale a fleet down.
package collector
