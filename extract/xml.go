package extract

import (
	"bytes"
	"unicode/utf8"
)

const (
	// maxXMLDepth bounds the element nesting a namespace-aware scanner
	// follows; a deeper document yields NotFound.
	maxXMLDepth = 256
	// maxXMLBindings bounds the namespace declarations in scope at once.
	maxXMLBindings = 512
	// xmlURL is the namespace the reserved prefix "xml" is bound to.
	xmlURL = "http://www.w3.org/XML/1998/namespace"
)

// xmlState is where in the markup an xmlScanner stands.
type xmlState uint8

const (
	xText       xmlState = iota // character data
	xLT                         // after '<'
	xStartName                  // an element name in a start tag
	xTag                        // a start tag, between attributes
	xTagSlash                   // after '/' in a start tag
	xAttrName                   // an attribute name
	xAttrEq                     // after an attribute name, before '='
	xAttrQuote                  // after '=', before the opening quote
	xAttrValue                  // a quoted attribute value
	xEndName                    // the name in an end tag
	xEndTail                    // after the name in an end tag, before '>'
	xBang                       // after "<!"
	xBangDash                   // after "<!-"
	xCDATAOpen                  // inside the opener "<![CDATA["
	xCDATA                      // a CDATA section
	xComment                    // a comment
	xPI                         // a processing instruction or the XML declaration
	xDirective                  // a directive such as <!DOCTYPE ...>
	xDirLT                      // after '<' inside a directive
	xDirComment                 // a comment inside a directive
)

// xmlScanner finds the text of the first element with a given local name.
// It answers as soon as that element's end tag is read (or its first child,
// or the self-closing tag that makes it empty), and it reads the window
// once across calls, resuming where it stopped: O(n) in all.
//
// Rules:
//
//   - The first element in document order whose local name matches decides.
//     Its namespace prefix is ignored, unless the scanner was made by
//     newXMLNS (for a source xml:{URI}NAME), which matches the namespace
//     the prefix is bound to.
//   - The key is the element's text: character data and CDATA sections,
//     with entity and character references decoded, line ends normalised
//     as XML requires, and XML whitespace trimmed from both ends. Comments,
//     processing instructions and directives inside it are skipped.
//   - An empty element (<id/>, <id></id>, or only whitespace) yields
//     NotFound: the first match has no key, and later elements with the
//     same name are not considered.
//   - An element with a child element yields NotFound as soon as the child
//     starts: the key must be plain text, not a structure.
//   - Markup in comments, processing instructions, CDATA sections and
//     directives (DOCTYPE) never matches.
//
// The scanner is not a validator. It checks the markup it must understand to
// find the key and its end (tag syntax, quoting, the references and the end
// tag of the matched element) and answers NotFound where that markup is
// malformed; mistakes elsewhere (mismatched end tags of other elements when
// namespaces are not tracked, bad references outside the key, characters
// outside the XML range) go unnoticed. It never panics and never
// allocates per byte: the key aliases the window unless it needs decoding,
// in which case it is decoded into a buffer the scanner keeps across Reset.
type xmlScanner struct {
	local string // local name to match
	space string // namespace URI to match, when ns is set
	ns    bool   // track namespace declarations

	scanState
	state xmlState
	mark  int  // start of the name, value, text run or section being read
	aux   int  // bytes of a fixed opener ("CDATA[" or "!--") matched so far
	depth int  // nesting of '<' inside a directive
	quote byte // closing quote of an attribute value or directive literal

	// The element name in the tag being read.
	nameStart, nameEnd int
	colon              int  // offset of the colon after the prefix, or -1
	cand               bool // the local name matches
	tagBinds           int  // len(binds) when the start tag began
	attrDecl           int8 // the attribute being read: 0 plain, 1 xmlns, 2 xmlns:p
	declStart, declEnd int  // the prefix declared by an xmlns:p attribute

	// The matched element, once its start tag is read; its text is held
	// in scanState, nothing but whitespace counting as nothing yet.
	capturing    bool
	mStart, mEnd int // its name

	elems []xmlElem // open elements, namespace mode only
	binds []xmlBind // namespace declarations in scope, namespace mode only
}

type xmlElem struct {
	start, end int32 // name in the window
	binds      int32 // len(binds) before the element's declarations
}

type xmlBind struct {
	start, end int32 // declared prefix in the window, empty for xmlns=
	match      bool  // the declared URI is the one sought
}

