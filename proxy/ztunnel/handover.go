package ztunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/discovery"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/netns"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/uds"
)

// Handover moves a node's captured pods from a running ztunnel to its
// successor (a DaemonSet surge rollout runs both at once) without refusing
// a single connection: the old process passes each pod's namespace and
// listening sockets over a UNIX socket (SCM_RIGHTS). Both processes then
// hold the same sockets; the old one stops calling accept and drains,
// the new one accepts everything from then on. Binding new sockets next to
// the old ones with SO_REUSEPORT would be simpler, but closing a reuseport
// listener resets the connections waiting in its accept queue; a shared
// socket has one queue and loses nothing. SO_REUSEPORT remains the fallback
// when no predecessor answers.

// handoverVersion is bumped when the messages change incompatibly.
const handoverVersion = 1

type handoverMsg struct {
	Op      string         `json:"op"` // "handover", "pod", "end", "done", "ok"
	Version int            `json:"version,omitempty"`
	Pod     *handedPodInfo `json:"pod,omitempty"`
	Error   string         `json:"error,omitempty"`
}

type handedPodInfo struct {
	UID       string   `json:"uid"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	IPs       []string `json:"ips"`
	// Files: the namespace, then one listening socket per entry of Ports.
	Ports []uint16 `json:"ports"`
}

// handoverTimeout bounds the whole exchange; a predecessor that does not
// answer in time is left to be drained by its own SIGTERM.
const handoverTimeout = 60 * time.Second

// TakeOver asks the ztunnel listening at path (the current owner) for its
// pods, captures them here with their sockets, and returns a function that
// tells the predecessor to stop accepting: call it once this process owns
// the node sockets (the CNI plugin reaches it). Without a predecessor it
// returns (nil, nil).
func (n *Node) TakeOver(ctx context.Context, path string) (finish func() error, err error) {
	ctx, cancel := context.WithTimeout(ctx, handoverTimeout)
	c, err := uds.Dial(ctx, path)
	if err != nil {
		cancel()
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil
		}
		return nil, fmt.Errorf("contacting the running ztunnel at %s: %w", path, err)
	}
	fail := func(err error) (func() error, error) {
		cancel()
		_ = c.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := c.Send(handoverMsg{Op: "handover", Version: handoverVersion}); err != nil {
		return fail(err)
	}
	start := time.Now()
	adopted := 0
	for {
		var m handoverMsg
		files, err := c.Receive(&m)
		if err != nil {
			return fail(fmt.Errorf("receiving pods from the running ztunnel: %w", err))
		}
		if m.Error != "" {
			closeFiles(files)
			return fail(fmt.Errorf("the running ztunnel refused the handover: %s", m.Error))
		}
		if m.Op == "end" {
			break
		}
		if m.Op != "pod" || m.Pod == nil || len(files) != 1+len(m.Pod.Ports) {
			closeFiles(files)
			return fail(fmt.Errorf("unexpected handover message %q with %d files", m.Op, len(files)))
		}
		if err := n.adoptHanded(ctx, m.Pod, files); err != nil {
			// The pod stays with the old process until it stops accepting;
			// then Reconcile adopts it from /proc like after a restart.
			n.cfg.Log.Error(err, "adopting a handed-over pod", "pod", m.Pod.Namespace+"/"+m.Pod.Name)
			continue
		}
		adopted++
	}
	n.cfg.Log.Info("took over the running ztunnel's pods", "pods", adopted, "ms", time.Since(start).Milliseconds())
	return func() error {
		defer cancel()
		defer c.Close()
		if err := c.Send(handoverMsg{Op: "done"}); err != nil {
			return err
		}
		var m handoverMsg
		files, err := c.Receive(&m)
		closeFiles(files)
		if err != nil {
			return fmt.Errorf("waiting for the previous ztunnel to stop accepting: %w", err)
		}
		return nil
	}, nil
}

func (n *Node) adoptHanded(ctx context.Context, hp *handedPodInfo, files []*os.File) error {
	defer closeFiles(files[1:]) // FileListener dups them
	ns, err := netns.FromFile(files[0])
	if err != nil {
		closeFiles(files[:1])
		return err
	}
	var ls []*net.TCPListener
	for _, f := range files[1:] {
		l, err := net.FileListener(f)
		if err != nil {
			break
		}
		if tl, ok := l.(*net.TCPListener); ok {
			ls = append(ls, tl)
		} else {
			_ = l.Close()
		}
	}
	if len(ls) != len(hp.Ports) {
		for _, l := range ls {
			_ = l.Close()
		}
		_ = ns.Close()
		return fmt.Errorf("pod %s/%s: %d of %d listening sockets usable", hp.Namespace, hp.Name, len(ls), len(hp.Ports))
	}
	w := n.snapshot().WorkloadByUID(types.UID(hp.UID))
	if w == nil {
		w = &discovery.Workload{Namespace: hp.Namespace, Name: hp.Name, UID: types.UID(hp.UID), ServiceAccount: "default"}
	}
	var ips []netip.Addr
	for _, s := range hp.IPs {
		if a, err := netip.ParseAddr(s); err == nil {
			ips = append(ips, a)
		}
	}
	if _, err := n.capturePod(ctx, w, ips, ns, ls); err != nil {
		for _, l := range ls {
			_ = l.Close()
		}
		_ = ns.Close()
		return err
	}
	return nil
}

// ServeHandover answers successors on l until ctx ends. After a completed
// handover this process stops accepting and reports it through handedOff.
func (n *Node) ServeHandover(ctx context.Context, l *uds.Listener, handedOff func()) {
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if n.giveAway(c) {
				handedOff()
			}
		}()
	}
}

// giveAway sends every captured pod with its sockets, waits for "done",
// then stops accepting on all of them.
func (n *Node) giveAway(c *uds.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(handoverTimeout))
	var m handoverMsg
	files, err := c.Receive(&m)
	closeFiles(files)
	if err != nil || m.Op != "handover" {
		return false
	}
	if m.Version != handoverVersion {
		_ = c.Send(handoverMsg{Op: "end", Error: fmt.Sprintf("handover version %d, want %d", m.Version, handoverVersion)})
		return false
	}
	// From here on new pods wait for the successor (CNI retries).
	n.stopping.Store(true)
	n.mu.Lock()
	pods := make([]*podProxy, 0, len(n.pods))
	for _, p := range n.pods {
		pods = append(pods, p)
	}
	n.mu.Unlock()
	for _, p := range pods {
		info, fs, err := p.handoffFiles()
		if err != nil {
			p.log.Error(err, "cannot hand this pod over; the successor adopts it from /proc")
			continue
		}
		err = c.Send(handoverMsg{Op: "pod", Pod: info}, fs...)
		closeFiles(fs)
		if err != nil {
			n.cfg.Log.Error(err, "handover aborted")
			n.stopping.Store(false)
			return false
		}
	}
	if err := c.Send(handoverMsg{Op: "end"}); err != nil {
		n.stopping.Store(false)
		return false
	}
	files, err = c.Receive(&m)
	closeFiles(files)
	if err != nil || m.Op != "done" {
		n.cfg.Log.Info("successor did not complete the handover; serving on", "error", fmt.Sprint(err))
		n.stopping.Store(false)
		return false
	}
	for _, p := range pods {
		p.stopAccepting()
	}
	_ = c.Send(handoverMsg{Op: "ok"})
	n.cfg.Log.Info("handed every pod to the successor; draining", "pods", len(pods))
	return true
}

// handoffFiles returns dups of the pod's namespace and listening sockets.
func (p *podProxy) handoffFiles() (*handedPodInfo, []*os.File, error) {
	info := &handedPodInfo{UID: string(p.uid), Namespace: p.key.Namespace, Name: p.key.Name}
	for _, ip := range p.ips {
		info.IPs = append(info.IPs, ip.String())
	}
	nsf, err := dupFile(p.ns.File())
	if err != nil {
		return nil, nil, err
	}
	files := []*os.File{nsf}
	for _, pl := range p.listeners {
		f, err := pl.l.File()
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		files = append(files, f)
		info.Ports = append(info.Ports, pl.port)
	}
	return info, files, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			_ = f.Close()
		}
	}
}
