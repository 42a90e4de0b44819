package hbone

import (
	"errors"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerBlock is one decoded header block (HEADERS plus CONTINUATION
// frames). Its field list is reused for the connection's next block, so
// whoever keeps a field copies it (the strings themselves are immutable).
// Decoding ourselves instead of through the Framer's ReadMetaHeaders saves
// about ten allocations per stream, and lets an over-long list be refused
// per stream (431) rather than with GOAWAY.
type headerBlock struct {
	streamID  uint32
	endStream bool
	fields    []hpack.HeaderField
	size      int   // RFC 9113 §6.5.2 size of the decoded list
	truncated bool  // over readHeaderListCap: the rest was decoded and dropped
	invalid   error // malformed field: the stream is reset
	encoded   int   // bytes of HPACK received for this block
}

func (b *headerBlock) pseudo(name string) string {
	for _, hf := range b.fields {
		if !hf.IsPseudo() {
			break
		}
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// headerDecoder decodes a connection's header blocks with one HPACK
// decoder (its dynamic table spans the connection).
type headerDecoder struct {
	dec   *hpack.Decoder
	block headerBlock
}

func newHeaderDecoder() *headerDecoder {
	d := &headerDecoder{}
	d.dec = hpack.NewDecoder(4096, d.emit)
	d.dec.SetMaxStringLength(readHeaderListCap)
	return d
}

func (d *headerDecoder) begin(id uint32, endStream bool) {
	d.block = headerBlock{streamID: id, endStream: endStream, fields: d.block.fields[:0]}
}

// write decodes a fragment. A block far over the cap ends the connection
// without decoding it (CVE-2024-27316, the CONTINUATION flood).
func (d *headerDecoder) write(frag []byte) error {
	d.block.encoded += len(frag)
	if d.block.encoded > 2*readHeaderListCap {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if _, err := d.dec.Write(frag); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	return nil
}

func (d *headerDecoder) finish() error {
	if err := d.dec.Close(); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	return nil
}

var errPseudoAfterRegular = errors.New("pseudo-header field after a regular one")

func (d *headerDecoder) emit(hf hpack.HeaderField) {
	b := &d.block
	size := int(hf.Size())
	if b.truncated || b.size+size > readHeaderListCap {
		b.truncated = true
		b.size += size
		return
	}
	b.size += size
	if b.invalid != nil {
		return
	}
	switch {
	case !httpguts.ValidHeaderFieldValue(hf.Value):
		b.invalid = errors.New("invalid value for header field " + hf.Name)
	case hf.IsPseudo():
		if n := len(b.fields); n > 0 && !b.fields[n-1].IsPseudo() {
			b.invalid = errPseudoAfterRegular
		}
	case !httpguts.ValidHeaderFieldName(hf.Name) || strings.ToLower(hf.Name) != hf.Name:
		b.invalid = errors.New("invalid header field name " + hf.Name)
	}
	if b.invalid == nil {
		b.fields = append(b.fields, hf)
	}
}
