package waypoint

import (
	"io"
	"net/http"
	"strings"

	"github.com/wayfabric/wayfabric/proxy/waypoint/routing"
)

// upgradeType returns the protocol an HTTP/1.1 request asks to switch to
// (WebSocket and friends), or "".
func upgradeType(h http.Header) string {
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// switchProtocols relays a 101 answer: the client connection is taken over
// and bytes flow both ways until either side closes.
func (p *Proxy) switchProtocols(w *statusWriter, resp *http.Response, dec *routing.Decision, proto string) {
	up, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		plainError(w, http.StatusBadGateway, "upstream switched protocols without a usable stream\n")
		return
	}
	defer up.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		plainError(w, http.StatusBadGateway, "protocol upgrade is only possible on HTTP/1.1\n")
		return
	}
	w.code, w.wrote = http.StatusSwitchingProtocols, true
	p.trackL4(conn, true)
	defer func() {
		p.trackL4(conn, false)
		conn.Close()
	}()
	h := resp.Header.Clone()
	removeHopByHop(h)
	dec.ApplyResponseHeaders(h)
	h.Set("Connection", "Upgrade")
	h.Set("Upgrade", proto)
	if _, err := io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\n"); err != nil {
		return
	}
	if err := h.Write(brw); err != nil {
		return
	}
	if _, err := io.WriteString(brw, "\r\n"); err != nil || brw.Flush() != nil {
		return
	}
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(up, brw.Reader); errc <- err }() // brw.Reader holds bytes the client already sent
	go func() { _, err := io.Copy(conn, up); errc <- err }()
	<-errc //nolint:errcheck // either side ending ends the tunnel, error or not
}
