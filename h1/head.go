package h1

import (
	"bytes"
	"encoding/binary"
)

// Limits bound what a head may hold.
type Limits struct {
	MaxFields int // most field lines in a head (0: 100)
}

// DefaultMaxFields is the MaxFields of a zero Limits.
const DefaultMaxFields = 100

func (l Limits) maxFields() int {
	if l.MaxFields <= 0 {
		return DefaultMaxFields
	}
	return l.MaxFields
}

// HeadEnd reports where the head at the start of buf ends: the index just
// past the blank line (CRLF CRLF, or a bare LF LF which Parse will then
// refuse), or -1 if buf does not hold a whole head yet. from is the value
// next returned by the previous call on the same growing buffer (0 at
// first), so no byte is examined twice (but for a line feed and the two
// bytes after it, when they arrive apart); a buf that starts with CRLF or LF
// (an empty first line) ends at once so that Parse refuses it.
//
// Any line feed followed by CRLF or by LF ends the head, so that LF CRLF and
// CRLF LF end it too: wherever a lenient parser would see the blank line,
// the head ends here no later, and Parse refuses the bare LF in it. A bare
// CR never ends a line.
//
// Once end >= 0, next is end. While end is -1, next is where the next call
// resumes: len(buf), or the last line feed when the bytes that decide it
// have not arrived yet.
func HeadEnd(buf []byte, from int) (end, next int) {
	if from == 0 && len(buf) > 0 {
		switch {
		case buf[0] == '\n':
			return 1, 1
		case buf[0] == '\r' && len(buf) == 1:
			return -1, 0
		case buf[0] == '\r' && buf[1] == '\n':
			return 2, 2
		}
	}
	i := from
	for i < len(buf) {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			break
		}
		i += j // buf[i] is a line feed
		switch {
		case i+1 == len(buf):
			return -1, i
		case buf[i+1] == '\n':
			return i + 2, i + 2
		case buf[i+1] != '\r':
		case i+2 == len(buf):
			return -1, i
		case buf[i+2] == '\n':
			return i + 3, i + 3
		}
		i++
	}
	return -1, len(buf)
}

// Field is one field line of a head.
type Field struct {
	Name  []byte // as sent (case kept)
	Value []byte // leading and trailing SP/HTAB removed
	// Hop marks a hop-by-hop field, one a relay does not forward:
	// Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding,
	// Upgrade, Proxy-Authenticate, Proxy-Authorization, or a field named in
	// a Connection field. Trailer is end-to-end. Content-Length and Host are
	// never Hop, even when a Connection field names them: dropping either
	// would change how the next hop frames or routes the message.
	Hop bool
}

// firstLine splits the start line (without its CRLF) from the rest of head.
func firstLine(head []byte) (line, rest []byte, c code) {
	i := bytes.IndexByte(head, '\n')
	if i < 0 {
		return nil, nil, errIncomplete
	}
	if i == 0 || head[i-1] != '\r' {
		return nil, nil, errBareLF
	}
	return head[:i-1], head[i+1:], noError
}

// kind is a field whose value this package reads or whose name makes it
// hop-by-hop.
type kind uint8

const (
	kOther kind = iota
	kHost
	kContentLength
	kTransferEncoding
	kConnection
	kUpgrade
	kExpect
	kTrailer
	kHop // hop-by-hop with nothing more to read: Keep-Alive, TE, ...
)

// classify names the field called name, a token. It looks at the length
// first, so most fields cost one switch and at most two comparisons.
func classify(name []byte) kind {
	switch len(name) {
	case 2:
		if tokenIs(name, "te") {
			return kHop
		}
	case 4:
		if tokenIs(name, "host") {
			return kHost
		}
	case 6:
		if tokenIs(name, "expect") {
			return kExpect
		}
	case 7:
		if tokenIs(name, "upgrade") {
			return kUpgrade
		}
		if tokenIs(name, "trailer") {
			return kTrailer
		}
	case 10:
		if tokenIs(name, "connection") {
			return kConnection
		}
		if tokenIs(name, "keep-alive") {
			return kHop
		}
	case 14:
		if tokenIs(name, "content-length") {
			return kContentLength
		}
	case 16:
		if tokenIs(name, "proxy-connection") {
			return kHop
		}
	case 17:
		if tokenIs(name, "transfer-encoding") {
			return kTransferEncoding
		}
	case 18:
		if tokenIs(name, "proxy-authenticate") {
			return kHop
		}
	case 19:
		if tokenIs(name, "proxy-authorization") {
			return kHop
		}
	}
	return kOther
}

