package hbone

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// decodeHeaderBlock decodes an HPACK block as a live connection does.
func decodeHeaderBlock(block []byte, endStream bool) (*headerBlock, error) {
	d := newHeaderDecoder()
	d.begin(1, endStream)
	if err := d.write(block); err != nil {
		return nil, err
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if d.block.invalid != nil {
		return nil, d.block.invalid
	}
	return &d.block, nil
}

// FuzzParseConnect: any header block either yields a valid CONNECT request
// (numeric ip:port target) or an error status; it never panics.
func FuzzParseConnect(f *testing.F) {
	enc := func(fields ...string) []byte {
		var b bytes.Buffer
		e := hpack.NewEncoder(&b)
		for i := 0; i+1 < len(fields); i += 2 {
			e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return b.Bytes()
	}
	f.Add(enc(":method", "CONNECT", ":authority", "10.0.0.1:8080"), false)
	f.Add(enc(":method", "CONNECT", ":authority", "[fd00::1]:443", "forwarded", `for="[fd00::2]:1234"`), false)
	f.Add(enc(":method", "GET", ":authority", "10.0.0.1:80", ":scheme", "https", ":path", "/"), true)
	f.Add(enc(":method", "CONNECT", ":authority", "example.com:443"), false)
	f.Add(enc(":method", "CONNECT", ":authority", "10.0.0.1:0", "forwarded", "for=unknown"), false)
	f.Add([]byte{0x3f, 0xe1, 0x1f}, false)
	f.Fuzz(func(t *testing.T, block []byte, endStream bool) {
		mh, err := decodeHeaderBlock(block, endStream)
		if err != nil || mh == nil {
			return // the framer refused it before our code would see it
		}
		req, status, err := parseConnect(mh)
		if err != nil {
			if status < 400 || status > 599 {
				t.Fatalf("error %v with status %d", err, status)
			}
			return
		}
		if !req.Target.IsValid() || req.Target.Port() == 0 || req.Target.Addr().Zone() != "" {
			t.Fatalf("accepted invalid target %v", req.Target)
		}
	})
}

// FuzzServerFrames feeds arbitrary bytes after the client preface to the
// server's HTTP/2 engine: it must end the connection or keep going, never
// panic or hang.
func FuzzServerFrames(f *testing.F) {
	frames := func(fn func(fr *http2.Framer)) []byte {
		var b bytes.Buffer
		fn(http2.NewFramer(&b, nil))
		return b.Bytes()
	}
	var hb bytes.Buffer
	hpack.NewEncoder(&hb).WriteField(hpack.HeaderField{Name: ":method", Value: "CONNECT"})
	f.Add(frames(func(fr *http2.Framer) { fr.WriteSettings() }))
	f.Add(frames(func(fr *http2.Framer) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
		fr.WriteData(1, false, []byte("hello"))
		fr.WriteWindowUpdate(1, 1<<31-1)
		fr.WriteRSTStream(1, http2.ErrCodeCancel)
		fr.WritePing(false, [8]byte{1})
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	}))
	f.Add(frames(func(fr *http2.Framer) {
		fr.WriteSettings()
		fr.WriteData(3, true, []byte("data on an idle stream"))
	}))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer a.Close()
		c := newConn(b, false, FlowOptions{}.withDefaults(), 10, logr.Discard())
		c.onStream = func(s *Stream, _ *headerBlock) {
			go func() { defer c.handlerDone(); s.Reject(503); s.Close() }()
		}
		go io.Copy(io.Discard, a) // net.Pipe is unbuffered: drain our frames
		if err := c.start(); err != nil {
			return
		}
		a.SetWriteDeadline(time.Now().Add(time.Second))
		a.Write([]byte(clientPreface))
		a.Write(data)
		a.Close()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection did not end after the peer closed")
		}
	})
}