// newXML returns a scanner for the text of the first element whose local
// name is local, whatever its namespace. local should be an XML name
// without a prefix; one with a colon never matches.
func newXML(local string) *xmlScanner {
	s := &xmlScanner{local: local}
	s.Reset()
	return s
}

// newXMLNS returns a scanner for the text of the first element with local
// name local in namespace space, resolving xmlns and xmlns:p declarations
// in scope. An empty space matches elements in no namespace. Unbound
// prefixes match no namespace. It follows at most 256 nested elements and
// 512 declarations in scope; a deeper document yields NotFound.
func newXMLNS(space, local string) *xmlScanner {
	s := &xmlScanner{
		local: local,
		space: space,
		ns:    true,
		elems: make([]xmlElem, 0, maxXMLDepth),
		binds: make([]xmlBind, 0, maxXMLBindings),
	}
	s.Reset()
	return s
}

// Reset readies the scanner for a new stream, keeping its buffers.
func (s *xmlScanner) Reset() {
	*s = xmlScanner{
		scanState: scanState{buf: s.buf[:0]},
		local:     s.local,
		space:     s.space,
		ns:        s.ns,
		elems:     s.elems[:0],
		binds:     s.binds[:0],
	}
}

// Scan implements Scanner.
func (s *xmlScanner) Scan(window []byte, final bool) ([]byte, Result) {
	if s.resume(window) {
		s.step(window, final)
	}
	return s.answer(final)
}

// toText returns to character data after a piece of markup ending at pos.
func (s *xmlScanner) toText() {
	s.state = xText
	s.mark = s.pos
}

// step advances over w from pos until it ends or the answer is known.
func (s *xmlScanner) step(w []byte, _ bool) {
	for s.res == NeedMore && s.pos < len(w) {
		switch s.state {
		case xText:
			s.text(w)
		case xLT:
			s.lt(w[s.pos])
		case xStartName, xAttrName, xEndName:
			s.name(w)
		case xTag:
			s.tag(w)
		case xTagSlash:
			if w[s.pos] != '>' {
				s.fail()
				return
			}
			s.pos++
			s.endStart(w, true)
		case xAttrEq, xAttrQuote, xEndTail:
			s.punct(w)
		case xAttrValue:
			s.attrValue(w)
		case xBang:
			s.bang(w[s.pos])
		case xBangDash:
			if w[s.pos] != '-' {
				s.fail()
				return
			}
			s.pos++
			s.state, s.mark = xComment, s.pos
		case xCDATAOpen:
			s.cdataOpen(w)
		case xCDATA, xComment, xPI, xDirComment:
			if !s.section(w) {
				return // the terminator may start in the last bytes
			}
		case xDirective:
			s.directive(w)
		case xDirLT:
			s.dirLT(w[s.pos])
		}
	}
}

// text skips character data up to the next '<', keeping it as part of the
// key while inside the matched element.
func (s *xmlScanner) text(w []byte) {
	i := bytes.IndexByte(w[s.pos:], '<')
	if i < 0 {
		s.pos = len(w)
		return
	}
	lt := s.pos + i
	s.pos = lt + 1
	s.state = xLT
	if s.capturing && !s.addText(w, s.mark, lt, true) {
		s.fail()
	}
}

// lt reads the byte after '<', which says what the markup is.
func (s *xmlScanner) lt(c byte) {
	switch {
	case c == '/':
		s.state = xEndName
	case c == '?':
		// The target name holds neither '?' nor '>', so looking for
		// "?>" right away ends the instruction where a parser would.
		s.state = xPI
	case c == '!':
		s.state = xBang
		s.pos++
		return
	case nameByte[c] && !s.capturing:
		s.state = xStartName
		s.mark = s.pos
		s.tagBinds = len(s.binds)
		return
	default:
		// Not markup, or a child element inside the matched one: a
		// structured value is no key.
		s.fail()
		return
	}
	// An end tag's name or an instruction starts after the byte.
	s.pos++
	s.mark = s.pos
}

// name reads an element or attribute name up to the first byte that cannot
// be part of it.
func (s *xmlScanner) name(w []byte) {
	i := s.pos
	for i < len(w) && nameByte[w[i]] {
		i++
	}
	s.pos = i
	if i == len(w) {
		return
	}
	switch s.state {
	case xStartName:
		s.state = xTag
		s.startName(w, s.mark, i)
	case xAttrName:
		s.state = xAttrEq
		if s.ns {
			s.attrName(w, s.mark, i)
		}
	case xEndName:
		if i == s.mark {
			s.fail()
			return
		}
		s.state = xEndTail
		s.nameStart, s.nameEnd = s.mark, i
	}
}

