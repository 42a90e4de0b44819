package simulation

import (
	"fmt"
	"strings"
	"time"
)

// Table renders results as a Markdown table, one row per trace and scaler.
func Table(results []Result) string {
	var b strings.Builder
	b.WriteString("| trace | scaler | reaction: desired ≥ need | desired ≥ 90% of load | ready ≥ need | scale events | over-provisioned replica·s | under-provisioned replica·s | overloaded s |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %.0f | %.0f | %d |\n",
			r.Trace, r.Scaler, duration(r.Reaction), duration(r.NearReaction), duration(r.ReadyReaction), len(r.Events),
			r.OverProvisioned, r.UnderProvisioned, r.OverloadedSeconds)
	}
	return b.String()
}

func duration(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return d.String()
}
