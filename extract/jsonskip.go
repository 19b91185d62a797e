package extract

import (
	"encoding/binary"
	"math/bits"
)

// skip runs through a container off the path (onPath < depth) until it
// closes, in one tight loop that checks the grammar but looks at no key
// and keeps no value: most of a document is such containers. A token the
// window cuts is left, from its first byte, to the general states, which
// read it incrementally; so every byte is still read a bounded number of
// times.
func (s *jsonScanner) skip(w []byte) {
	i, state := s.pos, s.state
	defer func() { s.pos, s.state = i, state }()
	for i < len(w) {
		c := w[i]
		if c <= ' ' && isSpace(c) {
			i++
			continue
		}
		switch state {
		case jColon:
			if c != ':' {
				s.fail()
				return
			}
			i++
			state = jValue
			continue
		case jAfter:
			switch {
			case c == ',':
				i++
				state = jValue
				if !s.arr {
					state = jObjKey
				}
				continue
			case c != ']' && c != '}' || (c == ']') != s.arr:
				s.fail()
				return
			} // c closes the container, below
		case jObjFirst, jObjKey:
			if c == '}' && state == jObjFirst {
				break // closes below
			}
			if c != '"' {
				s.fail()
				return
			}
			j, st := skipString(w, i+1)
			if st != tokDone {
				s.cut(st)
				return
			}
			i, state = j, jColon
			if i < len(w) && w[i] == ':' { // the usual "key":value
				i, state = i+1, jValue
			}
			continue
		case jValue, jArrFirst:
			if c == ']' && state == jArrFirst {
				break // closes below
			}
			j, st := s.skipValue(w, i)
			switch {
			case st == tokOpen:
				i++
				state = s.state // set by push
			case st != tokDone:
				s.cut(st)
				return
			case j < len(w) && w[j] == ',': // the usual value, next
				i, state = j+1, jValue
				if !s.arr {
					state = jObjKey
				}
			default:
				i, state = j, jAfter
			}
			continue
		}
		// c closes the innermost container.
		i++
		s.pop()
		state = jAfter
		if s.depth == s.onPath {
			return
		}
	}
}

// Outcomes of reading one token in skip.
const (
	tokDone uint8 = iota // read whole
	tokOpen              // a container was opened
	tokCut               // the window ends inside it
	tokBad               // malformed
)

// cut handles a token skip could not read whole.
func (s *jsonScanner) cut(st uint8) {
	if st == tokBad {
		s.fail()
	}
}

// skipValue reads the value starting at w[i] and returns the offset after
// it, or opens the container it starts.
func (s *jsonScanner) skipValue(w []byte, i int) (int, uint8) {
	c := w[i]
	switch {
	case c == '"':
		return skipString(w, i+1)
	case c == '{' || c == '[':
		if !s.push(c == '[') {
			return i, tokBad
		}
		return i, tokOpen
	case c == '-' || '0' <= c && c <= '9':
		j := i + 1
		for j < len(w) && numByte[w[j]] {
			j++
		}
		switch {
		case j == len(w):
			return i, tokCut // the number may go on
		case !validNumber(w[i:j]):
			return i, tokBad
		}
		return j, tokDone
	}
	var lit string
	switch c {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	case 'n':
		lit = "null"
	default:
		return i, tokBad
	}
	n := min(len(lit), len(w)-i)
	switch {
	case string(w[i:i+n]) != lit[:n]:
		return i, tokBad
	case n < len(lit):
		return i, tokCut
	}
	return i + n, tokDone
}

// skipString reads string contents from w[i] and returns the offset after
// the closing quote.
func skipString(w []byte, i int) (int, uint8) {
	for {
		for {
			if i+8 > len(w) {
				for i < len(w) && strClass[w[i]] <= sHigh {
					i++
				}
				break
			}
			if m := specials(binary.LittleEndian.Uint64(w[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i == len(w) {
			return i, tokCut
		}
		switch w[i] {
		case '"':
			return i + 1, tokDone
		case '\\':
			switch n := escapeLen(w[i:]); {
			case n < 0:
				return i, tokBad
			case n == 0:
				return i, tokCut
			default:
				i += n
			}
		default:
			return i, tokBad
		}
	}
}

// escapeLen returns the length of the escape at the start of b, 0 when b
// is too short to tell, or -1 when it is malformed.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		for k := 2; k < 6; k++ {
			if k == len(b) {
				return 0
			}
			if hexDigit(b[k]) < 0 {
				return -1
			}
		}
		return 6
	}
	return -1
}

// validNumber reports whether b is a JSON number, whole.
func validNumber(b []byte) bool {
	if len(b) <= 2 { // the usual small integers: 7, 42, -1
		c := b[len(b)-1]
		return '0' <= c && c <= '9' && (len(b) == 1 || b[0] == '-' || '1' <= b[0] && b[0] <= '9')
	}
	i := 0
	if b[0] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// numByte holds the bytes a JSON number is made of.
var numByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return t
}()