// splitName returns the offset of the colon that separates a prefix in
// name, or -1 when it has none, following the Namespaces in XML rules as
// encoding/xml applies them: a leading or trailing colon is part of the
// local name, and a second colon makes the name malformed (ok false).
func splitName(name []byte) (colon int, ok bool) {
	colon = -1
	for i, c := range name { // names are short: a loop beats IndexByte
		if c == ':' {
			if colon >= 0 {
				return -1, false
			}
			colon = i
		}
	}
	if colon == 0 || colon == len(name)-1 {
		colon = -1
	}
	return colon, true
}

// startName records the element name of the start tag being read.
func (s *xmlScanner) startName(w []byte, start, end int) {
	colon, ok := splitName(w[start:end])
	if !ok {
		s.fail()
		return
	}
	s.nameStart, s.nameEnd, s.colon = start, end, -1
	local := w[start:end]
	if colon >= 0 {
		s.colon = start + colon
		local = w[s.colon+1 : end]
	}
	s.cand = string(local) == s.local
}

// attrName notes whether the attribute being read declares a namespace.
func (s *xmlScanner) attrName(w []byte, start, end int) {
	name := w[start:end]
	colon, ok := splitName(name)
	switch {
	case !ok:
		s.fail()
	case colon < 0:
		s.attrDecl = 0
		if string(name) == "xmlns" {
			s.attrDecl = 1
		}
	case string(name[:colon]) == "xmlns":
		s.attrDecl = 2
		s.declStart, s.declEnd = start+colon+1, end
	default:
		s.attrDecl = 0
	}
}

// tag reads a start tag between attributes.
func (s *xmlScanner) tag(w []byte) {
	for s.pos < len(w) {
		c := w[s.pos]
		switch {
		case isSpace(c):
			s.pos++
			continue
		case c == '>':
			s.pos++
			s.endStart(w, false)
		case c == '/':
			s.pos++
			s.state = xTagSlash
		case nameByte[c]:
			s.state = xAttrName
			s.mark = s.pos
		default:
			s.fail()
		}
		return
	}
}

// punct skips whitespace and expects the one byte that must follow.
func (s *xmlScanner) punct(w []byte) {
	for s.pos < len(w) && isSpace(w[s.pos]) {
		s.pos++
	}
	if s.pos == len(w) {
		return
	}
	c := w[s.pos]
	s.pos++
	switch {
	case s.state == xAttrEq && c == '=':
		s.state = xAttrQuote
	case s.state == xAttrQuote && (c == '"' || c == '\''):
		s.state = xAttrValue
		s.quote = c
		s.mark = s.pos
	case s.state == xEndTail && c == '>':
		s.endTag(w)
	default:
		s.fail()
	}
}

// attrValue skips a quoted attribute value, binding it when it declares a
// namespace.
func (s *xmlScanner) attrValue(w []byte) {
	i := bytes.IndexByte(w[s.pos:], s.quote)
	if i < 0 {
		s.pos = len(w)
		return
	}
	end := s.pos + i
	s.pos = end + 1
	s.state = xTag
	if s.ns && s.attrDecl != 0 {
		s.bind(w, w[s.mark:end])
	}
}

// bind records a namespace declaration of the start tag being read. Only
// whether it declares the URI sought matters, so that is all it keeps.
func (s *xmlScanner) bind(w, uri []byte) {
	if len(s.binds) == cap(s.binds) {
		s.fail()
		return
	}
	b := xmlBind{}
	if s.attrDecl == 2 {
		b.start, b.end = int32(s.declStart), int32(s.declEnd)
	}
	if bytes.IndexByte(uri, '&') < 0 && bytes.IndexByte(uri, '\r') < 0 {
		b.match = string(uri) == s.space
	} else {
		var ok bool
		s.buf, ok = appendText(s.buf[:0], uri, true)
		if !ok {
			s.fail()
			return
		}
		b.match = string(s.buf) == s.space
		s.buf = s.buf[:0]
	}
	s.binds = append(s.binds, b)
}

