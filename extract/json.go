package extract

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting a JSON scanner follows; a deeper document
// yields NotFound.
const maxJSONDepth = 512

type jsonState uint8

const (
	jValue    jsonState = iota // before a value
	jObjFirst                  // after '{': a key or '}'
	jObjKey                    // after ',' in an object: a key
	jColon                     // after a key: ':'
	jArrFirst                  // after '[': a value or ']'
	jAfter                     // after a value: ',' or the closing bracket
	jString                    // inside a string
	jEscape                    // after '\' in a string
	jHex                       // inside the four digits of \uXXXX
	jNumber                    // inside a number
	jLiteral                   // inside true, false or null
)

// Number grammar, RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
const (
	nMinus   uint8 = iota // after '-'
	nZero                 // after a leading 0
	nInt                  // in the integer digits
	nDot                  // after '.'
	nFrac                 // in the fraction digits
	nExp                  // after 'e'
	nExpSign              // after the exponent's sign
	nExpDig               // in the exponent digits
)

// jsonScanner finds the value at a path such as items.0.id in a JSON
// document. The first value in document order whose path matches decides
// (where encoding/json, keeping the last of duplicate keys, may differ). A
// string yields its decoded text, a number its text as written, a boolean
// "true" or "false"; null, an empty string, an object or an array yield
// NotFound. Strings are decoded as encoding/json does: escapes, surrogate
// pairs, and U+FFFD for invalid UTF-8 or a lone surrogate. The value counts
// once the comma or bracket after it is read.
//
// The scanner checks the grammar of everything it reads, so a malformed
// document yields NotFound, unless the key was complete before the fault.
type jsonScanner struct {
	scanState
	path  []string
	index []int // path[i] as an array index, or -1
	elem  []int // by depth, the index of the current element of an array on the path

	state  jsonState
	depth  int                       // open containers
	onPath int                       // how many of the outermost open containers lie on the path
	arrays [maxJSONDepth / 64]uint64 // which open containers are arrays, by depth-1
	arr    bool                      // the innermost open container is an array

	sel     bool // the key just read leads along the path
	target  bool // the value being read is the one sought
	isKey   bool // the string being read is an object key
	esc     bool // the string holds escapes
	high    bool // the string holds non-ASCII bytes
	pending bool // the sought value is read; its key awaits the next delimiter
	start   int  // start of the string's contents, the number or the literal
	aux     int  // hex digits left in \uXXXX; bytes of a literal matched
	num     uint8
	lit     string // the literal being read
}

// newJSON returns a scanner for the value at path, dot-separated; the path
// must have passed parsePath.
func newJSON(path string) *jsonScanner {
	segs, index, _ := parsePath(path)
	s := &jsonScanner{path: segs, index: index, elem: make([]int, len(segs)+1)}
	s.Reset()
	return s
}

// Reset readies the scanner for a new stream, keeping its buffers.
func (s *jsonScanner) Reset() {
	*s = jsonScanner{path: s.path, index: s.index, elem: s.elem, scanState: scanState{buf: s.buf[:0]}}
}

// Scan implements Scanner.
func (s *jsonScanner) Scan(window []byte, final bool) ([]byte, Result) {
	if s.resume(window) {
		s.step(window, final)
	}
	return s.answer(final)
}

func (s *jsonScanner) step(w []byte, _ bool) {
	for s.res == NeedMore && s.pos < len(w) {
		if s.state <= jAfter && s.onPath < s.depth {
			s.skip(w)
			if s.res != NeedMore || s.pos == len(w) {
				return
			}
			// The container closed, or the window cut a token: the
			// general states take over.
		}
		switch s.state {
		case jString:
			s.str(w)
			continue
		case jEscape:
			s.escape(w[s.pos])
			continue
		case jHex:
			if hexDigit(w[s.pos]) < 0 {
				s.fail()
				return
			}
			s.pos++
			if s.aux--; s.aux == 0 {
				s.state = jString
			}
			continue
		case jNumber:
			s.number(w)
			continue
		case jLiteral:
			s.literal(w)
			continue
		}
		// The other states begin with optional whitespace.
		for s.pos < len(w) && isSpace(w[s.pos]) {
			s.pos++
		}
		if s.pos == len(w) {
			return
		}
		c := w[s.pos]
		switch s.state {
		case jValue:
			s.value(c)
		case jArrFirst:
			if c == ']' {
				s.close()
			} else {
				s.value(c)
			}
		case jObjFirst, jObjKey:
			switch {
			case c == '"':
				s.isKey = true
				s.openString()
			case c == '}' && s.state == jObjFirst:
				s.close()
			default:
				s.fail()
			}
		case jColon:
			if c != ':' {
				s.fail()
				return
			}
			s.pos++
			s.state = jValue
		case jAfter:
			s.after(w, c)
		}
	}
}

