// Package hbone implements HBONE: TCP streams tunnelled as HTTP/2 CONNECT
// requests over mutual TLS 1.3 (ALPN h2, port 15008). The HTTP/2 layer is
// a small CONNECT-only engine on golang.org/x/net/http2's Framer and hpack
// rather than net/http, because a tunnel needs what net/http cannot give:
// half-close in both directions (a server may end its side while still
// reading), per-stream net.Conn semantics and explicit flow-control sizing.
package hbone

import "time"

// Port is the HBONE port of ztunnels and waypoints.
const Port = 15008

// FlowOptions sizes HTTP/2 flow control. Receive windows bound how much a
// peer may send before we read it: they are the backpressure limit and the
// worst-case buffered memory (per stream, and per connection in total).
type FlowOptions struct {
	// StreamWindow is the receive window per stream (default 4 MiB).
	StreamWindow uint32
	// ConnWindow is the receive window per connection (default 16 MiB).
	ConnWindow uint32
	// MaxFrameSize is the largest DATA frame we accept and send
	// (default 64 KiB; HTTP/2 allows 16 KiB..16 MiB).
	MaxFrameSize uint32
}

const (
	defaultStreamWindow = 4 << 20
	defaultConnWindow   = 16 << 20
	defaultMaxFrame     = 64 << 10
	minFrameSize        = 16 << 10
	maxFrameSizeLimit   = 1<<24 - 1
	maxWindow           = 1<<31 - 1
	handshakeTimeout    = 10 * time.Second
	// maxHeaderListSize is the header list a CONNECT may carry (announced in
	// SETTINGS, RFC 9113 §6.5.2 size: name + value + 32 per field); a larger
	// one is refused per stream with 431. Up to readHeaderListCap is decoded
	// to keep HPACK state in sync and then refused per stream; beyond it (or
	// one HPACK string longer than it) the connection ends with GOAWAY:
	// decoding would cost unbounded memory.
	maxHeaderListSize = 16 << 10
	readHeaderListCap = 256 << 10
)

func (f FlowOptions) withDefaults() FlowOptions {
	if f.StreamWindow == 0 {
		f.StreamWindow = defaultStreamWindow
	}
	if f.ConnWindow == 0 {
		f.ConnWindow = defaultConnWindow
	}
	if f.MaxFrameSize == 0 {
		f.MaxFrameSize = defaultMaxFrame
	}
	f.StreamWindow = min(max(f.StreamWindow, 65535), maxWindow)
	f.ConnWindow = min(max(f.ConnWindow, 65535), maxWindow)
	f.MaxFrameSize = min(max(f.MaxFrameSize, minFrameSize), maxFrameSizeLimit)
	return f
}
