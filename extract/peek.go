package extract

import (
	"errors"
	"io"
)

// Peek reads r into buf until s decides, buf is full, or r ends. It never
// reads more than len(buf) bytes from r. It returns the number of bytes read
// into buf, the key and s's final answer; the key aliases buf or s's own
// memory and is valid until s is used again.
//
// s sees the empty window before anything is read, so a scanner with
// nothing to look for costs no read.
//
// err is nil when r ended (io.EOF is not reported) and otherwise the read
// error that stopped the peek; then buf[:n] still holds what was read and res
// is what s concluded from it. A reader that keeps returning no bytes and no
// error stops the peek with io.ErrNoProgress. eof reports whether r is known
// to be exhausted, that is whether buf[:n] is the whole stream.
func Peek(r io.Reader, buf []byte, s Scanner) (n int, key []byte, res Result, eof bool, err error) {
	p := peekBuf{r: r, buf: buf}
	key, res = p.scan(s)
	return p.n, key, res, p.eof, p.err
}

// peekBuf reads a stream into a fixed buffer, in whatever chunks the
// reader gives, but never past the buffer's end. It is the one bounded read
// under every driver: Peek's, the compressed bytes PeekDecoded records, and
// the bytes they decode to.
type peekBuf struct {
	r     io.Reader
	buf   []byte
	n     int   // bytes of buf read from r
	eof   bool  // r is exhausted
	err   error // the error that stopped the reading, never io.EOF
	empty int   // reads in a row that returned nothing
}

// maxEmptyReads is how many reads in a row may return nothing before a
// peekBuf gives up on its reader, as bufio does.
const maxEmptyReads = 100

// done reports whether no more can be read: buf is full, or r ended or
// failed.
func (p *peekBuf) done() bool { return p.n == len(p.buf) || p.eof || p.err != nil }

// fill reads once from r into the rest of buf. A reader that keeps
// returning no bytes and no error fails with io.ErrNoProgress.
func (p *peekBuf) fill() {
	m, err := p.r.Read(p.buf[p.n:])
	p.n += m
	switch {
	case errors.Is(err, io.EOF):
		p.eof = true
	case err != nil:
		p.err = err
	case m > 0:
		p.empty = 0
	default:
		if p.empty++; p.empty == maxEmptyReads {
			p.err = io.ErrNoProgress
		}
	}
}

// scan runs s over buf as it fills, from the empty window on, until s
// decides or no more can be read. A final window that r did not end is
// cut short, and s is told so.
func (p *peekBuf) scan(s Scanner) ([]byte, Result) {
	for {
		final := p.done()
		if final && !p.eof {
			tellCut(s)
		}
		key, res := s.Scan(p.buf[:p.n], final)
		if res != NeedMore {
			return key, res
		}
		if final {
			// A scanner that still wants more at the end breaks its
			// contract; treat it as no key rather than loop forever.
			return nil, NotFound
		}
		p.fill()
	}
}

func tellCut(s Scanner) {
	if c, ok := s.(cutter); ok {
		c.cutShort()
	}
}
