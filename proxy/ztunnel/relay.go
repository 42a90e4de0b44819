package ztunnel

import (
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/go-logr/logr"

	"github.com/wayfabric/wayfabric/proxy/hbone"
)

// Connection directions, from the local pod's point of view.
const (
	outbound = "outbound"
	inbound  = "inbound"
)

// relay copies bytes both ways between the pod's side and the other
// side, then records metrics and one access-log line.
func (p *podProxy) relay(direction, route string, local, remote net.Conn, log logr.Logger) {
	m := p.n.cfg.Metrics
	m.opened.WithLabelValues(direction, route, p.key.Namespace, p.workload).Inc()
	start := time.Now()
	toLocal, toRemote, err := hbone.SpliceCounted(local, remote)
	m.closed.WithLabelValues(direction, route, p.key.Namespace, p.workload).Inc()
	m.bytes.WithLabelValues(direction, "sent", p.key.Namespace, p.workload).Add(float64(toRemote))
	m.bytes.WithLabelValues(direction, "received", p.key.Namespace, p.workload).Add(float64(toLocal))
	kv := []any{"direction", direction, "durationMs", time.Since(start).Milliseconds(),
		"bytesSent", toRemote, "bytesReceived", toLocal}
	if err != nil {
		m.errors.WithLabelValues(direction, "reset", p.key.Namespace, p.workload).Inc()
		kv = append(kv, "error", err.Error())
	}
	log.Info("connection complete", kv...)
}

// refuse answers a connection with a TCP reset (the client sees
// "connection refused/reset", never a hang) and counts why.
func (p *podProxy) refuse(c *net.TCPConn, direction, reason string, err error) {
	p.n.cfg.Metrics.errors.WithLabelValues(direction, reason, p.key.Namespace, p.workload).Inc()
	_ = c.SetLinger(0)
	_ = c.Close()
	if err != nil {
		p.log.V(1).Info("connection refused", "direction", direction, "reason", reason, "error", err.Error())
	}
}

func asConnectError(err error, target **hbone.ConnectError) bool { return errors.As(err, target) }

func itoa(i int) string { return strconv.Itoa(i) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
