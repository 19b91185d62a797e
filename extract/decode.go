package extract

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// ErrUnsupportedEncoding is returned by PeekDecoded for a content coding it
// cannot decode.
var ErrUnsupportedEncoding = errors.New("unsupported content encoding")

var (
	// errRawFull is what the decompressor reads once raw is full.
	errRawFull = errors.New("extract: raw peek limit reached")
	// errNoHeader stops the decoded peek of a stream whose header does
	// not decode.
	errNoHeader = errors.New("extract: no compressed stream header")
)

// PeekDecoded is Peek for a body compressed with a content coding: s sees
// the decoded stream. The bytes read from r are recorded in raw[:nRaw],
// never more than len(raw), so the caller can forward them as they came;
// they may run past the bytes the decoder used. The decoded bytes go into
// decoded and never beyond it, so however much a body inflates it costs no
// more memory; the key aliases decoded or s's own memory.
//
// encoding is the Content-Encoding value: "gzip" (or "x-gzip"), "deflate"
// (zlib-wrapped as HTTP defines it, or raw deflate, told apart by the zlib
// header), or "" or "identity", for which PeekDecoded is Peek over raw and
// decoded is unused. For any other coding, or a list of codings, it reads
// nothing and returns an error wrapping ErrUnsupportedEncoding.
//
// err is a read error from r, never io.EOF; a body that does not
// decompress is not an error: s sees what decoded before the fault, as its
// final window. eof reports whether raw[:nRaw] is the whole of r.
func PeekDecoded(r io.Reader, raw, decoded []byte, encoding string, s Scanner) (nRaw int, key []byte, res Result, eof bool, err error) {
	var deflate bool
	switch enc := strings.TrimSpace(encoding); {
	case enc == "" || strings.EqualFold(enc, "identity"):
		return Peek(r, raw, s)
	case strings.EqualFold(enc, "gzip") || strings.EqualFold(enc, "x-gzip"):
	case strings.EqualFold(enc, "deflate"):
		deflate = true
	default:
		return 0, nil, NotFound, false, fmt.Errorf("%w: %q", ErrUnsupportedEncoding, encoding)
	}
	in := inflaters.Get().(*inflater)
	defer in.release()
	in.src = rawReader{peekBuf: peekBuf{r: r, buf: raw}}
	dec, ok := in.open(deflate)
	out := peekBuf{r: dec, buf: decoded}
	if !ok {
		out.err = errNoHeader // s sees the empty window, cut short
	}
	key, res = out.scan(s)
	return in.src.n, key, res, in.src.eof, in.src.err
}

// inflater holds decompressors for reuse: their windows and tables are
// large, so they are pooled rather than made per request. What is left to
// allocate is compress/flate's own: a few small link tables for each
// dynamic block whose codes run longer than nine bits.
type inflater struct {
	src rawReader
	gz  gzip.Reader
	raw io.ReadCloser // made on first use
}

var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// open readies the decompressor for src; ok is false when the stream's
// header does not decode. A zlib stream is read as its raw deflate body:
// the header is skipped and the Adler-32 trailer left alone, since only
// the decoded bytes matter here and the stdlib's zlib reader allocates a
// checksum per stream.
func (in *inflater) open(deflate bool) (io.Reader, bool) {
	if !deflate {
		err := in.gz.Reset(&in.src)
		return &in.gz, err == nil
	}
	if flg, ok := in.src.zlibHeader(); ok {
		if flg&0x20 != 0 {
			return nil, false // needs a preset dictionary
		}
		in.src.off += 2
	}
	if in.raw == nil {
		in.raw = flate.NewReader(&in.src)
	} else if in.raw.(flate.Resetter).Reset(&in.src, nil) != nil {
		return nil, false
	}
	return in.raw, true
}

// release drops the references to the caller's reader and buffer and
// returns in to the pool.
func (in *inflater) release() {
	in.src = rawReader{}
	inflaters.Put(in)
}

// rawReader reads the compressed stream from r into buf, recording every
// byte read, and hands the bytes on to a decompressor. As an io.ByteReader
// it keeps the decompressors from adding a buffer of their own, which would
// read further ahead.
type rawReader struct {
	peekBuf
	off int // bytes of buf handed on
}

// more reads from r into buf and reports whether there is a byte to hand on.
func (rr *rawReader) more() bool {
	for rr.off == rr.n {
		if rr.done() {
			return false
		}
		rr.fill()
	}
	return true
}

// stop is the error for a decompressor that wants more than there is.
func (rr *rawReader) stop() error {
	switch {
	case rr.err != nil:
		return rr.err
	case rr.eof:
		return io.EOF
	}
	return errRawFull
}

func (rr *rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !rr.more() {
		return 0, rr.stop()
	}
	m := copy(p, rr.buf[rr.off:rr.n])
	rr.off += m
	return m, nil
}

func (rr *rawReader) ReadByte() (byte, error) {
	if !rr.more() {
		return 0, rr.stop()
	}
	rr.off++
	return rr.buf[rr.off-1], nil
}

// zlibHeader reports whether the stream starts with a zlib header (RFC
// 1950): deflate with a window of at most 32 KiB, and a check making the
// first two bytes a multiple of 31, which raw deflate data rarely does
// both. It returns the header's flag byte, and hands nothing on.
func (rr *rawReader) zlibHeader() (flg byte, ok bool) {
	for rr.n-rr.off < 2 {
		off := rr.off
		rr.off = rr.n // ask more of r without handing anything on
		more := rr.more()
		rr.off = off
		if !more {
			return 0, false
		}
	}
	cmf, flg := rr.buf[rr.off], rr.buf[rr.off+1]
	return flg, cmf&0x0f == 8 && cmf>>4 <= 7 && (uint(cmf)<<8|uint(flg))%31 == 0
}
