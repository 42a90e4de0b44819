package waypoint

import (
	"bufio"
	"time"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// sniffLimit: an HTTP/1 method plus its space fits in this many bytes.
const sniffLimit = 22

// sniff decides between HTTP and L4 from the first bytes: the HTTP/2
// preface, or an HTTP/1 request line start (a method token and a space).
// Nothing within timeout (a server-speaks-first protocol) means L4.
func sniff(c *streamConn, timeout time.Duration) routing.Protocol {
	c.br = bufio.NewReaderSize(c.Conn, 4096)
	_ = c.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.Conn.SetReadDeadline(time.Time{}) }()
	for n := 1; n <= sniffLimit; n++ {
		b, err := c.br.Peek(n)
		if err != nil {
			return classify(c.br.Peek(c.br.Buffered()))
		}
		if p, done := decide(b); done {
			return p
		}
	}
	return routing.ProtocolTCP
}

func classify(b []byte, _ error) routing.Protocol {
	if p, done := decide(b); done && p == routing.ProtocolHTTP {
		return p
	}
	return routing.ProtocolTCP
}

// decide returns (protocol, true) once b is enough to tell. HTTP/1 methods
// (and the "PRI" of the HTTP/2 preface) are upper-case tokens followed by a space.
func decide(b []byte) (routing.Protocol, bool) {
	for i, ch := range b {
		switch {
		case ch == ' ' && i > 0:
			return routing.ProtocolHTTP, true
		case !(ch >= 'A' && ch <= 'Z' || ch == '-' || ch == '_') || i >= 20:
			return routing.ProtocolTCP, true
		}
	}
	return 0, false
}
