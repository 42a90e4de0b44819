package hbone

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wayfabric/wayfabric/proxy/identity/identitytest"
)

// nodeBinary returns the node executable or skips: Node.js is installed on
// our machines and in CI, but the interop tests must not break elsewhere.
func nodeBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH: skipping the Node.js http2 interop test (install Debian package nodejs)")
	}
	return p
}

// writePEM writes the CA root, certificate and key for Node.js.
func writePEM(t *testing.T, ca *identitytest.CA, cert *tls.Certificate) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw}), 0o600))
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return
}

// TestNodeClientToOurServer: Node.js's http2 client tunnels through our
// HBONE server to a TCP echo target.
func TestNodeClientToOurServer(t *testing.T) {
	node := nodeBinary(t)
	ca := identitytest.NewCA("root")
	srv := startServer(t, ca, serverOpts{})
	targetSha := make(chan string, 1)
	target := tcpTarget(t, func(c *net.TCPConn) {
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(c, h), c); err != nil {
			targetSha <- "error: " + err.Error()
			return
		}
		c.CloseWrite()
		targetSha <- hex.EncodeToString(h.Sum(nil))
	})
	caFile, certFile, keyFile := writePEM(t, ca, ca.IssueValid(clientID, time.Hour))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/node_connect_client.js")
	cmd.Env = append(os.Environ(),
		"ADDR="+srv.addr.String(), "TARGET="+target.String(),
		"CA="+caFile, "CERT="+certFile, "KEY="+keyFile,
		"PEER_ID="+serverID.String(), fmt.Sprintf("SIZE=%d", 3<<20+5))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, stderr.String())
	}
	var res struct {
		Status         int    `json:"status"`
		Sent           int    `json:"sent"`
		SentSha256     string `json:"sentSha256"`
		Received       int    `json:"received"`
		ReceivedSha256 string `json:"receivedSha256"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if res.Status != 200 || res.Sent != 3<<20+5 || res.Received != res.Sent || res.ReceivedSha256 != res.SentSha256 {
		t.Errorf("node client result %+v", res)
	}
	select {
	case got := <-targetSha:
		if got != res.SentSha256 {
			t.Errorf("target received sha %s, node sent %s", got, res.SentSha256)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("target never saw the client's half-close")
	}
}

// TestOurClientToNodeServer: our HBONE client talks to a CONNECT server
// built on Node.js's http2 module, which checks our client certificate.
func TestOurClientToNodeServer(t *testing.T) {
	node := nodeBinary(t)
	ca := identitytest.NewCA("root")
	caFile, certFile, keyFile := writePEM(t, ca, ca.IssueValid(serverID, time.Hour))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/node_connect_server.js")
	cmd.Env = append(os.Environ(), "CA="+caFile, "CERT="+certFile, "KEY="+keyFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // started by this test, stopped by its PID
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("node server did not start: %v\n%s", err, stderr.String())
	}
	var port uint16
	if _, err := fmt.Sscanf(line, "LISTENING %d", &port); err != nil {
		t.Fatalf("node server said %q", line)
	}

	client := newTestClient(t, ca, nil, nil)
	target := netip.MustParseAddrPort("10.20.30.40:8080")
	for i := range 3 { // several streams on the pooled connection
		s, err := client.Dial(ctxT(t), dialReq(target, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)))
		if err != nil {
			t.Fatalf("stream %d: %v\n%s", i, err, stderr.String())
		}
		msg := randBytes(2<<20 + i)
		go func() {
			s.Write(msg)
			s.CloseWrite()
		}()
		r := bufio.NewReader(s)
		hello, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"URI:" + clientID.String(), "authority=" + target.String(), `forwarded=for="10.1.2.3:45678"`} {
			if !strings.Contains(hello, want) {
				t.Errorf("node server saw %q, missing %q", hello, want)
			}
		}
		echo, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("stream %d read: %v", i, err)
		}
		if !bytes.Equal(echo, msg) {
			t.Errorf("stream %d: echo of %d bytes, sent %d", i, len(echo), len(msg))
		}
		s.Close()
	}
	if st := client.Stats(); st.Conns != 1 {
		t.Errorf("pool used %d connections to the node server, want 1", st.Conns)
	}
}