// tokenIs reports whether the token b equals lower, a lower-case name of
// letters, digits and "-", ASCII case-insensitively. Setting bit 0x20 folds
// a letter to lower case and leaves digits and "-" alone; the only other
// bytes it would fold onto them are not token characters.
func tokenIs(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// facts is what the fields of one head say about its message, gathered by
// parseFields.
type facts struct {
	minor         int // of the start line, read by parseFields
	contentLength int64
	haveLength    bool
	chunked       bool // one Transfer-Encoding field, exactly "chunked"
	host          []byte
	hosts         int
	connection    bool // some Connection field
	connClose     bool
	connKeepAlive bool
	connUpgrade   bool
	upgrade       bool // some Upgrade field
	expect100     bool
}

// closes reports whether the message asks for the connection to close
// after it: Connection: close, or HTTP/1.0 without keep-alive.
func (f *facts) closes() bool {
	return f.connClose || f.minor == 0 && !f.connKeepAlive
}

// parseFields parses the field lines in b, which is what follows the start
// line up to and including the blank line's CRLF. It appends each field to
// fs and records what it says in f.
func parseFields(b []byte, fs []Field, max int, f *facts) ([]Field, code) {
	for {
		switch {
		case len(b) > 0 && b[0] == '\n':
			return fs, errBareLF
		case len(b) < 2:
			return fs, errIncomplete
		case b[0] == '\r' && b[1] != '\n':
			return fs, errBareCR
		case b[0] == '\r':
			if len(b) != 2 {
				return fs, errTrailingBytes
			}
			if f.haveLength && f.chunked {
				return fs, errLengthAndChunked
			}
			if f.connection {
				markConnectionOptions(fs)
			}
			return fs, noError
		case len(fs) == max:
			return fs, errTooManyFields
		}
		name, value, rest, c := splitField(b)
		if c != noError {
			return fs, c
		}
		hop, c := f.record(classify(name), value)
		if c != noError {
			return fs, c
		}
		fs = append(fs, Field{Name: name, Value: value, Hop: hop})
		b = rest
	}
}

// splitField splits the field line at the start of b into its name and its
// value with OWS trimmed, and returns what follows its CRLF. It refuses
// obs-fold, anything but a token before the colon (a space included),
// control bytes other than HTAB in the value, and a line that does not end
// in CRLF.
func splitField(b []byte) (name, value, rest []byte, c code) {
	if b[0] == ' ' || b[0] == '\t' {
		return nil, nil, nil, errObsFold
	}
	i := 0
	for i < len(b) && tchar[b[i]] {
		i++
	}
	if i == 0 || i == len(b) || b[i] != ':' {
		return nil, nil, nil, errFieldName
	}
	start := i + 1
	end := start + fieldRun(b[start:])
	switch {
	case end+1 >= len(b):
		return nil, nil, nil, errIncomplete
	case b[end] == '\n':
		return nil, nil, nil, errBareLF
	case b[end] != '\r':
		return nil, nil, nil, errFieldValue
	case b[end+1] != '\n':
		return nil, nil, nil, errBareCR
	}
	return b[:i], trimOWS(b[start:end]), b[end+2:], noError
}

// fieldRun returns how many bytes at the start of s a field value may hold
// (see fieldByte). Eight bytes at a time, it looks for a byte below 0x20 or
// equal to 0x7f, and only then goes byte by byte, since HTAB is the one
// byte below 0x20 that a value may hold.
func fieldRun(s []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for {
		for ; i+8 <= len(s); i += 8 {
			w := binary.LittleEndian.Uint64(s[i:])
			del := w ^ 0x7f*ones
			if (w-0x20*ones)&^w&highs != 0 || (del-ones)&^del&highs != 0 {
				break
			}
		}
		stop := min(i+8, len(s))
		for ; i < stop; i++ {
			if !fieldByte[s[i]] {
				return i
			}
		}
		if i == len(s) {
			return i
		}
	}
}

// record notes what one field of kind k with the given value says, and
// reports whether the field is hop-by-hop by its name.
func (f *facts) record(k kind, value []byte) (hop bool, c code) {
	switch k {
	case kHost:
		f.hosts++
		if f.hosts > 1 {
			return false, errDuplicateHost
		}
		f.host = value
	case kContentLength:
		if f.haveLength {
			return false, errDuplicateContentLength
		}
		n, ok := parseLength(value)
		if !ok {
			return false, errContentLength
		}
		f.contentLength, f.haveLength = n, true
	case kTransferEncoding:
		return true, f.recordTransferEncoding(value)
	case kConnection:
		f.connection = true
		for v := value; len(v) > 0; {
			var opt []byte
			opt, v = nextElement(v)
			switch {
			case equalFold(opt, "close"):
				f.connClose = true
			case equalFold(opt, "keep-alive"):
				f.connKeepAlive = true
			case equalFold(opt, "upgrade"):
				f.connUpgrade = true
			}
		}
		return true, noError
	case kUpgrade:
		f.upgrade = true
		return true, noError
	case kExpect:
		f.expect100 = f.expect100 || HasToken(value, "100-continue")
	case kTrailer:
		if namesFramingField(value) {
			return false, errTrailerField
		}
	case kHop:
		return true, noError
	}
	return false, noError
}

// recordTransferEncoding accepts one Transfer-Encoding field whose value is
// exactly "chunked", on HTTP/1.1 only. A value that lists codings other
// than chunked is refused with 501 (RFC 9112 section 6.1: a transfer coding
// the server does not understand); any other oddity — a second field,
// chunked twice, an empty or malformed element — with 400.
func (f *facts) recordTransferEncoding(value []byte) code {
	switch {
	case f.minor == 0:
		return errChunkedHTTP10
	case f.chunked:
		return errDuplicateTransferEncoding
	case equalFold(value, "chunked"):
		f.chunked = true
		return noError
	}
	unknown := false
	for rest := value; ; {
		var elem []byte
		elem, rest = nextElement(rest)
		if !isTokenString(elem) {
			return errTransferEncoding
		}
		if !equalFold(elem, "chunked") {
			unknown = true
		}
		if rest == nil {
			break
		}
	}
	if unknown {
		return errUnknownCoding
	}
	return errTransferEncoding
}

// nextElement splits the first element off a comma-separated list,
// trimming OWS around it; rest is what follows the comma (nil at the end).
func nextElement(list []byte) (elem, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return trimOWS(list[:i]), list[i+1:]
	}
	return trimOWS(list), nil
}

