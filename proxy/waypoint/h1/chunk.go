package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
)

// ReadChunkSize reads "1*HEXDIG [ chunk-ext ] CRLF".
func ReadChunkSize(br *bufio.Reader) (int64, error) {
	line, err := ReadLine(br, 4096)
	if err != nil {
		return 0, err
	}
	var n int64
	i := 0
	for ; i < len(line) && isHex(line[i]); i++ {
		if i >= 15 {
			return 0, errors.New("chunk size too large")
		}
		n = n<<4 | int64(unhex(line[i]))
	}
	if i == 0 {
		return 0, fmt.Errorf("malformed chunk size %q", line)
	}
	for _, ch := range line[i:] { // chunk extensions: ignored, but no control characters
		if (ch < ' ' && ch != '\t') || ch == 0x7f {
			return 0, errors.New("control character in a chunk extension")
		}
	}
	if rest := TrimOWS(line[i:]); len(rest) > 0 && rest[0] != ';' {
		return 0, fmt.Errorf("malformed chunk size %q", line)
	}
	return n, nil
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// ReadLine reads one CRLF-terminated line (without it); a bare LF or CR
// is an error. The result is only valid until the next read.
func ReadLine(br *bufio.Reader, limit int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("line too long")
		}
		return nil, err
	}
	if len(line) > limit {
		return nil, errors.New("line too long")
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errors.New("bare LF")
	}
	line = line[:len(line)-2]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, errors.New("bare CR")
	}
	return line, nil
}

func ExpectCRLF(br *bufio.Reader) error {
	b, err := br.Peek(2)
	if err != nil {
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errors.New("chunk data longer than its size")
	}
	_, _ = br.Discard(2)
	return nil
}
