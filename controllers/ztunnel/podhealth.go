package ztunnel

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Reasons of Degraded when ztunnel pods cannot serve their nodes, most
// severe first. Each groups kubelet reasons that alternate while the
// problem lasts (ErrImagePull and ImagePullBackOff, for example), so the
// condition does not flap; the kubelet's own reason is in the message.
const (
	ReasonImagePullFailed       = "ImagePullFailed"
	ReasonCreateContainerFailed = "CreateContainerFailed"
	ReasonCrashLoopBackOff      = "CrashLoopBackOff"
	ReasonUnschedulable         = "Unschedulable"
)

// failureOrder ranks the reasons: the condition names the first present.
var failureOrder = []string{ReasonImagePullFailed, ReasonCreateContainerFailed, ReasonCrashLoopBackOff, ReasonUnschedulable}

// kubeletReasons maps a container's waiting reason to its failure class.
var kubeletReasons = map[string]string{
	"ErrImagePull":               ReasonImagePullFailed,
	"ImagePullBackOff":           ReasonImagePullFailed,
	"InvalidImageName":           ReasonImagePullFailed,
	"ErrImageNeverPull":          ReasonImagePullFailed,
	"ImageInspectError":          ReasonImagePullFailed,
	"RegistryUnavailable":        ReasonImagePullFailed,
	"SignatureValidationFailed":  ReasonImagePullFailed,
	"CreateContainerConfigError": ReasonCreateContainerFailed,
	"CreateContainerError":       ReasonCreateContainerFailed,
	"RunContainerError":          ReasonCreateContainerFailed,
	"PreStartHookError":          ReasonCreateContainerFailed,
	"PostStartHookError":         ReasonCreateContainerFailed,
	"CrashLoopBackOff":           ReasonCrashLoopBackOff,
}

// PodFailure is why one ztunnel pod cannot serve its node.
type PodFailure struct {
	// Reason is one of the Reason* failure classes above.
	Reason string
	Pod    string
	// Node the pod runs on, or is meant for while unscheduled; "" if unknown.
	Node string
	// Detail is what the kubelet or the scheduler said, on one line.
	Detail string
}

// maxDetail bounds one kubelet message in a condition (a crash's
// termination message can hold the last 2 KiB of the log).
const maxDetail = 300

// DiagnosePod says why p cannot serve its node, or false when nothing is
// wrong with it that waiting will not fix (starting, running, terminating).
func DiagnosePod(p *corev1.Pod) (PodFailure, bool) {
	if p.DeletionTimestamp != nil {
		return PodFailure{}, false
	}
	f := PodFailure{Pod: p.Name, Node: p.Spec.NodeName}
	for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		class, ok := kubeletReasons[w.Reason]
		if !ok {
			continue
		}
		f.Reason, f.Detail = class, w.Reason
		if msg := oneLine(w.Message); msg != "" {
			f.Detail += ": " + clip(msg)
		}
		if t := cs.LastTerminationState.Terminated; class == ReasonCrashLoopBackOff && t != nil {
			f.Detail = lastExit(t)
		}
		return f, true
	}
	if p.Status.Phase == corev1.PodPending {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				if f.Node == "" {
					f.Node = intendedNode(p)
				}
				f.Reason, f.Detail = ReasonUnschedulable, clip(oneLine(c.Message))
				return f, true
			}
		}
	}
	return PodFailure{}, false
}

// DiagnosePods returns the failures of pods, most severe class first, then
// by node and pod, so the condition message is stable between reconciles.
func DiagnosePods(pods []corev1.Pod) []PodFailure {
	var out []PodFailure
	for i := range pods {
		if f, ok := DiagnosePod(&pods[i]); ok {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b PodFailure) int {
		return cmp.Or(cmp.Compare(slices.Index(failureOrder, a.Reason), slices.Index(failureOrder, b.Reason)),
			cmp.Compare(a.Node, b.Node), cmp.Compare(a.Pod, b.Pod))
	})
	return out
}

// FailureMessage states failures (sorted by DiagnosePods) for a person: the
// most severe class with its nodes and the first pod's kubelet message,
// then a short line for every other class. It returns that class too.
func FailureMessage(failures []PodFailure) (reason, message string) {
	if len(failures) == 0 {
		return "", ""
	}
	var parts []string
	for _, class := range failureOrder {
		var of []PodFailure
		for _, f := range failures {
			if f.Reason == class {
				of = append(of, f)
			}
		}
		if len(of) == 0 {
			continue
		}
		if reason == "" {
			reason = class
			first := of[0]
			parts = append(parts, fmt.Sprintf("%s on %s: %s (pod %s)", failureHeads[class], nodeList(of), first.Detail, first.Pod))
			continue
		}
		parts = append(parts, fmt.Sprintf("also %s on %s", failureHeads[class], nodeList(of)))
	}
	return reason, strings.Join(parts, "; ")
}

var failureHeads = map[string]string{
	ReasonImagePullFailed:       "the ztunnel image cannot be pulled",
	ReasonCreateContainerFailed: "the ztunnel container cannot be created",
	ReasonCrashLoopBackOff:      "the ztunnel keeps crashing",
	ReasonUnschedulable:         "the ztunnel pod cannot be scheduled",
}

// nodeList names up to three nodes: "node a", "2 nodes (a, b)", "5 nodes (a, b, c and 2 more)".
func nodeList(fs []PodFailure) string {
	var nodes []string
	for _, f := range fs {
		n := cmp.Or(f.Node, "an unknown node")
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 1 {
		return "node " + nodes[0]
	}
	shown := strings.Join(nodes[:min(3, len(nodes))], ", ")
	if len(nodes) > 3 {
		shown += fmt.Sprintf(" and %d more", len(nodes)-3)
	}
	return fmt.Sprintf("%d nodes (%s)", len(nodes), shown)
}

// lastExit describes a crashed container's last run; its termination
// message (the end of its log, FallbackToLogsOnError) ends with the error.
func lastExit(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("CrashLoopBackOff: last exit code %d", t.ExitCode)
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	if msg := oneLine(t.Message); msg != "" {
		if r := []rune(msg); len(r) > maxDetail {
			msg = "..." + string(r[len(r)-maxDetail:])
		}
		s += ": " + msg
	}
	return s
}

// intendedNode is the node a DaemonSet pod is for: the DaemonSet
// controller pins it with a required node affinity on metadata.name.
func intendedNode(p *corev1.Pod) string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string) string {
	if r := []rune(s); len(r) > maxDetail {
		return string(r[:maxDetail]) + "..."
	}
	return s
}
