package ca

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// Extra keys the API server puts in a TokenReview of a pod-bound token.
const (
	extraPodName  = "authentication.kubernetes.io/pod-name"
	extraPodUID   = "authentication.kubernetes.io/pod-uid"
	extraNodeName = "authentication.kubernetes.io/node-name"
)

// caller is an authenticated service account, with its pod if the token
// is bound to one.
type caller struct {
	serviceAccount types.NamespacedName
	podName        string
	podUID         string
	nodeName       string // from the token; verified against the pod
}

// errUnauthenticated and errForbidden classify refusals for HTTP status.
type refusal struct {
	status int
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func unauthenticated(format string, a ...any) error {
	return &refusal{status: 401, msg: fmt.Sprintf(format, a...)}
}

func forbidden(format string, a ...any) error {
	return &refusal{status: 403, msg: fmt.Sprintf(format, a...)}
}

// authenticate checks token with a TokenReview for audience.
func authenticate(ctx context.Context, c client.Client, token, audience string) (*caller, error) {
	if token == "" {
		return nil, unauthenticated("missing bearer token")
	}
	tr := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token, Audiences: []string{audience}}}
	if err := c.Create(ctx, tr); err != nil {
		return nil, fmt.Errorf("token review: %w", err)
	}
	if !tr.Status.Authenticated {
		msg := tr.Status.Error
		if msg == "" {
			msg = "token not authenticated"
		}
		return nil, unauthenticated("token rejected: %s", msg)
	}
	audOK := false
	for _, a := range tr.Status.Audiences {
		audOK = audOK || a == audience
	}
	if !audOK {
		return nil, unauthenticated("token is not for audience %q", audience)
	}
	parts := strings.Split(tr.Status.User.Username, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		return nil, unauthenticated("%q is not a service account", tr.Status.User.Username)
	}
	cl := &caller{serviceAccount: types.NamespacedName{Namespace: parts[2], Name: parts[3]}}
	extra := tr.Status.User.Extra
	if v := extra[extraPodName]; len(v) == 1 {
		cl.podName = v[0]
	}
	if v := extra[extraPodUID]; len(v) == 1 {
		cl.podUID = v[0]
	}
	if v := extra[extraNodeName]; len(v) == 1 {
		cl.nodeName = v[0]
	}
	return cl, nil
}

// NodeProxyCheck reports whether a service account belongs to a node proxy
// (ztunnel), which may obtain the identities of the pods on its own node.
type NodeProxyCheck func(ctx context.Context, sa types.NamespacedName) (bool, error)

// NodeProxySet is a NodeProxyCheck for a fixed set of service accounts.
func NodeProxySet(sas ...types.NamespacedName) NodeProxyCheck {
	set := map[types.NamespacedName]bool{}
	for _, sa := range sas {
		set[sa] = true
	}
	return func(_ context.Context, sa types.NamespacedName) (bool, error) { return set[sa], nil }
}

// authorizer decides which identities a caller may obtain.
type authorizer struct {
	client      client.Client
	isNodeProxy NodeProxyCheck
}

// authorize allows a node proxy (ztunnel) the identity of any pod on its
// own node, and every other caller only its own service account.
func (a *authorizer) authorize(ctx context.Context, cl *caller, want identity.ID) error {
	nodeProxy, err := a.isNodeProxy(ctx, cl.serviceAccount)
	if err != nil {
		return fmt.Errorf("checking whether %s is a node proxy: %w", cl.serviceAccount, err)
	}
	if !nodeProxy {
		if want.Namespace != cl.serviceAccount.Namespace || want.ServiceAccount != cl.serviceAccount.Name {
			return forbidden("service account %s may only obtain its own identity, not %s", cl.serviceAccount, want)
		}
		return nil
	}
	node, err := a.callerNode(ctx, cl)
	if err != nil {
		return err
	}
	var pods corev1.PodList
	if err := a.client.List(ctx, &pods, client.InNamespace(want.Namespace), client.MatchingFields{"spec.nodeName": node}); err != nil {
		return fmt.Errorf("list pods on node %s: %w", node, err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		sa := p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		if sa == want.ServiceAccount && p.Spec.NodeName == node &&
			p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
			return nil
		}
	}
	return forbidden("ztunnel on node %s: no running pod of service account %s/%s on that node", node, want.Namespace, want.ServiceAccount)
}

// callerNode returns the node of the pod the token is bound to, read from
// the API (the pod must still exist with the same UID).
func (a *authorizer) callerNode(ctx context.Context, cl *caller) (string, error) {
	if cl.podName == "" || cl.podUID == "" {
		return "", forbidden("node proxy token of %s is not bound to a pod; use a projected service-account token", cl.serviceAccount)
	}
	var pod corev1.Pod
	err := a.client.Get(ctx, types.NamespacedName{Namespace: cl.serviceAccount.Namespace, Name: cl.podName}, &pod)
	if apierrors.IsNotFound(err) {
		return "", forbidden("pod %s/%s bound to the token no longer exists", cl.serviceAccount.Namespace, cl.podName)
	}
	if err != nil {
		return "", fmt.Errorf("get caller pod: %w", err)
	}
	if string(pod.UID) != cl.podUID {
		return "", forbidden("pod %s/%s was replaced (uid %s, token bound to %s)", pod.Namespace, pod.Name, pod.UID, cl.podUID)
	}
	if pod.Spec.NodeName == "" {
		return "", forbidden("caller pod %s/%s is not scheduled", pod.Namespace, pod.Name)
	}
	if cl.nodeName != "" && cl.nodeName != pod.Spec.NodeName {
		return "", forbidden("token says node %s, pod runs on %s", cl.nodeName, pod.Spec.NodeName)
	}
	if (pod.Spec.ServiceAccountName != cl.serviceAccount.Name) && !(pod.Spec.ServiceAccountName == "" && cl.serviceAccount.Name == "default") {
		return "", forbidden("caller pod %s/%s does not run as %s", pod.Namespace, pod.Name, cl.serviceAccount)
	}
	return pod.Spec.NodeName, nil
}

func statusOf(err error) int {
	var r *refusal
	if errors.As(err, &r) {
		return r.status
	}
	return 500
}
