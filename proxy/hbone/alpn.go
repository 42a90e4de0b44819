package hbone

import (
	"crypto/tls"
	"slices"
	"strings"

	"github.com/wayfabric/wayfabric/proxy/identity"
)

// A client that does not offer ALPN h2 is refused during the handshake
// with the alert that says so (no_application_protocol, RFC 7301 §3.2).
// crypto/tls would otherwise let an http/1.1-only client in as if it had
// offered no ALPN at all (Go issue 46310), and our identity check would
// then fail it with a misleading bad_certificate alert.

// noALPNSentinel is a protocol no client offers: with it as the server's
// only protocol, crypto/tls answers no_application_protocol.
const noALPNSentinel = "hbone-requires-h2"

// alpnGate returns a GetConfigForClient that swaps in a config refusing
// every offered protocol when h2 is not among them, and records why on
// the connection for the server's log.
func alpnGate(base *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	refuse := base.Clone()
	refuse.NextProtos = []string{noALPNSentinel}
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(hello.SupportedProtos, identity.ALPNH2) {
			return nil, nil
		}
		if bc, ok := hello.Conn.(*batchConn); ok {
			bc.alpnRefused = "client offered ALPN [" + strings.Join(hello.SupportedProtos, " ") + "]; HBONE needs h2"
		}
		if len(hello.SupportedProtos) == 0 {
			// No ALPN at all: crypto/tls skips negotiation; our identity
			// check refuses it (alert bad_certificate), the log says why.
			return nil, nil
		}
		return refuse, nil
	}
}
