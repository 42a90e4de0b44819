// Package loadreport is the wire format of the load report a waypoint serves
// on its stats port and the manager's autoscaler reads (docs/load-report.md).
// It is a leaf package: both sides import it, it imports nothing of theirs.
package loadreport

import "time"

// ReportVersion is bumped on incompatible changes of the JSON format.
const ReportVersion = 1

// Path is where a waypoint serves the report, on its stats port (15020).
const Path = "/load"

// Report is the load report served as JSON (format: docs/load-report.md).
type Report struct {
	Version     int         `json:"version"`
	Timestamp   time.Time   `json:"timestamp"`
	Draining    bool        `json:"draining"`
	Requests    Requests    `json:"requests"`
	Concurrency Concurrency `json:"concurrency"`
	Latency     Latency     `json:"latencySeconds"`
	Process     Process     `json:"process"`
}

// Requests are completed requests.
type Requests struct {
	PerSecond1s  float64 `json:"perSecond1s"`
	PerSecond10s float64 `json:"perSecond10s"`
	Total        int64   `json:"total"`
}

// Concurrency is requests in flight.
type Concurrency struct {
	Current    int64   `json:"current"`
	Average1s  float64 `json:"average1s"`
	Average10s float64 `json:"average10s"`
}

// Latency quantiles over the last 10 complete seconds.
type Latency struct {
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Mean  float64 `json:"mean"`
	Count int64   `json:"count"`
}

// Process resource usage.
type Process struct {
	CPUSecondsTotal     float64 `json:"cpuSecondsTotal"`
	ResidentMemoryBytes int64   `json:"residentMemoryBytes"`
}
