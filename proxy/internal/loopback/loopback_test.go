package loopback

import (
	"io"
	"net"
	"testing"
)

func TestServeRunsHandlerPerConnection(t *testing.T) {
	addr := Serve(t, func(c *net.TCPConn) {
		_, _ = io.Copy(c, c)
		_ = c.CloseWrite()
	})
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "ping" {
			t.Fatalf("connection %d: got %q, %v; want the echo", i, got, err)
		}
	}
}
