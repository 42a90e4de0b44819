// Package events records one Kubernetes event per write the reconcilers make
// and per failure, naming the child object so `kubectl describe` explains
// what the operator did.
package events

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"

	"github.com/wayfabric/wayfabric/controllers/internal/apply"
)

// Event reasons.
const (
	ReasonCreated      = "Created"
	ReasonUpdated      = "Updated"
	ReasonDeleted      = "Deleted"
	ReasonApplyFailed  = "ApplyFailed"
	ReasonStatusFailed = "StatusUpdateFailed"
	ReasonConflict     = "NodeSelectorOverlap"
)

// Applied records what one reconcile wrote: one Normal event listing the
// created children and one listing the updated ones ("Deployment wp",
// ...). One event per reconcile rather than per child keeps the event load
// on the API server low for large fleets; unchanged children record nothing.
func Applied(rec record.EventRecorder, owner runtime.Object, outcomes []Write) {
	if rec == nil {
		return
	}
	var created, updated []string
	for _, w := range outcomes {
		switch w.Outcome {
		case apply.Created:
			created = append(created, w.Kind+" "+w.Name)
		case apply.Updated:
			updated = append(updated, w.Kind+" "+w.Name)
		}
	}
	if len(created) > 0 {
		rec.Event(owner, "Normal", ReasonCreated, "Created "+strings.Join(created, ", "))
	}
	if len(updated) > 0 {
		rec.Event(owner, "Normal", ReasonUpdated, "Updated "+strings.Join(updated, ", ")+" (spec change or drift repaired)")
	}
}

// Write is the outcome of ensuring one child.
type Write struct {
	Kind, Name string
	Outcome    apply.Outcome
}

// Failed records a Warning event for a failed write.
func Failed(rec record.EventRecorder, owner runtime.Object, reason string, err error) {
	if rec == nil {
		return
	}
	rec.Event(owner, "Warning", reason, err.Error())
}

// Warning records a Warning event with a prepared message.
func Warning(rec record.EventRecorder, owner runtime.Object, reason, msg string) {
	if rec != nil {
		rec.Event(owner, "Warning", reason, msg)
	}
}

// Normal records a Normal event with a prepared message.
func Normal(rec record.EventRecorder, owner runtime.Object, reason, msg string) {
	if rec != nil {
		rec.Event(owner, "Normal", reason, msg)
	}
}
