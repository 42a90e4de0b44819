package ztunnel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
)

// NodeStatusSource reads what each ztunnel reports about itself. The
// manager's is HTTPNodeStatus; the envtest suites, where no pod runs,
// inject their own at this one boundary.
type NodeStatusSource interface {
	// Statuses returns the answers of pods by UID; a pod that did not
	// answer (in time, or sensibly) is absent.
	Statuses(ctx context.Context, pods []*corev1.Pod) map[types.UID]ztunnelstatus.Status
}

// Defaults of HTTPNodeStatus.
const (
	DefaultStatusTimeout     = time.Second
	DefaultStatusConcurrency = 16
	// DefaultStatusMaxAge is how long an answer is reused. It is a little
	// shorter than the reconciler's refresh, so each refresh asks again,
	// while the reconciles that pod events cause in between ask only the
	// pods not asked yet.
	DefaultStatusMaxAge = 25 * time.Second
	// DefaultStatusBudget bounds one call: two rounds of timeouts.
	DefaultStatusBudget = 2 * time.Second
	// failureRetry: a pod that did not answer is asked again this soon.
	failureRetry = 5 * time.Second
	// maxStatusBytes bounds an answer; a real one is about 120 bytes.
	maxStatusBytes = 64 << 10
)

// HTTPNodeStatusOptions configure an HTTPNodeStatus; zero values get the defaults.
type HTTPNodeStatusOptions struct {
	// Port of the status endpoint (ztunnelstatus.Port).
	Port int
	// Timeout bounds one pod's answer, connection included.
	Timeout time.Duration
	// Concurrency bounds the requests in flight per Statuses call.
	Concurrency int
	// MaxAge is how long an answer is reused.
	MaxAge time.Duration
	// Budget bounds the time one Statuses call spends asking.
	Budget time.Duration
	// Client overrides the HTTP client.
	Client *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Log gets one line (V(1)) per pod that did not answer.
	Log logr.Logger
}

// HTTPNodeStatus GETs http://<pod IP>:15020/status of each pod, at most
// Concurrency at a time, and keeps the answers for MaxAge.
type HTTPNodeStatus struct {
	opts  HTTPNodeStatusOptions
	mu    sync.Mutex
	cache map[types.UID]cachedStatus
}

type cachedStatus struct {
	ip     string
	status ztunnelstatus.Status
	ok     bool
	at     time.Time
}

var _ NodeStatusSource = (*HTTPNodeStatus)(nil)

// NewHTTPNodeStatus returns the manager's NodeStatusSource.
func NewHTTPNodeStatus(o HTTPNodeStatusOptions) *HTTPNodeStatus {
	if o.Port == 0 {
		o.Port = ztunnelstatus.Port
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultStatusTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultStatusConcurrency
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultStatusMaxAge
	}
	if o.Budget <= 0 {
		o.Budget = DefaultStatusBudget
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			Proxy:               nil, // pod IPs are never reached through an HTTP proxy
			DialContext:         (&net.Dialer{Timeout: o.Timeout}).DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
		}}
	}
	return &HTTPNodeStatus{opts: o, cache: map[types.UID]cachedStatus{}}
}

// Statuses answers from the cache where it is fresh and asks the other
// pods, the least recently asked first, until Budget has passed: a fleet
// with many unreachable ztunnels (a NetworkPolicy in the way) costs one
// reconcile Budget, not Timeout per pod, and the next calls go on where
// this one stopped. A pod that could not be asked within the budget keeps
// its last answer if it has one.
func (h *HTTPNodeStatus) Statuses(ctx context.Context, pods []*corev1.Pod) map[types.UID]ztunnelstatus.Status {
	start := time.Now()
	now := h.opts.Now()
	out := make(map[types.UID]ztunnelstatus.Status, len(pods))
	type pending struct {
		pod   *corev1.Pod
		asked time.Time // zero: never
	}
	var ask []pending
	h.mu.Lock()
	for _, p := range pods {
		c, ok := h.cache[p.UID]
		if ok && c.ip != p.Status.PodIP {
			ok = false // a new address is a new process: its old answer says nothing
		}
		if ok && c.ok {
			out[p.UID] = c.status // fresh, or the best there is until asked again
		}
		switch {
		case ok && c.ok && now.Sub(c.at) < h.opts.MaxAge:
		case ok && !c.ok && now.Sub(c.at) < failureRetry:
		case ok:
			ask = append(ask, pending{p, c.at})
		default:
			ask = append(ask, pending{pod: p})
		}
	}
	h.mu.Unlock()
	slices.SortStableFunc(ask, func(a, b pending) int { return a.asked.Compare(b.asked) })

	answers := make([]*cachedStatus, len(ask))
	sem := make(chan struct{}, h.opts.Concurrency)
	var wg sync.WaitGroup
	for i, a := range ask {
		sem <- struct{}{}
		if time.Since(start) >= h.opts.Budget || ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, err := h.fetch(ctx, a.pod.Status.PodIP)
			if err != nil {
				h.opts.Log.V(1).Info("ztunnel status unavailable; its captured pods are not counted", "pod", a.pod.Namespace+"/"+a.pod.Name, "error", err.Error())
			}
			answers[i] = &cachedStatus{ip: a.pod.Status.PodIP, status: st, ok: err == nil, at: now}
		}()
	}
	wg.Wait()

	h.mu.Lock()
	defer h.mu.Unlock()
	for i, a := range ask {
		ans := answers[i]
		if ans == nil {
			continue // not asked within the budget
		}
		h.cache[a.pod.UID] = *ans
		if ans.ok {
			out[a.pod.UID] = ans.status
		} else {
			delete(out, a.pod.UID)
		}
	}
	// Pods that are gone are never asked again: forget them.
	for uid, c := range h.cache {
		if now.Sub(c.at) > 10*h.opts.MaxAge {
			delete(h.cache, uid)
		}
	}
	return out
}

func (h *HTTPNodeStatus) fetch(ctx context.Context, ip string) (ztunnelstatus.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(ip, strconv.Itoa(h.opts.Port)) + ztunnelstatus.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ztunnelstatus.Status{}, err
	}
	resp, err := h.opts.Client.Do(req)
	if err != nil {
		return ztunnelstatus.Status{}, err
	}
	defer resp.Body.Close()
	// Drain so the keep-alive connection is reused next time.
	defer func() { _, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxStatusBytes)) }()
	if resp.StatusCode != http.StatusOK {
		return ztunnelstatus.Status{}, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	var st ztunnelstatus.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusBytes)).Decode(&st); err != nil {
		return ztunnelstatus.Status{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if st.CapturedPods < 0 {
		return ztunnelstatus.Status{}, fmt.Errorf("GET %s: negative capturedPods %d", url, st.CapturedPods)
	}
	return st, nil
}
