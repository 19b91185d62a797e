package h1

// Limits of a chunked body's framing.
const (
	// MaxChunkLine bounds a chunk-size line (size and extensions, without
	// its CRLF). net/http refuses 4096 bytes and more; extensions are
	// ignored by everyone, so a kilobyte is plenty.
	MaxChunkLine = 1024
	// MaxTrailer bounds the trailer section, from the byte after the last
	// chunk's line to its final CRLF included.
	MaxTrailer = 64 << 10
	// maxOverhead bounds framing bytes not paid for by data, exactly as
	// net/http's chunked reader counts them, so that whatever is accepted
	// here, net/http accepts too.
	maxOverhead = 16 << 10
)

// chunkState is where in a chunked body the next byte falls.
type chunkState uint8

const (
	csSize         chunkState = iota // first hex digit of a chunk size
	csSizeMore                       // more hex digits, ";" or CR
	csExt                            // chunk extensions, up to CR
	csSizeLF                         // LF ending the chunk-size line
	csData                           // chunk data
	csDataCR                         // CR after chunk data
	csDataLF                         // LF after chunk data
	csTrailer                        // start of a trailer line, or CR of the final CRLF
	csTrailerName                    // trailer field name, up to ":"
	csTrailerValue                   // trailer field value, up to CR
	csTrailerLF                      // LF ending a trailer line
	csEndLF                          // LF of the final CRLF
	csDone                           // the body has ended
	csFailed                         // the body was refused
)

// Chunked follows the framing of a chunked body as its raw bytes go by (the
// engine relays the raw bytes unchanged and uses this only to find the end
// and, while peeking, the content). Its zero value is ready for a new body.
//
// It accepts (RFC 9112 section 7.1, strictly):
//
//	chunk-size  = 1*16HEXDIG, at most 2^63-1; no sign, space or "0x"
//	chunk-line  = chunk-size [ ";" extensions ] CRLF, extensions free-form
//	              but without control bytes other than HTAB
//	chunk       = chunk-line chunk-data CRLF
//	last-chunk  = "0"... chunk-line, then trailer field lines with the
//	              syntax of header field lines, then CRLF
//
// A trailer may not be Content-Length, Transfer-Encoding, Trailer or Host,
// since a trailer must not change how a message is framed or routed.
type Chunked struct {
	state   chunkState
	digits  uint8  // hex digits read of the current size
	nameLen uint8  // bytes of the current trailer name held in name
	size    uint64 // the chunk size being read, then data bytes left
	line    int    // bytes of the current chunk-size line
	trailer int    // bytes of the trailer section so far
	excess  int64  // framing overhead, counted as net/http counts it
	err     code
	name    [len("transfer-encoding")]byte // lower-cased trailer name prefix
}

// Reset makes c ready to follow a new body.
func (c *Chunked) Reset() { *c = Chunked{} }

// Done reports whether the body has ended.
func (c *Chunked) Done() bool { return c.state == csDone }

// Next consumes bytes of p that belong to the body, from where the last
// call stopped. It returns n, how many bytes of p it consumed; data, the
// chunk-data bytes within p[:n] (at most one contiguous run; Next returns
// right after it, so a caller that wants the content calls Next again on
// p[n:]); done, true when p[n-1] is the body's last byte (after the last
// chunk, the trailer section and its final CRLF). After done, Next consumes
// nothing and keeps reporting done. A malformed body gives an *Error
// (Status 400), at the first byte that makes it so (p[n]), and the same
// error on every later call.
func (c *Chunked) Next(p []byte) (n int, data []byte, done bool, err error) {
	for n < len(p) {
		switch c.state {
		case csData:
			k := uint64(len(p) - n)
			if k > c.size {
				k = c.size
			}
			data = p[n : n+int(k)]
			n += int(k)
			if c.size -= k; c.size == 0 {
				c.state = csDataCR
			}
			return n, data, false, nil
		case csDone:
			return n, nil, true, nil
		case csFailed:
			return n, nil, false, requestError(c.err)
		}
		if e := c.step(p[n]); e != noError {
			c.state, c.err = csFailed, e
			return n, nil, false, requestError(e)
		}
		n++
	}
	switch c.state {
	case csDone:
		return n, nil, true, nil
	case csFailed:
		return n, nil, false, requestError(c.err)
	}
	return n, nil, false, nil
}

