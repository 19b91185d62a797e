// Package extract finds a routing key near the start of a byte stream
// without reading past a fixed limit.
//
// It owns the streaming scanners, one per key syntax (an XML element, a
// JSON path, a form field, a regular expression); the Chain that runs the
// scanners of several key sources over one pass of a body; the drivers
// that feed a scanner a bounded window of a stream (Peek, and PeekDecoded
// for gzip and deflate bodies); and the parsing of key-source lists
// (ParseSources). A scanner sees a window that only ever grows: every call
// passes all bytes read so far, the old ones unchanged, and the scanner
// resumes where it stopped, so no byte is examined twice and nothing is
// copied per byte.
//
// extract must never know about HTTP, routing or backends: it turns bytes into
// a key and nothing more. Header, query and cookie sources are only parsed
// here, for the caller to look up; media types and content codings arrive
// as plain strings. Callers decide what a key means.
package extract

import (
	"errors"
	"io"
)

// Result is the state of a scan.
type Result uint8

const (
	// NeedMore means the key may still appear in bytes not yet seen.
	NeedMore Result = iota
	// Found means the key is complete; more bytes cannot change it.
	Found
	// NotFound means the key cannot appear in this stream: it ended, or
	// the window reached its limit, or the document rules a match out.
	NotFound
)

func (r Result) String() string {
	switch r {
	case NeedMore:
		return "need-more"
	case Found:
		return "found"
	case NotFound:
		return "not-found"
	}
	return "invalid"
}

// Scanner looks for one key in a growing window of a stream.
//
// Scan is called with every byte read so far; between calls the window only
// grows and the bytes already passed never change. final reports that no more
// bytes will come (the stream ended or the window is at its limit), so a
// scanner must then answer Found or NotFound. The returned key is valid until
// the next call to Scan or Reset and must not be retained.
//
// Once Scan has returned Found or NotFound, later calls return the same answer.
type Scanner interface {
	Scan(window []byte, final bool) (key []byte, res Result)
	// Reset readies the scanner for a new stream, keeping its buffers.
	Reset()
}

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
	empty := 0 // consecutive reads that returned nothing
	for {
		final := n == len(buf) || eof || err != nil
		if final && !eof {
			tellCut(s)
		}
		key, res = s.Scan(buf[:n], final)
		if res != NeedMore {
			return n, key, res, eof, err
		}
		if final {
			// A scanner that still wants more at the end breaks its
			// contract; treat it as no key rather than loop forever.
			return n, nil, NotFound, eof, err
		}
		var m int
		m, err = r.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			eof, err = true, nil
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty == maxEmptyReads && err == nil && !eof {
			err = io.ErrNoProgress
		}
	}
}

// cutter is implemented by scanners whose key may run to the end of the
// stream, with nothing to close it (a form field, a regex match). The
// drivers call cutShort before a final Scan whose window was cut short by
// the limit or a read error rather than ended by the stream, so that such
// a key is not taken for complete. A scanner used without a driver sees a
// final window as the whole stream.
type cutter interface{ cutShort() }

func tellCut(s Scanner) {
	if c, ok := s.(cutter); ok {
		c.cutShort()
	}
}

// maxEmptyReads is how many reads in a row may return nothing before Peek
// gives up on the reader, as bufio does.
const maxEmptyReads = 100