func (s *jsonScanner) inArray() bool {
	d := s.depth - 1
	return s.arrays[d/64]&(1<<(d%64)) != 0
}

// value starts the value beginning with c, deciding first whether it is
// the one sought or a container on the way to it.
func (s *jsonScanner) value(c byte) {
	hit := s.sel
	if s.arr {
		hit = s.onPath == s.depth && s.elem[s.depth] == s.index[s.depth-1]
	}
	s.sel = false
	s.target = hit && s.depth == len(s.path)
	s.start = s.pos
	switch {
	case c == '{' || c == '[':
		if s.target || !s.push(c == '[') {
			s.fail() // a structure is no key; or too deep to follow
			return
		}
		s.pos++
		if hit || s.depth == 1 {
			s.onPath = s.depth
			s.elem[s.depth] = 0
		}
	case s.depth == 0:
		s.fail() // a scalar document holds no path
	case c == '"':
		s.isKey = false
		s.openString()
	case c == '-' || '0' <= c && c <= '9':
		s.state, s.num = jNumber, nMinus
		if c != '-' {
			s.num = nInt
			if c == '0' {
				s.num = nZero
			}
		}
		s.pos++
	case c == 't':
		s.openLiteral("true")
	case c == 'f':
		s.openLiteral("false")
	case c == 'n':
		s.openLiteral("null")
	default:
		s.fail()
	}
}

func (s *jsonScanner) openString() {
	s.pos++
	s.state = jString
	s.start = s.pos
	s.esc, s.high = false, false
}

func (s *jsonScanner) openLiteral(lit string) {
	s.state, s.lit, s.aux = jLiteral, lit, 0
}

// Byte classes inside a JSON string.
const (
	sPlain = iota
	sHigh
	sQuote
	sBackslash
	sControl
)

var strClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c < 0x20:
			t[c] = sControl
		case c == '"':
			t[c] = sQuote
		case c == '\\':
			t[c] = sBackslash
		case c >= utf8.RuneSelf:
			t[c] = sHigh
		}
	}
	return t
}()

// str reads string contents up to the closing quote or an escape.
func (s *jsonScanner) str(w []byte) {
	i, high := nextSpecial(w, s.pos)
	s.high = s.high || high
	if i == len(w) {
		s.pos = i
		return
	}
	s.pos = i + 1
	switch w[i] {
	case '"':
		s.endString(w, s.start, i)
	case '\\':
		s.esc = true
		s.state = jEscape
	default:
		s.fail() // control characters must be escaped
	}
}

// nextSpecial returns the offset from i of the first quote, backslash or
// control character in w, or len(w), and whether the bytes before it hold
// a non-ASCII one. It looks at eight bytes at a time.
func nextSpecial(w []byte, i int) (_ int, high bool) {
	const msb = 0x8080808080808080
	for ; i+8 <= len(w); i += 8 {
		x := binary.LittleEndian.Uint64(w[i:])
		if m := specials(x); m != 0 {
			n := bits.TrailingZeros64(m) / 8
			return i + n, high || x&msb&(1<<(8*n)-1) != 0
		}
		high = high || x&msb != 0
	}
	for ; i < len(w) && strClass[w[i]] <= sHigh; i++ {
		high = high || w[i] >= utf8.RuneSelf
	}
	return i, high
}

// specials flags the high bit of each byte of x that is a quote, a
// backslash or a control character, exactly up to the lowest such byte
// (the borrows of the subtractions can only flag bytes above it).
func specials(x uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q, b := x^(lsb*'"'), x^(lsb*'\\')
	return ((x-lsb*0x20)&^x | (q-lsb)&^q | (b-lsb)&^b) & msb
}

func (s *jsonScanner) escape(c byte) {
	s.pos++
	switch c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.state = jString
	case 'u':
		s.state, s.aux = jHex, 4
	default:
		s.fail()
	}
}

// endString handles a string whose contents are w[start:end].
func (s *jsonScanner) endString(w []byte, start, end int) {
	raw := w[start:end]
	if s.isKey {
		s.state = jColon
		s.sel = s.onPath == s.depth && s.equal(raw, s.path[s.depth-1])
		return
	}
	s.state = jAfter
	if !s.target {
		return
	}
	if s.plain(raw) {
		s.hold, s.vs, s.ve = holdWindow, start, end
	} else {
		s.buf = appendJSONString(s.buf[:0], raw)
		s.hold = holdBuf
	}
	if start == end {
		s.fail() // an empty string is no key
		return
	}
	s.pending = true
}

// plain reports whether the string just read decodes to itself.
func (s *jsonScanner) plain(raw []byte) bool {
	return !s.esc && (!s.high || utf8.Valid(raw))
}