// endStart finishes a start tag at pos.
func (s *xmlScanner) endStart(w []byte, empty bool) {
	s.toText()
	match := s.cand
	if s.ns {
		match = match && s.inSpace(w)
		switch {
		case empty:
			s.binds = s.binds[:s.tagBinds]
		case len(s.elems) == cap(s.elems):
			s.fail()
			return
		default:
			s.elems = append(s.elems, xmlElem{int32(s.nameStart), int32(s.nameEnd), int32(s.tagBinds)})
		}
	}
	if !match {
		return
	}
	if empty {
		s.fail() // <key/>: the first match has no text
		return
	}
	s.capturing = true
	s.mStart, s.mEnd = s.nameStart, s.nameEnd
}

// inSpace reports whether the element of the start tag just read is in the
// namespace sought, given the declarations in scope.
func (s *xmlScanner) inSpace(w []byte) bool {
	var prefix []byte
	if s.colon >= 0 {
		prefix = w[s.nameStart:s.colon]
		switch string(prefix) {
		case "xml":
			return s.space == xmlURL
		case "xmlns":
			return false // reserved, never an element's prefix
		}
	} else if string(w[s.nameStart:s.nameEnd]) == "xmlns" {
		return s.space == "" // as encoding/xml: never in the default namespace
	}
	for i := len(s.binds) - 1; i >= 0; i-- {
		b := s.binds[i]
		if string(w[b.start:b.end]) == string(prefix) {
			return b.match
		}
	}
	// No declaration: an unprefixed name is in no namespace, and a name
	// with an unbound prefix is in none that can be sought.
	return s.colon < 0 && s.space == ""
}

// endTag finishes an end tag at pos.
func (s *xmlScanner) endTag(w []byte) {
	name := w[s.nameStart:s.nameEnd]
	if s.capturing {
		if !bytes.Equal(name, w[s.mStart:s.mEnd]) {
			s.fail()
			return
		}
		s.finish(w)
		return
	}
	s.toText()
	if !s.ns {
		return
	}
	n := len(s.elems)
	if n == 0 {
		s.fail()
		return
	}
	e := s.elems[n-1]
	if !bytes.Equal(name, w[e.start:e.end]) {
		s.fail()
		return
	}
	s.elems = s.elems[:n-1]
	s.binds = s.binds[:e.binds]
}

// finish concludes at the end tag of the matched element.
func (s *xmlScanner) finish(w []byte) {
	v := bytes.Trim(s.held(w), space)
	if len(v) == 0 {
		s.fail() // <key></key>: the first match has no text
		return
	}
	s.found(v)
}

// bang reads the byte after "<!".
func (s *xmlScanner) bang(c byte) {
	s.pos++
	switch c {
	case '-':
		s.state = xBangDash
	case '[':
		s.state, s.aux = xCDATAOpen, 0
	default:
		// A directive. Like encoding/xml, take this first byte as plain
		// content, whatever it is.
		s.state, s.quote, s.depth = xDirective, 0, 0
	}
}

func (s *xmlScanner) cdataOpen(w []byte) {
	const opener = "CDATA["
	for s.pos < len(w) && s.aux < len(opener) {
		if w[s.pos] != opener[s.aux] {
			s.fail()
			return
		}
		s.pos++
		s.aux++
	}
	if s.aux == len(opener) {
		s.state, s.mark = xCDATA, s.pos
	}
}

// section skips to the end of a CDATA section, comment or processing
// instruction, keeping CDATA as part of the key inside the matched
// element. The terminator is looked for only after the opener, and when it
// is missing the last bytes, which may start it, are looked at again next
// time; that is at most two bytes per call. It reports whether it found
// the terminator.
func (s *xmlScanner) section(w []byte) bool {
	var end string
	switch s.state {
	case xCDATA:
		end = "]]>"
	case xPI:
		end = "?>"
	default:
		end = "-->"
	}
	i := bytes.Index(w[s.pos:], []byte(end))
	if i < 0 {
		s.pos = max(s.pos, len(w)-len(end)+1)
		return false
	}
	stop := s.pos + i
	s.pos = stop + len(end)
	switch {
	case s.state == xDirComment:
		s.state = xDirective
	case s.state == xCDATA && s.capturing:
		start := s.mark
		s.toText()
		if !s.addText(w, start, stop, false) {
			s.fail()
		}
	default:
		s.toText()
	}
	return true
}