// step takes one framing byte.
func (c *Chunked) step(b byte) code {
	switch c.state {
	case csSize, csSizeMore:
		return c.sizeByte(b)
	case csExt:
		return c.extByte(b)
	case csSizeLF:
		if b != '\n' {
			return errChunkLineEnd
		}
		return c.endSizeLine()
	case csDataCR:
		if b != '\r' {
			return errChunkDataEnd
		}
		c.state = csDataLF
	case csDataLF:
		if b != '\n' {
			return errChunkDataEnd
		}
		c.state, c.size, c.digits, c.line = csSize, 0, 0, 0
	default:
		return c.trailerByte(b)
	}
	return noError
}

// sizeByte takes a byte of the chunk size or what ends it.
func (c *Chunked) sizeByte(b byte) code {
	if v := hexVal[b]; v >= 0 {
		if c.digits == 16 || c.size > (1<<63-1)>>4 {
			return errChunkSize
		}
		c.size = c.size<<4 | uint64(v)
		c.digits++
		c.state = csSizeMore
		return c.countLine()
	}
	switch {
	case c.state == csSize:
		return errChunkSize
	case b == ';':
		c.state = csExt
		return c.countLine()
	case b == '\r':
		c.state = csSizeLF
		return noError
	}
	return errChunkSize
}

// extByte takes a byte of the chunk extensions.
func (c *Chunked) extByte(b byte) code {
	switch {
	case b == '\r':
		c.state = csSizeLF
		return noError
	case !fieldByte[b]:
		return errChunkExtension
	}
	return c.countLine()
}

func (c *Chunked) countLine() code {
	if c.line++; c.line > MaxChunkLine {
		return errChunkLineTooLong
	}
	return noError
}

// endSizeLine ends a chunk-size line: the chunk's data follows, or for the
// last chunk the trailer section. The overhead count is net/http's, wrapping
// arithmetic included.
func (c *Chunked) endSizeLine() code {
	c.excess += int64(c.line) + 2
	c.excess -= 16 + 2*int64(c.size)
	c.excess = max(c.excess, 0)
	if c.excess > maxOverhead {
		return errChunkOverhead
	}
	if c.size == 0 {
		c.state = csTrailer
	} else {
		c.state = csData
	}
	return noError
}

// trailerByte takes a byte of the trailer section.
func (c *Chunked) trailerByte(b byte) code {
	if c.trailer++; c.trailer > MaxTrailer {
		return errTrailerTooLarge
	}
	switch c.state {
	case csTrailer:
		switch {
		case b == '\r':
			c.state = csEndLF
		case tchar[b]:
			c.state, c.nameLen = csTrailerName, 0
			c.nameByte(b)
		default:
			return errTrailerName
		}
	case csTrailerName:
		switch {
		case b == ':':
			if c.forbiddenName() {
				return errForbiddenTrailer
			}
			c.state = csTrailerValue
		case tchar[b]:
			c.nameByte(b)
		default:
			return errTrailerName
		}
	case csTrailerValue:
		switch {
		case b == '\r':
			c.state = csTrailerLF
		case !fieldByte[b]:
			return errTrailerValue
		}
	case csTrailerLF:
		if b != '\n' {
			return errTrailerValue
		}
		c.state = csTrailer
	case csEndLF:
		if b != '\n' {
			return errChunkLineEnd
		}
		c.state = csDone
	}
	return noError
}

// nameByte keeps the start of a trailer name, enough to recognize the
// forbidden ones, and counts the rest.
func (c *Chunked) nameByte(b byte) {
	if int(c.nameLen) < len(c.name) {
		c.name[c.nameLen] = lower(b)
	}
	if c.nameLen < 255 {
		c.nameLen++
	}
}

// forbiddenName reports whether the trailer name just read is one a
// trailer may not be.
func (c *Chunked) forbiddenName() bool {
	if int(c.nameLen) > len(c.name) {
		return false
	}
	switch string(c.name[:c.nameLen]) {
	case "content-length", "transfer-encoding", "trailer", "host":
		return true
	}
	return false
}
