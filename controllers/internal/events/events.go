// Package events is how every part of the manager records Kubernetes events:
// one API (events.k8s.io, through controller-runtime's GetEventRecorder), one
// event per reconcile that wrote children, one per failure, notes trimmed to
// what the API server accepts, so `kubectl describe` explains what the
// operator did.
package events

import (
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kevents "k8s.io/client-go/tools/events"

	"github.com/wayfabric/wayfabric/controllers/internal/apply"
)

// Recorder is the recorder type every component takes.
type Recorder = kevents.EventRecorder

// Event reasons.
const (
	ReasonCreated      = "Created"
	ReasonUpdated      = "Updated"
	ReasonDeleted      = "Deleted"
	ReasonApplyFailed  = "ApplyFailed"
	ReasonStatusFailed = "StatusUpdateFailed"
	ReasonConflict     = "NodeSelectorOverlap"
)

// Actions (events.k8s.io requires one): what the reporting controller did.
const (
	ActionCreate    = "Create"
	ActionUpdate    = "Update"
	ActionDelete    = "Delete"
	ActionReconcile = "Reconcile"
	ActionScale     = "Scale"
	ActionResize    = "Resize"
)

// maxNote is the API server's limit on an event's note (message).
const maxNote = 1024

// Applied records what one reconcile wrote: one Normal event listing the
// created children and one listing the updated ones ("Deployment wp",
// ...). One event per reconcile rather than per child keeps the event load
// on the API server low for large fleets; unchanged children record nothing.
func Applied(rec Recorder, owner runtime.Object, outcomes []Write) {
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
		Normal(rec, owner, ReasonCreated, ActionCreate, "Created "+strings.Join(created, ", "))
	}
	if len(updated) > 0 {
		Normal(rec, owner, ReasonUpdated, ActionUpdate, "Updated "+strings.Join(updated, ", ")+" (spec change or drift repaired)")
	}
}

// Write is the outcome of ensuring one child.
type Write struct {
	Kind, Name string
	Outcome    apply.Outcome
}

// Failed records a Warning event for a failed reconcile step.
func Failed(rec Recorder, owner runtime.Object, reason string, err error) {
	Warning(rec, owner, reason, ActionReconcile, err.Error())
}

// Warning records a Warning event with a prepared message.
func Warning(rec Recorder, regarding runtime.Object, reason, action, msg string) {
	Record(rec, regarding, nil, corev1.EventTypeWarning, reason, action, msg)
}

// Normal records a Normal event with a prepared message.
func Normal(rec Recorder, regarding runtime.Object, reason, action, msg string) {
	Record(rec, regarding, nil, corev1.EventTypeNormal, reason, action, msg)
}

// Record records an event about regarding (and related, which may be nil).
// A nil recorder records nothing.
func Record(rec Recorder, regarding, related runtime.Object, eventType, reason, action, msg string) {
	if rec == nil {
		return
	}
	rec.Eventf(regarding, related, eventType, reason, action, "%s", trim(msg))
}

// trim cuts msg to the API server's limit at a rune boundary; an event with
// a longer note would be rejected and lost.
func trim(msg string) string {
	if len(msg) <= maxNote {
		return msg
	}
	const more = "…"
	cut := maxNote - len(more)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + more
}
