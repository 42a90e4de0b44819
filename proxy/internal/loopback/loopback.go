// Package loopback runs throwaway TCP servers on 127.0.0.1 for the data
// plane's tests: each accepted connection is handed to a function and closed
// when it returns; the listener closes when the test ends.
package loopback

import (
	"net"
	"net/netip"
	"testing"
)

// Listen listens on a free port of 127.0.0.1; the listener closes when the
// test ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Serve listens on 127.0.0.1 and runs handle for every connection.
func Serve(t testing.TB, handle func(*net.TCPConn)) netip.AddrPort {
	t.Helper()
	l := Listen(t)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).AddrPort()
}
