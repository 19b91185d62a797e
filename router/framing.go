package router

// Request smuggling rests on two parsers disagreeing about where a request
// ends. net/http settles several ambiguous framings silently before a
// handler runs: it lets Transfer-Encoding override Content-Length and drops
// the latter, merges identical duplicate Content-Length fields, unfolds
// obsolete line folding, and ignores Transfer-Encoding on HTTP/1.0. The
// handler sees a clean request and cannot tell that an intermediary in front
// of peekroute may have framed the same bytes differently.
//
// The guard sees what net/http sees, before net/http sees it: GuardListener
// wraps each accepted connection so that every byte read from it also feeds a
// small incremental tracker of HTTP/1.x message framing. The tracker follows
// heads and bodies exactly as net/http reads them (see the comments on each
// state), records for each request head whether its framing is ambiguous,
// and queues that verdict. net/http calls the handlers of one HTTP/1
// connection one after the other in request order, and only once it has
// read a request's whole head, so the handler for the k-th request pops the
// k-th verdict. A fingerprint of the request line checks that pairing.
//
// Once a head is ambiguous, where the next request starts is ambiguous too:
// every later request on the connection is refused as well. The same holds
// once the tracker meets bytes it cannot follow; net/http refuses those
// itself and closes the connection, so failing closed costs nothing unless
// the two parsers disagree, which is exactly when it matters.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
)

// Why a request's framing is refused.
var (
	errFramingObsFold                = errors.New("request header uses obsolete line folding")
	errFramingDuplicateContentLength = errors.New("request has more than one Content-Length")
	errFramingContentLengthList      = errors.New("request Content-Length is a list")
	errFramingBadContentLength       = errors.New("request Content-Length is not a number")
	errFramingContentLengthWithTE    = errors.New("request has both Content-Length and Transfer-Encoding")
	errFramingTransferEncodingHTTP10 = errors.New("HTTP/1.0 request has a Transfer-Encoding")
	errFramingBadTransferEncoding    = errors.New("request Transfer-Encoding is not a single chunked")
	errFramingNoColon                = errors.New("request header line has no colon")
	errFramingBadFieldName           = errors.New("request header field name is malformed")

	errFramingBadChunked = errors.New("request chunked body is malformed")

	errFramingAfterAmbiguous = errors.New("an earlier request on the connection has ambiguous framing")
	errFramingAfterBadBody   = errors.New("an earlier request on the connection has a malformed chunked body")
	errFramingUntracked      = errors.New("request framing on the connection could not be followed")
	errFramingDesync         = errors.New("request does not match the next request head on its connection")
)

// GuardListener wraps ln so every accepted connection's request heads are
// inspected for ambiguous framing as net/http reads them. Set ConnContext as
// the server's ConnContext so that framingError can find the guard.
//
// To serve TLS, wrap the TLS listener (GuardListener(tls.NewListener(...)))
// so the guard sees plaintext. net/http then no longer sees a *tls.Conn: the
// handshake happens on the first read, Request.TLS is nil (see connIsTLS),
// and HTTP/2 is off, so the TLS config must offer only "http/1.1" by ALPN.
func GuardListener(ln net.Listener) net.Listener {
	return guardListener{ln}
}

type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := &guardConn{Conn: c}
	g.tls, _ = c.(*tls.Conn)
	return g, nil
}

// guardConn is an accepted connection whose reads feed a framing tracker.
type guardConn struct {
	net.Conn
	tls *tls.Conn // c as accepted, when it is TLS

	// mu guards t: reads happen on net/http's connection goroutines and
	// verdicts are taken on handler goroutines.
	mu sync.Mutex
	t  framingTracker
}

// Read passes the bytes through unchanged; the tracker only looks.
func (g *guardConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.mu.Lock()
		g.t.feed(p[:n])
		g.mu.Unlock()
	}
	return n, err
}

