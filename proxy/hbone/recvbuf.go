package hbone

import "sync"

// recvBuf holds received, unread bytes in pooled fixed-size chunks:
// appending never copies what is already buffered, reading hands chunks
// back as soon as they are consumed, and an idle stream holds no memory.
// Its size is bounded by the stream's flow-control window.
type recvBuf struct {
	chunks []*[]byte // pooled, each with cap recvChunk; the last may be partly filled
	roff   int       // read offset in chunks[0]
	size   int       // unread bytes
	inline [2]*[]byte
}

const recvChunk = 64 << 10

var recvChunks = sync.Pool{New: func() any { b := make([]byte, 0, recvChunk); return &b }}

func (b *recvBuf) Len() int { return b.size }

func (b *recvBuf) Write(data []byte) {
	b.size += len(data)
	for len(data) > 0 {
		last := len(b.chunks) - 1
		if last < 0 || len(*b.chunks[last]) == cap(*b.chunks[last]) {
			if b.chunks == nil {
				b.chunks = b.inline[:0] // most streams never hold more than two chunks
			}
			c := recvChunks.Get().(*[]byte)
			*c = (*c)[:0]
			b.chunks = append(b.chunks, c)
			last++
		}
		c := b.chunks[last]
		n := copy((*c)[len(*c):cap(*c)], data)
		*c = (*c)[:len(*c)+n]
		data = data[n:]
	}
}

func (b *recvBuf) Read(p []byte) int {
	n := 0
	for n < len(p) && len(b.chunks) > 0 {
		c := b.chunks[0]
		k := copy(p[n:], (*c)[b.roff:])
		n += k
		b.roff += k
		if b.roff == len(*c) { // consumed: hand the chunk back
			recvChunks.Put(c)
			b.chunks[0] = nil
			b.chunks = b.chunks[1:]
			b.roff = 0
		}
	}
	b.size -= n
	if len(b.chunks) == 0 {
		b.chunks = nil
	}
	return n
}