func isTokenString(b []byte) bool {
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return len(b) > 0
}

// namesFramingField reports whether a Trailer field's value announces a
// field that must never be a trailer because it frames or routes the
// message (net/http refuses the first three too).
func namesFramingField(value []byte) bool {
	return HasToken(value, "content-length") || HasToken(value, "transfer-encoding") ||
		HasToken(value, "trailer") || HasToken(value, "host")
}

// maxLengthDigits bounds a Content-Length: 2^63-1 has 19 digits, and more
// digits (even leading zeros) are refused rather than read.
const maxLengthDigits = 19

// parseLength reads a Content-Length value: 1 to 19 digits, at most
// 2^63-1. Signs, spaces inside, lists and anything else are refused.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > maxLengthDigits {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// markConnectionOptions marks as hop-by-hop every field a Connection field
// names, except Content-Length and Host (see Field.Hop).
func markConnectionOptions(fs []Field) {
	for i := range fs {
		if !equalFold(fs[i].Name, "connection") {
			continue
		}
		for v := fs[i].Value; len(v) > 0; {
			var opt []byte
			opt, v = nextElement(v)
			if len(opt) == 0 || equalFold(opt, "content-length") || equalFold(opt, "host") {
				continue
			}
			for j := range fs {
				if !fs[j].Hop && equalFoldBytes(fs[j].Name, opt) {
					fs[j].Hop = true
				}
			}
		}
	}
}

// field returns the value of the first field called name in fs.
func field(fs []Field, name string) []byte {
	for i := range fs {
		if equalFold(fs[i].Name, name) {
			return fs[i].Value
		}
	}
	return nil
}