// CloseWrite half-closes the connection when the wrapped one can. net/http
// looks for it to send its last response before closing on a client that
// is still writing; without it that response may be lost to a reset.
func (g *guardConn) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("connection cannot half-close")
}

// NetConn returns the wrapped connection.
//
// guardConn deliberately has no ConnectionState method: net/http would call
// it to fill Request.TLS before the lazy handshake has happened.
func (g *guardConn) NetConn() net.Conn { return g.Conn }

// verdict returns the framing verdict on the next request head, which must
// be the head of the request with the given method and request-target.
func (g *guardConn) verdict(method, target string) error {
	fp := fingerprint(method, target)
	optionsStar := method == "OPTIONS" && target == "*"
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.t.verdict(fp, optionsStar)
}

type guardKey struct{}

// ConnContext is to be set as http.Server.ConnContext; it makes the
// connection's guard reachable from its requests' contexts. Connections that
// GuardListener did not accept are left alone.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*guardConn); ok {
		return context.WithValue(ctx, guardKey{}, g)
	}
	return ctx
}

// framingError returns why the request r, the next request head on its
// connection, has ambiguous framing, or nil. It is to be called exactly
// once per request, with r as the server read it (Method and RequestURI
// untouched). Requests on connections that are not guarded get nil.
//
// A request is refused too when an earlier one on its connection was, when
// an earlier chunked body was malformed, or when the connection's bytes
// could not be followed; see the errFraming variables.
func framingError(r *http.Request) error {
	g, _ := r.Context().Value(guardKey{}).(*guardConn)
	if g == nil {
		return nil
	}
	return g.verdict(r.Method, r.RequestURI)
}

// connIsTLS reports whether the request with context ctx arrived on a
// guarded TLS connection, whose Request.TLS net/http leaves nil.
func connIsTLS(ctx context.Context) bool {
	g, _ := ctx.Value(guardKey{}).(*guardConn)
	return g != nil && g.tls != nil
}

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

// fingerprint hashes a request line's method and request-target the way
// the tracker does as the bytes stream by. Neither holds a space.
func fingerprint(method, target string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(method); i++ {
		h = fnvByte(h, method[i])
	}
	h = fnvByte(h, ' ')
	for i := 0; i < len(target); i++ {
		h = fnvByte(h, target[i])
	}
	return h
}

// headVerdict is what the tracker found about one request head.
type headVerdict struct {
	fp          uint64 // fingerprint of method and request-target
	err         error  // nil: unambiguous
	optionsStar bool   // "OPTIONS *", which net/http may answer itself
}

// maxPendingHeads bounds the heads tracked ahead of their handlers. net/http
// reads at most one 4 KiB buffer past the request it is serving, and a
// request head takes at least 14 bytes, so a connection served by net/http
// never comes close; one hijacked and fed HTTP-looking bytes might.
const maxPendingHeads = 512

// headQueue is a ring of verdicts, reused for the life of the connection.
type headQueue struct {
	buf  []headVerdict
	head int
	n    int
}

