package hbone

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

// TestHeaderLimitRefusesOneStream: a CONNECT whose header list is over the
// limit is refused with 431 on that stream; the connection and the other
// streams on it carry on, and the server logs why.
func TestHeaderLimitRefusesOneStream(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	client := newTestClient(t, ca, nil, nil)
	target := echoTarget(t)

	open, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	for _, size := range []int{20 << 10, 40 << 10, 200 << 10} {
		req := dialReq(target, srv.addr)
		req.Header = http.Header{"x-big": {strings.Repeat("a", size)}}
		_, err := client.Dial(ctxT(t), req)
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%d-byte header: got %v, want a 431 ConnectError", size, err)
		}
	}
	srv.logs.waitFor(t, "header list of")
	// The stream opened before still works, on the same single connection.
	if err := pingPong(open, make([]byte, 64)); err != nil {
		t.Fatalf("stream opened before the refusals: %v", err)
	}
	s, err := client.Dial(ctxT(t), dialReq(target, srv.addr))
	if err != nil {
		t.Fatalf("new stream after the refusals: %v", err)
	}
	s.Close()
	if st := client.Stats(); st.Conns != 1 {
		t.Errorf("%d connections, want the one that refused the streams", st.Conns)
	}
}

// TestHTTP1OnlyClientGetsALPNAlert: a client offering only http/1.1 is
// told no_application_protocol, not bad_certificate, and the server logs
// the reason.
func TestHTTP1OnlyClientGetsALPNAlert(t *testing.T) {
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	cert := ca.IssueValid(clientID, time.Hour)
	for _, protos := range [][]string{{"http/1.1"}, {"http/1.0", "spdy/3"}} {
		c, err := tls.Dial("tcp", srv.addr.String(), &tls.Config{
			Certificates: []tls.Certificate{*cert}, InsecureSkipVerify: true, NextProtos: protos, MinVersion: tls.VersionTLS13,
		})
		if err == nil {
			// TLS 1.3: the client may finish before the server's alert arrives.
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "no application protocol") {
			t.Fatalf("offering %v: got %v, want the no_application_protocol alert", protos, err)
		}
	}
	for _, offered := range []string{"[http/1.1]", "[http/1.0 spdy/3]"} {
		if line := srv.logs.waitFor(t, offered); !strings.Contains(line, "no_alpn_h2") {
			t.Errorf("log line without the reason: %s", line)
		}
	}
	// A proper HBONE client is unaffected.
	client := newTestClient(t, ca, nil, nil)
	s, err := client.Dial(ctxT(t), dialReq(echoTarget(t), srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
