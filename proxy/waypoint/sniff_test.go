package waypoint

import (
	"testing"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

func TestDecideProtocolFromFirstBytes(t *testing.T) {
	cases := []struct {
		in   string
		want routing.Protocol
		done bool
	}{
		{"GET / HTTP/1.1", routing.ProtocolHTTP, true},
		{"OPTIONS * HTTP/1.1", routing.ProtocolHTTP, true},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", routing.ProtocolHTTP, true}, // HTTP/2 preface
		{"M-SEARCH * HTTP/1.1", routing.ProtocolHTTP, true},
		{"GE", 0, false}, // undecided: wait for more
		{"\x16\x03\x01\x02\x00", routing.ProtocolTCP, true},             // TLS ClientHello
		{"SSH-2.0-OpenSSH_9.2p1 Debian", routing.ProtocolTCP, true},     // digits in the token
		{"get / HTTP/1.1", routing.ProtocolTCP, true},                   // methods are upper case
		{" GET /", routing.ProtocolTCP, true},                           // leading space
		{"AAAAAAAAAAAAAAAAAAAAAAAA", routing.ProtocolTCP, true},         // no method is that long
		{"\x00\x00\x00\x08\x04\xd2\x16\x2f", routing.ProtocolTCP, true}, // Postgres SSLRequest
	}
	for _, tc := range cases {
		got, done := decide([]byte(tc.in))
		if got != tc.want || done != tc.done {
			t.Errorf("decide(%q) = %v,%v; want %v,%v", tc.in, got, done, tc.want, tc.done)
		}
	}
}
