package hbone

import "sync"

// recvBuf holds received, unread bytes in pooled fixed-size chunks:
// appending never copies what is already buffered, reading hands chunks
// back as soon as they are consumed, and an idle stream holds no memory.
// Its size is bounded by the stream's flow-control window.
type recvBuf struct {
	chunks [][]byte // each with cap recvChunk; the last may be partly filled
	roff   int      // read offset in chunks[0]
	size   int      // unread bytes
}

const recvChunk = 64 << 10

var recvChunks = sync.Pool{New: func() any { b := make([]byte, 0, recvChunk); return &b }}

func (b *recvBuf) Len() int { return b.size }

func (b *recvBuf) Write(data []byte) {
	b.size += len(data)
	for len(data) > 0 {
		last := len(b.chunks) - 1
		if last < 0 || len(b.chunks[last]) == cap(b.chunks[last]) {
			c := recvChunks.Get().(*[]byte)
			b.chunks = append(b.chunks, (*c)[:0])
			last++
		}
		c := b.chunks[last]
		n := copy(c[len(c):cap(c)], data)
		b.chunks[last] = c[:len(c)+n]
		data = data[n:]
	}
}

func (b *recvBuf) Read(p []byte) int {
	n := 0
	for n < len(p) && len(b.chunks) > 0 {
		c := b.chunks[0]
		k := copy(p[n:], c[b.roff:])
		n += k
		b.roff += k
		if b.roff == len(c) { // consumed: hand the chunk back
			c = c[:0]
			recvChunks.Put(&c)
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