// directive skips a directive as encoding/xml does: it ends at the first
// '>' outside quotes that closes its own '<', and may hold comments.
func (s *xmlScanner) directive(w []byte) {
	for s.pos < len(w) {
		c := w[s.pos]
		s.pos++
		if s.quote == 0 && c == '>' && s.depth == 0 {
			s.toText()
			return
		}
		s.dirByte(c)
		if s.state != xDirective {
			return
		}
	}
}

func (s *xmlScanner) dirByte(c byte) {
	switch {
	case s.quote != 0:
		if c == s.quote {
			s.quote = 0
		}
	case c == '"' || c == '\'':
		s.quote = c
	case c == '>':
		s.depth--
	case c == '<':
		s.state, s.aux = xDirLT, 0
	}
}

// dirLT matches "!--" after a '<' in a directive; anything else makes the
// '<' nest, and the byte that broke the match is read as plain directive
// content (even a '>', which then cannot end the directive).
func (s *xmlScanner) dirLT(c byte) {
	s.pos++
	if c == "!--"[s.aux] {
		s.aux++
		if s.aux == 3 {
			s.state = xDirComment
		}
		return
	}
	s.depth++
	s.state = xDirective
	s.dirByte(c)
}

// addText adds w[start:end], character data (refs) or CDATA content, to the
// key. While the key needs no decoding and is one run, it stays in the
// window.
func (s *xmlScanner) addText(w []byte, start, end int, refs bool) bool {
	if s.hold == holdNone {
		// Leading whitespace is trimmed anyway; skip it here.
		for start < end && isSpace(w[start]) {
			start++
		}
		if start == end {
			return true
		}
	}
	seg := w[start:end]
	plain := bytes.IndexByte(seg, '\r') < 0 && (!refs || bytes.IndexByte(seg, '&') < 0)
	if plain && s.hold == holdNone {
		s.hold, s.vs, s.ve = holdWindow, start, end
		return true
	}
	if s.hold != holdBuf {
		s.buf = append(s.buf[:0], s.held(w)...)
		s.hold = holdBuf
	}
	var ok bool
	s.buf, ok = appendText(s.buf, seg, refs)
	return ok
}

// appendText appends src to dst as XML text: "\r\n" and "\r" become "\n",
// and when refs is set (outside CDATA) entity and character references are
// decoded. ok is false for a malformed reference.
func appendText(dst, src []byte, refs bool) (_ []byte, ok bool) {
	for len(src) > 0 {
		i := 0
		for i < len(src) && src[i] != '\r' && (src[i] != '&' || !refs) {
			i++
		}
		dst = append(dst, src[:i]...)
		src = src[i:]
		switch {
		case len(src) == 0:
		case src[0] == '\r':
			dst = append(dst, '\n')
			src = src[1:]
			if len(src) > 0 && src[0] == '\n' {
				src = src[1:]
			}
		default:
			r, n := parseRef(src)
			if n == 0 {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
			src = src[n:]
		}
	}
	return dst, true
}

// parseRef decodes the reference at the start of src ("&amp;", "&#65;",
// "&#x41;") and returns its rune and length, or n == 0 when it is not one
// of the five predefined entities or a character reference to a character
// XML allows. As in encoding/xml, a reference to a surrogate stands for
// U+FFFD.
func parseRef(src []byte) (r rune, n int) {
	semi := bytes.IndexByte(src, ';')
	if semi < 2 {
		return 0, 0
	}
	body := src[1:semi]
	if body[0] != '#' {
		switch string(body) {
		case "lt":
			return '<', semi + 1
		case "gt":
			return '>', semi + 1
		case "amp":
			return '&', semi + 1
		case "apos":
			return '\'', semi + 1
		case "quot":
			return '"', semi + 1
		}
		return 0, 0
	}
	digits, base := body[1:], rune(10)
	if len(digits) > 0 && digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, 0
	}
	for _, c := range digits {
		d := hexDigit(c)
		if d < 0 || d >= base {
			return 0, 0
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, 0
		}
	}
	if r >= 0xD800 && r <= 0xDFFF {
		r = utf8.RuneError
	}
	if !isXMLChar(r) {
		return 0, 0
	}
	return r, semi + 1
}

// isXMLChar reports whether r is in the Char production of XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= utf8.MaxRune
}

// nameByte holds the bytes an XML name may contain as encoding/xml reads
// one: ASCII letters, digits, '_', ':', '.', '-', and every byte of a
// multi-byte UTF-8 sequence.
var nameByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == ':' || c == '.' || c == '-' || c >= utf8.RuneSelf
	}
	return t
}()
