package events

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	kevents "k8s.io/client-go/tools/events"

	"github.com/wayfabric/wayfabric/controllers/internal/apply"
)

func drain(rec *kevents.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestApplied(t *testing.T) {
	rec := kevents.NewFakeRecorder(10)
	Applied(rec, &corev1.Pod{}, []Write{
		{"ServiceAccount", "wp", apply.Created}, {"Deployment", "wp", apply.Updated},
		{"Service", "wp", apply.Unchanged}, {"PodDisruptionBudget", "wp", apply.Created},
	})
	got := drain(rec)
	want := []string{
		"Normal Created Created ServiceAccount wp, PodDisruptionBudget wp",
		"Normal Updated Updated Deployment wp (spec change or drift repaired)",
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("events = %q, want %q", got, want)
	}
	Applied(rec, &corev1.Pod{}, []Write{{"Service", "wp", apply.Unchanged}})
	if got := drain(rec); len(got) != 0 {
		t.Fatalf("an unchanged reconcile must record nothing, got %q", got)
	}
}

func TestFailedAndNilRecorder(t *testing.T) {
	rec := kevents.NewFakeRecorder(10)
	Failed(rec, &corev1.Pod{}, ReasonApplyFailed, errors.New("applying Deployment ns/wp: 100% forbidden"))
	if got := drain(rec); len(got) != 1 || got[0] != "Warning ApplyFailed applying Deployment ns/wp: 100% forbidden" {
		t.Fatalf("events = %q (a %% in the message must not be read as a format verb)", got)
	}
	Applied(nil, &corev1.Pod{}, []Write{{"Service", "wp", apply.Created}}) // must not panic
	Warning(nil, &corev1.Pod{}, ReasonConflict, ActionReconcile, "x")
}

func TestLongNotesAreTrimmedToTheAPILimit(t *testing.T) {
	rec := kevents.NewFakeRecorder(10)
	Warning(rec, &corev1.Pod{}, ReasonApplyFailed, ActionReconcile, strings.Repeat("é", 2000))
	got := strings.TrimPrefix(drain(rec)[0], "Warning ApplyFailed ")
	if len(got) > maxNote || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("note of %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
	}
}