// equal reports whether the string just read decodes to seg.
func (s *jsonScanner) equal(raw []byte, seg string) bool {
	if s.plain(raw) {
		return string(raw) == seg
	}
	s.buf = appendJSONString(s.buf[:0], raw)
	return string(s.buf) == seg
}

// number reads a number up to the first byte that cannot continue it.
func (s *jsonScanner) number(w []byte) {
	for ; s.pos < len(w); s.pos++ {
		c := w[s.pos]
		digit := '0' <= c && c <= '9'
		switch s.num {
		case nMinus:
			switch {
			case c == '0':
				s.num = nZero
			case digit:
				s.num = nInt
			default:
				s.fail()
				return
			}
		case nZero, nInt, nFrac:
			switch {
			case digit && s.num != nZero:
			case c == '.' && s.num != nFrac:
				s.num = nDot
			case c == 'e' || c == 'E':
				s.num = nExp
			default:
				s.endScalar(s.start, s.pos)
				return
			}
		case nDot:
			if !digit {
				s.fail()
				return
			}
			s.num = nFrac
		case nExp:
			switch {
			case c == '+' || c == '-':
				s.num = nExpSign
			case digit:
				s.num = nExpDig
			default:
				s.fail()
				return
			}
		case nExpSign, nExpDig:
			switch {
			case digit:
				s.num = nExpDig
			case s.num == nExpDig:
				s.endScalar(s.start, s.pos)
				return
			default:
				s.fail()
				return
			}
		}
	}
}

func (s *jsonScanner) literal(w []byte) {
	for ; s.pos < len(w) && s.aux < len(s.lit); s.pos++ {
		if w[s.pos] != s.lit[s.aux] {
			s.fail()
			return
		}
		s.aux++
	}
	if s.aux < len(s.lit) {
		return
	}
	if s.target && s.lit == "null" {
		s.fail() // null is no key
		return
	}
	s.endScalar(s.start, s.pos)
}

// endScalar handles a number or literal written as w[start:end].
func (s *jsonScanner) endScalar(start, end int) {
	s.state = jAfter
	if s.target {
		s.hold, s.vs, s.ve, s.pending = holdWindow, start, end, true
	}
}

// after reads the delimiter after a value.
func (s *jsonScanner) after(w []byte, c byte) {
	if s.depth == 0 {
		s.fail() // the document is complete
		return
	}
	arr := s.arr
	switch {
	case c == ',':
		if s.pending {
			s.found(s.held(w))
			return
		}
		s.pos++
		if !arr {
			s.state = jObjKey
			return
		}
		if s.onPath == s.depth {
			s.elem[s.depth]++
		}
		s.state = jValue
	case c == ']' && arr, c == '}' && !arr:
		if s.pending {
			s.found(s.held(w))
			return
		}
		s.close()
	default:
		s.fail()
	}
}

// close reads the bracket that closes the innermost container.
func (s *jsonScanner) close() {
	s.pos++
	s.pop()
}

// push opens a container, unless that would nest too deep.
func (s *jsonScanner) push(array bool) bool {
	if s.depth == maxJSONDepth {
		return false
	}
	d := s.depth
	s.depth++
	s.arr = array
	if array {
		s.arrays[d/64] |= 1 << (d % 64)
		s.state = jArrFirst
	} else {
		s.arrays[d/64] &^= 1 << (d % 64)
		s.state = jObjFirst
	}
	return true
}

// pop closes the innermost container.
func (s *jsonScanner) pop() {
	if s.onPath == s.depth {
		s.onPath--
	}
	s.depth--
	s.arr = s.depth > 0 && s.inArray()
	s.state = jAfter
}

// appendJSONString appends the decoded contents of a JSON string, already
// checked by the scanner, as encoding/json decodes them.
func appendJSONString(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			var r rune
			r, i = unescapeJSON(raw, i)
			dst = utf8.AppendRune(dst, r)
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(raw) && raw[j] < utf8.RuneSelf && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// unescapeJSON decodes the escape at raw[i] and returns the rune and the
// offset after it. A surrogate pair is one rune; a lone surrogate U+FFFD.
func unescapeJSON(raw []byte, i int) (rune, int) {
	switch raw[i+1] {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
	default: // '"', '\\', '/'
		return rune(raw[i+1]), i + 2
	}
	r := hex4(raw[i+2:])
	i += 6
	if !utf16.IsSurrogate(r) {
		return r, i
	}
	if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
		if d := utf16.DecodeRune(r, hex4(raw[i+2:])); d != unicode.ReplacementChar {
			return d, i + 6
		}
	}
	return unicode.ReplacementChar, i
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		d := hexDigit(c)
		if d < 0 {
			return -1
		}
		r = r<<4 | d
	}
	return r
}
