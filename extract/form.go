package extract

import "bytes"

// formScanner finds the first value of a field in an
// application/x-www-form-urlencoded body, agreeing with net/url.ParseQuery:
// fields are separated by '&'; a field holding ';' or a malformed %
// escape is skipped, as ParseQuery skips it (it reports an error but keeps
// the other fields); names and values are decoded ('+' is a space, %XX a
// byte) before the name is compared. The first field with the name
// decides: an empty value yields NotFound. ParseQuery's limit on the
// number of fields does not apply.
//
// The last field ends where the stream ends, so a final window that was
// cut short by the limit (see cutShort) does not complete it.
type formScanner struct {
	scanState
	cutFlag
	name  string
	start int // start of the current field
}

func newForm(name string) *formScanner {
	s := &formScanner{name: name}
	s.Reset()
	return s
}

// Reset readies the scanner for a new stream, keeping its buffer.
func (s *formScanner) Reset() {
	*s = formScanner{name: s.name, scanState: scanState{buf: s.buf[:0]}}
}

// Scan implements Scanner. Its step is written in place: the fields up
// to the last '&', and on a final window the last field, unless cut short.
func (s *formScanner) Scan(window []byte, final bool) ([]byte, Result) {
	if s.resume(window) {
		w := window
		for s.res == NeedMore {
			i := bytes.IndexByte(w[s.pos:], '&')
			if i < 0 {
				s.pos = len(w)
				break
			}
			end := s.pos + i
			s.field(w[s.start:end])
			s.pos = end + 1
			s.start = s.pos
		}
		if s.res == NeedMore && final && !s.cut {
			s.field(w[s.start:])
		}
	}
	return s.answer(final)
}

// field looks at one name=value field.
func (s *formScanner) field(f []byte) {
	name, value := f, f[len(f):]
	if i := bytes.IndexByte(f, '='); i >= 0 {
		name, value = f[:i], f[i+1:]
	}
	if !s.isName(name) || bytes.IndexByte(f, ';') >= 0 {
		return
	}
	v, ok := s.unescape(value)
	switch {
	case !ok:
		return // ParseQuery drops the field, so a later one may count
	case len(v) == 0:
		s.fail() // the first field with the name has no value
	default:
		s.found(v)
	}
}

// isName reports whether name decodes to the name sought. Decoding never
// lengthens a name and only %XX shortens it, so most names are ruled out
// by their length alone.
func (s *formScanner) isName(name []byte) bool {
	switch {
	case len(name) < len(s.name):
		return false
	case len(name) == len(s.name):
		for i, c := range name {
			if c != s.name[i] && (c != '+' || s.name[i] != ' ') || c == '%' {
				return false
			}
		}
		return true
	case bytes.IndexByte(name, '%') < 0:
		return false
	}
	n, ok := s.unescape(name)
	return ok && string(n) == s.name
}

// unescape decodes b as net/url.QueryUnescape does, into buf when it needs
// decoding. ok is false for a malformed % escape.
func (s *formScanner) unescape(b []byte) (_ []byte, ok bool) {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return b, true
	}
	s.buf = s.buf[:0]
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '+':
			s.buf = append(s.buf, ' ')
		case '%':
			if i+2 >= len(b) {
				return nil, false
			}
			hi, lo := hexDigit(b[i+1]), hexDigit(b[i+2])
			if hi < 0 || lo < 0 {
				return nil, false
			}
			s.buf = append(s.buf, byte(hi<<4|lo))
			i += 2
		default:
			s.buf = append(s.buf, c)
		}
	}
	return s.buf, true
}