func (q *headQueue) push(v headVerdict) bool {
	if q.n == len(q.buf) && !q.grow() {
		return false
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
	return true
}

func (q *headQueue) grow() bool {
	size := max(4, 2*len(q.buf))
	if size > maxPendingHeads {
		return false
	}
	buf := make([]headVerdict, size)
	for i := range q.n {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
	return true
}

func (q *headQueue) pop() (headVerdict, bool) {
	if q.n == 0 {
		return headVerdict{}, false
	}
	v := q.buf[q.head]
	q.buf[q.head] = headVerdict{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return v, true
}

func (q *headQueue) clear() {
	clear(q.buf)
	q.head, q.n = 0, 0
}

// trackState is where the tracker is in the connection's byte stream.
type trackState uint8

const (
	sMethod           trackState = iota // request line: method
	sSkipCRLF                           // stray CR and LF after a POST
	sTarget                             // request line: request-target
	sProto                              // request line: HTTP version
	sLineStart                          // a field line or the empty line
	sLineCR                             // a CR starting a line
	sName                               // field name
	sValue                              // field value of no interest
	sContentLength                      // Content-Length value
	sTransferEncoding                   // Transfer-Encoding value
	sBody                               // body of Content-Length bytes
	sChunkSize                          // chunk-size
	sChunkOWS                           // whitespace after the chunk-size
	sChunkExt                           // chunk extensions
	sChunkLF                            // LF ending a chunk line
	sChunkData                          // chunk data
	sChunkDataCR                        // CR after chunk data
	sChunkDataLF                        // LF after chunk data
	sDone                               // no longer tracking; see end
)

// trackEnd is why the tracker stopped.
type trackEnd uint8

const (
	tracking     trackEnd = iota
	endAmbiguous          // a head's framing is ambiguous
	endBadBody            // a chunked body or its trailer section is malformed
	endLost               // bytes net/http refuses, or too many heads ahead
	endSwitched           // the connection turned to HTTP/2
	endDesync             // a request did not match its head
)

const (
	nameContentLength    = "content-length"
	nameTransferEncoding = "transfer-encoding"
	maxContentLength     = 1<<63 - 1 // strconv.ParseUint(s, 10, 63)

	// Limits of net/http's chunked reader (net/http/internal/chunked.go):
	// a chunk line and its CRLF must fit the server's 4 KiB read buffer,
	// and the overhead beyond 16 bytes per chunk plus twice its data
	// must stay under 16 KiB.
	maxChunkLine   = 4096 - 2
	maxChunkExcess = 16 << 10
)

// framingTracker follows HTTP/1.x request framing on one connection, one
// byte at a time where it must and in bulk where it can. It holds no
// buffer: a few fixed-size fields describe the head or body at hand.
type framingTracker struct {
	state trackState
	end   trackEnd
	q     headQueue
	off   int64 // bytes seen

	// request line
	fp        uint64
	method    [8]byte // enough to recognize POST, OPTIONS and PRI
	methodLen int
	target0   byte
	targetLen int
	proto     [9]byte // HTTP/x.y and maybe a CR
	protoLen  int
	http10    bool
	post      bool // the request being followed is a POST
	pri       bool // PRI * HTTP/2.0
	skip      int  // CR and LF net/http may still skip

	// field lines
	trailer  bool // in a chunked body's trailer section, not a head
	fields   int
	nameLen  int
	nameIsCL bool
	nameIsTE bool
	hasCL    bool
	hasTE    bool
	cl       uint64
	vLen     int   // digits of Content-Length, letters of "chunked"
	vTrail   bool  // whitespace after the value
	vCR      bool  // a CR, which only LF may follow
	pending  error // a refusal of the last value unless an obs-fold follows

	// body
	remain     uint64 // of the Content-Length body or of the chunk
	chunkHex   int
	chunkLine  int
	excess     int64
	bodyLength int64 // decoded

	trace func(framingEvent) // tests only
}

// feed follows p, the next bytes read from the connection.
func (t *framingTracker) feed(p []byte) {
	for len(p) > 0 && t.state != sDone {
		p = p[t.step(p):]
	}
}

// step follows a prefix of p, and returns its length.
func (t *framingTracker) step(p []byte) int {
	switch t.state {
	case sBody:
		return t.skipBody(p)
	case sChunkData:
		return t.skipChunkData(p)
	case sValue:
		return t.skipValue(p)
	case sTarget:
		return t.scanTarget(p)
	case sName:
		return t.scanName(p)
	case sLineStart:
		if isTokenByte(p[0]) && t.pending == nil {
			t.startName()
			return t.scanName(p)
		}
	}
	t.off++
	t.byteStep(p[0])
	return 1
}

func (t *framingTracker) byteStep(c byte) {
	switch t.state {
	case sMethod:
		t.methodByte(c)
	case sSkipCRLF:
		t.skipCRLFByte(c)
	case sProto:
		t.protoByte(c)
	case sLineStart:
		t.lineStartByte(c)
	case sLineCR:
		t.lineCRByte(c)
	case sContentLength:
		t.contentLengthByte(c)
	case sTransferEncoding:
		t.transferEncodingByte(c)
	case sChunkSize:
		t.chunkSizeByte(c)
	case sChunkOWS:
		t.chunkOWSByte(c)
	case sChunkExt:
		t.chunkExtByte(c)
	case sChunkLF:
		t.chunkLFByte(c)
	case sChunkDataCR:
		t.expectByte(c, '\r', sChunkDataLF)
	case sChunkDataLF:
		t.expectByte(c, '\n', sChunkSize)
	}
}

// verdict pops the verdict on the head of the request with fingerprint fp.
func (t *framingTracker) verdict(fp uint64, optionsStar bool) error {
	for {
		v, ok := t.q.pop()
		if !ok {
			return t.endError()
		}
		if v.optionsStar && !optionsStar {
			// Unless the server sets DisableGeneralOptionsHandler,
			// net/http answers "OPTIONS *" itself; no handler pops
			// its verdict.
			continue
		}
		if v.fp != fp {
			// The pairing of heads and handler calls is broken: no
			// verdict on this connection can be trusted any more.
			t.q.clear()
			t.stop(endDesync)
			return errFramingDesync
		}
		return v.err
	}
}

// endError is the verdict on requests past the last head tracked.
func (t *framingTracker) endError() error {
	switch t.end {
	case endAmbiguous:
		return errFramingAfterAmbiguous
	case endBadBody:
		return errFramingAfterBadBody
	case endLost:
		return errFramingUntracked
	case endSwitched:
		// HTTP/2 frames its messages itself.
		return nil
	}
	// A handler runs only once net/http has read its whole head, and
	// every byte net/http reads passes the tracker first: a request
	// with no head tracked must not be trusted.
	return errFramingDesync
}

func (t *framingTracker) stop(why trackEnd) {
	t.state, t.end = sDone, why
	t.emit(evEnd, nil)
}

// lost stops tracking at bytes net/http refuses as well.
func (t *framingTracker) lost() { t.stop(endLost) }

// violation records that the head being read has ambiguous framing, or,
// in a trailer section, that the body being read is malformed.
func (t *framingTracker) violation(err error) {
	if t.trailer {
		t.bodyViolation(err)
		return
	}
	t.emit(evViolation, err)
	if !t.q.push(headVerdict{fp: t.fp, err: err, optionsStar: t.optionsStar()}) {
		t.lost()
		return
	}
	t.stop(endAmbiguous)
}

// bodyViolation records a malformed chunked body. net/http fails the read
// of a body it cannot parse and closes the connection after the answer; it
// lets obs-fold or a space in a trailer field name through. Either way the
// request's own verdict has been taken already: it is later requests on
// the connection that are refused, should any come.
func (t *framingTracker) bodyViolation(err error) {
	t.emit(evBodyViolation, err)
	t.stop(endBadBody)
}

// Request line.
//
// net/http splits the line at its first two spaces (parseRequestLine) and
// refuses a method that is not a token, a request-target with a control
// byte (url.ParseRequestURI), and any version but HTTP/1.x and the HTTP/2
// preface. Those end tracking: net/http answers them with an error and
// closes the connection.

func (t *framingTracker) startHead() {
	t.emit(evHead, nil)
	t.fp = fnvOffset
}

func (t *framingTracker) skipCRLFByte(c byte) {
	// After a POST, net/http skips up to four leading CR or LF bytes
	// before the next request line, for old clients that sent a CRLF
	// after the body (conn.readRequest).
	if (c == '\r' || c == '\n') && t.skip > 0 {
		t.skip--
		return
	}
	t.state = sMethod
	t.methodByte(c)
}

func (t *framingTracker) methodByte(c byte) {
	if t.methodLen == 0 {
		t.startHead()
	}
	switch {
	case c == ' ' && t.methodLen > 0:
		t.fp = fnvByte(t.fp, c)
		t.state = sTarget
	case isTokenByte(c):
		t.fp = fnvByte(t.fp, c)
		if t.methodLen < len(t.method) {
			t.method[t.methodLen] = c
		}
		t.methodLen++
	default:
		t.lost()
	}
}

func (t *framingTracker) isMethod(m string) bool {
	return t.methodLen == len(m) && string(t.method[:t.methodLen]) == m
}

// scanTarget follows request-target bytes up to the space that ends them.
func (t *framingTracker) scanTarget(p []byte) int {
	for i, c := range p {
		if c == ' ' {
			t.off += int64(i + 1)
			t.state = sProto
			return i + 1
		}
		if c < ' ' || c == 0x7f {
			t.off += int64(i + 1)
			t.lost()
			return i + 1
		}
		if t.targetLen == 0 {
			t.target0 = c
		}
		t.targetLen++
		t.fp = fnvByte(t.fp, c)
	}
	t.off += int64(len(p))
	return len(p)
}

func (t *framingTracker) protoByte(c byte) {
	if c == '\n' {
		t.endRequestLine()
		return
	}
	if t.protoLen == len(t.proto) {
		t.lost()
		return
	}
	t.proto[t.protoLen] = c
	t.protoLen++
}

func (t *framingTracker) endRequestLine() {
	// Like bufio.Reader.ReadLine, a line ends at LF, less one CR before it.
	v := t.proto[:t.protoLen]
	if len(v) > 0 && v[len(v)-1] == '\r' {
		v = v[:len(v)-1]
	}
	// http.ParseHTTPVersion: "HTTP/" DIGIT "." DIGIT.
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		t.lost()
		return
	}
	t.post = t.isMethod("POST")
	switch {
	case v[5] == '1':
		t.http10 = v[7] == '0'
	case string(v[5:]) == "2.0" && t.isMethod("PRI") && t.targetIs('*'):
		// "PRI * HTTP/2.0": with no field lines it starts HTTP/2
		// (see endHead); with some, net/http serves it as HTTP/1.1.
		t.pri = true
	default:
		// net/http answers 505 and closes.
		t.lost()
		return
	}
	t.state = sLineStart
}

func (t *framingTracker) targetIs(c byte) bool { return t.targetLen == 1 && t.target0 == c }

func (t *framingTracker) optionsStar() bool { return t.isMethod("OPTIONS") && t.targetIs('*') }

// Field lines, of a head or of a chunked body's trailer section.
//
// net/http reads them with textproto.Reader.ReadMIMEHeader: lines end at
// LF less one CR before it; a line starting with a space or tab continues
// the previous one (obs-fold), and the first line may not start with one;
// the name ends at the first colon and must be a token, except that a space
// is let through to be refused by the server for heads (but not for
// trailers); a value holds no CR.

func (t *framingTracker) lineStartByte(c byte) {
	switch {
	case c == ' ' || c == '\t':
		// RFC 9112, section 5.2: a server must refuse obs-fold, or
		// unfold it itself; net/http unfolds it silently.
		t.violation(errFramingObsFold)
	case t.pending != nil:
		// The previous line's value is refused, as no obs-fold
		// completes it.
		t.violation(t.pending)
	case c == '\n':
		t.endSection()
	case c == '\r':
		t.state = sLineCR
	default:
		t.startName()
		t.nameByte(c)
	}
}

func (t *framingTracker) startName() {
	t.nameLen, t.nameIsCL, t.nameIsTE = 0, true, true
	t.state = sName
}

// scanName follows field name bytes up to the byte that ends them.
func (t *framingTracker) scanName(p []byte) int {
	for i, c := range p {
		if !isTokenByte(c) {
			t.off += int64(i + 1)
			t.endNameAt(c)
			return i + 1
		}
		t.nameTokenByte(c)
	}
	t.off += int64(len(p))
	return len(p)
}

func (t *framingTracker) lineCRByte(c byte) {
	if c != '\n' {
		t.violation(errFramingBadFieldName)
		return
	}
	t.endSection()
}

func (t *framingTracker) nameByte(c byte) {
	if isTokenByte(c) {
		t.nameTokenByte(c)
		return
	}
	t.endNameAt(c)
}

func (t *framingTracker) nameTokenByte(c byte) {
	c = lowerASCII(c)
	t.nameIsCL = t.nameIsCL && t.nameLen < len(nameContentLength) && nameContentLength[t.nameLen] == c
	t.nameIsTE = t.nameIsTE && t.nameLen < len(nameTransferEncoding) && nameTransferEncoding[t.nameLen] == c
	t.nameLen++
}

// endNameAt handles c, the first byte after a field name that is not a
// token byte.
func (t *framingTracker) endNameAt(c byte) {
	switch c {
	case ':':
		t.endName()
	case '\r', '\n':
		t.violation(errFramingNoColon)
	default:
		// RFC 9112, section 5.1: whitespace between a field name and
		// its colon must be refused; textproto would take
		// "Content-Length :" for a different field.
		t.violation(errFramingBadFieldName)
	}
}

func (t *framingTracker) endName() {
	if t.nameLen == 0 {
		t.violation(errFramingBadFieldName)
		return
	}
	t.fields++
	t.vLen, t.vTrail, t.vCR = 0, false, false
	switch {
	case t.trailer:
		// Trailer fields come after the body; they frame nothing.
		t.state = sValue
	case t.nameIsCL && t.nameLen == len(nameContentLength):
		t.startContentLength()
	case t.nameIsTE && t.nameLen == len(nameTransferEncoding):
		t.startTransferEncoding()
	default:
		t.state = sValue
	}
}

// skipValue skips the rest of a field line of no interest. Bytes net/http
// refuses in a value make it refuse the whole request; they need no check.
func (t *framingTracker) skipValue(p []byte) int {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		t.off += int64(len(p))
		return len(p)
	}
	t.off += int64(i + 1)
	t.state = sLineStart
	return i + 1
}

func (t *framingTracker) startContentLength() {
	switch {
	case t.hasCL:
		// net/http merges identical values and refuses differing
		// ones; RFC 9112, section 6.3 lets a recipient refuse both.
		t.violation(errFramingDuplicateContentLength)
	case t.hasTE:
		t.violation(errFramingContentLengthWithTE)
	default:
		t.hasCL, t.cl = true, 0
		t.state = sContentLength
	}
}

// contentLengthByte follows a Content-Length value: optional whitespace,
// decimal digits, optional whitespace (textproto.TrimString, then
// strconv.ParseUint(s, 10, 63)).
func (t *framingTracker) contentLengthByte(c byte) {
	switch {
	case t.vCR && c != '\n':
		t.violation(errFramingBadContentLength)
	case c == '\n':
		t.endContentLength()
	case c == '\r':
		t.vCR = true
	case c == ' ' || c == '\t':
		t.vTrail = t.vLen > 0
	case isDigit(c) && !t.vTrail:
		d := uint64(c - '0')
		if t.cl > (maxContentLength-d)/10 {
			t.violation(errFramingBadContentLength)
			return
		}
		t.cl = t.cl*10 + d
		t.vLen++
	case c == ',':
		// "Content-Length: 3, 3": net/http refuses it; a
		// recipient that merges the list would not.
		t.violation(errFramingContentLengthList)
	default:
		t.violation(errFramingBadContentLength)
	}
}

func (t *framingTracker) endContentLength() {
	if t.vLen == 0 {
		// Empty so far: "Content-Length:" and an obs-fold "3" is a
		// length to net/http. Which to blame is settled on the next
		// line.
		t.pending = errFramingBadContentLength
	}
	t.state = sLineStart
}

func (t *framingTracker) startTransferEncoding() {
	switch {
	case t.http10:
		// net/http ignores Transfer-Encoding on HTTP/1.0 and reads no
		// body; an intermediary may have read a chunked one.
		t.violation(errFramingTransferEncodingHTTP10)
	case t.hasCL:
		// net/http lets Transfer-Encoding win and drops
		// Content-Length; RFC 9112, section 6.1 allows refusing it.
		t.violation(errFramingContentLengthWithTE)
	case t.hasTE:
		// net/http answers 501 to more than one field line.
		t.violation(errFramingBadTransferEncoding)
	default:
		t.hasTE = true
		t.state = sTransferEncoding
	}
}

// transferEncodingByte follows a Transfer-Encoding value, of which
// net/http takes only "chunked", in any case, with optional whitespace
// around it; it answers anything else with 501.
func (t *framingTracker) transferEncodingByte(c byte) {
	const chunked = "chunked"
	switch {
	case t.vCR && c != '\n':
		t.violation(errFramingBadTransferEncoding)
	case c == '\n':
		if t.vLen != len(chunked) {
			// Perhaps completed by an obs-fold; see endContentLength.
			t.pending = errFramingBadTransferEncoding
		}
		t.state = sLineStart
	case c == '\r':
		t.vCR = true
	case c == ' ' || c == '\t':
		t.vTrail = t.vLen > 0
	case !t.vTrail && t.vLen < len(chunked) && lowerASCII(c) == chunked[t.vLen]:
		t.vLen++
	default:
		t.violation(errFramingBadTransferEncoding)
	}
}

// endSection handles the empty line ending a head or a trailer section.
func (t *framingTracker) endSection() {
	if t.trailer {
		t.endBody()
		return
	}
	t.endHead()
}

func (t *framingTracker) endHead() {
	if t.pri && t.fields == 0 {
		// The HTTP/2 connection preface. With prior knowledge of
		// HTTP/2 configured, net/http hands the connection to its
		// HTTP/2 server; without, it serves this one request and
		// closes.
		t.stop(endSwitched)
		return
	}
	if !t.q.push(headVerdict{fp: t.fp, optionsStar: t.optionsStar()}) {
		t.lost()
		return
	}
	t.emit(evHeadEnd, nil)
	// A request without Content-Length or Transfer-Encoding has no body
	// (RFC 9112, section 6.3; net/http fixLength).
	switch {
	case t.hasTE:
		t.startChunked()
	case t.hasCL && t.cl > 0:
		t.remain = t.cl
		t.bodyLength = int64(t.cl)
		t.state = sBody
	default:
		t.endBody()
	}
}

func (t *framingTracker) skipBody(p []byte) int {
	n := min(uint64(len(p)), t.remain)
	t.remain -= n
	t.off += int64(n)
	if t.remain == 0 {
		t.endBody()
	}
	return int(n)
}

// endBody readies the tracker for the next request head.
func (t *framingTracker) endBody() {
	t.emit(evBodyEnd, nil)
	post := t.post
	*t = framingTracker{q: t.q, off: t.off, trace: t.trace}
	if post {
		t.skip = 4
		t.state = sSkipCRLF
	}
}

// Chunked body, as net/http's chunked reader reads it: each chunk line is a
// hexadecimal size of at most 16 digits, then optional whitespace and
// CRLF, or ';' and extensions up to CRLF, with no other CR and no bare LF;
// chunk data is followed by CRLF; the last chunk, of size 0, by a trailer
// section read like a head's field lines.

func (t *framingTracker) startChunked() {
	t.chunkHex, t.chunkLine, t.remain = 0, 0, 0
	t.state = sChunkSize
}

func (t *framingTracker) chunkSizeByte(c byte) {
	if v, ok := hexValue(c); ok {
		if t.chunkHex == 16 {
			t.bodyViolation(errFramingBadChunked)
			return
		}
		t.remain = t.remain<<4 | v
		t.chunkHex++
		t.chunkLine++
		return
	}
	if t.chunkHex == 0 {
		t.bodyViolation(errFramingBadChunked)
		return
	}
	switch c {
	case ';':
		t.chunkLine++
		t.state = sChunkExt
	case ' ', '\t':
		t.chunkLine++
		t.state = sChunkOWS
	case '\r':
		t.state = sChunkLF
	default:
		t.bodyViolation(errFramingBadChunked)
	}
}

func (t *framingTracker) chunkOWSByte(c byte) {
	switch c {
	case ' ', '\t':
		t.chunkLine++
	case '\r':
		t.state = sChunkLF
	default:
		// Whitespace before ';' too: net/http trims only the end of
		// the line before cutting off extensions.
		t.bodyViolation(errFramingBadChunked)
	}
}

func (t *framingTracker) chunkExtByte(c byte) {
	switch c {
	case '\r':
		t.state = sChunkLF
	case '\n':
		t.bodyViolation(errFramingBadChunked)
	default:
		t.chunkLine++
	}
}

func (t *framingTracker) chunkLFByte(c byte) {
	if c != '\n' {
		t.bodyViolation(errFramingBadChunked)
		return
	}
	t.endChunkLine()
}

func (t *framingTracker) endChunkLine() {
	if t.chunkLine > maxChunkLine {
		t.bodyViolation(errFramingBadChunked)
		return
	}
	// The same arithmetic as net/http's, overflow included.
	t.excess += int64(t.chunkLine) + 2
	t.excess -= 16 + 2*int64(t.remain)
	t.excess = max(t.excess, 0)
	if t.excess > maxChunkExcess {
		t.bodyViolation(errFramingBadChunked)
		return
	}
	if t.remain == 0 {
		t.trailer = true
		t.emit(evTrailer, nil)
		t.state = sLineStart
		return
	}
	t.bodyLength += int64(t.remain)
	t.state = sChunkData
}

func (t *framingTracker) skipChunkData(p []byte) int {
	n := min(uint64(len(p)), t.remain)
	t.remain -= n
	t.off += int64(n)
	if t.remain == 0 {
		t.state = sChunkDataCR
	}
	return int(n)
}

// expectByte moves to next on c == want; chunk data must end in CRLF.
func (t *framingTracker) expectByte(c, want byte, next trackState) {
	if c != want {
		t.bodyViolation(errFramingBadChunked)
		return
	}
	if next == sChunkSize {
		t.chunkHex, t.chunkLine = 0, 0
	}
	t.state = next
}

// Events, for tests to follow the tracker.

type framingEventKind uint8

const (
	evHead          framingEventKind = iota // a request line starts
	evHeadEnd                               // a head ends, unambiguous
	evViolation                             // a head is ambiguous
	evTrailer                               // a trailer section starts
	evBodyEnd                               // a body ends
	evBodyViolation                         // a body is malformed
	evEnd                                   // tracking ends
)

type framingEvent struct {
	kind framingEventKind
	off  int64 // stream offset just past the byte that caused the event
	err  error
	body int64 // evBodyEnd: decoded body length
	end  trackEnd
}

func (t *framingTracker) emit(kind framingEventKind, err error) {
	if t.trace == nil {
		return
	}
	off := t.off
	if kind == evHead {
		off-- // at the first byte of the request line
	}
	t.trace(framingEvent{kind: kind, off: off, err: err, body: t.bodyLength, end: t.end})
}

// Bytes.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hexValue(c byte) (uint64, bool) {
	switch {
	case isDigit(c):
		return uint64(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// tokenBytes marks the bytes of an RFC 9110 token.
var tokenBytes = func() (m [256]bool) {
	for c := '0'; c <= '9'; c++ {
		m[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		m[c], m[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		m[c] = true
	}
	return m
}()

func isTokenByte(c byte) bool { return tokenBytes[c] }
