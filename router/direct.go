package router

// The direct forwarder speaks HTTP/1.1 to backends itself: the handler's
// goroutine writes the request head and body on a pooled keep-alive
// connection and reads the response from it, with no reader or writer
// goroutine in between and no outbound *http.Request. It trades the
// generality of httputil.ReverseProxy for a short, allocation-light path.
//
// What it does not do, by design:
//   - Protocol upgrades (Connection: upgrade, e.g. WebSocket) and CONNECT
//     are refused before anything is sent: Forward returns an error and the
//     router answers 502. A 101 response is likewise an error.
//   - Trailers are dropped in both directions.
//   - Interim 1xx responses from the backend (100 Continue and any other)
//     are read and discarded. An Expect: 100-continue the router left in
//     place is forwarded, but the body is sent at once without waiting.
//   - The request is written whole before the response is read. A backend
//     that answers early without reading a large body makes the write fail,
//     and the client gets 502 rather than the backend's early answer.
//
// Idle connections are probed before reuse with a non-blocking peek on the
// socket (Unix only): one the backend closed while it sat idle is discarded
// and a new one dialled, so the request is never written to it. A backend
// that closes the connection in the instant between the probe and the write
// still costs that request a 502; a request whose bytes may have been sent
// is never sent again.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors the direct forwarder returns for requests it cannot carry.
var (
	errDirectUpgrade   = errors.New("direct forwarder: protocol upgrades and CONNECT are not supported")
	errDirectSwitching = errors.New("direct forwarder: backend switched protocols, which is not supported")
	errDirectShortBody = errors.New("direct forwarder: request body shorter than its Content-Length")
	errDirectNoBody    = errors.New("direct forwarder: request has a Content-Length but no body")
)

const (
	directWriteBufSize = 64 << 10
	directReadBufSize  = 16 << 10
	directCopyBufSize  = 32 << 10
)

// aLongTimeAgo is a deadline that makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

// NewDirectForwarder returns a Forwarder that speaks HTTP/1.1 to backends
// itself over pooled keep-alive connections. The result also has a
// CloseIdleConnections method.
func NewDirectForwarder(cfg TransportConfig) Forwarder {
	maxIdle := cfg.MaxIdleConnsPerHost
	if maxIdle == 0 {
		maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if maxIdle < 0 {
		maxIdle = 0
	}
	return &DirectForwarder{
		cfg:     cfg,
		maxIdle: maxIdle,
		dialer:  net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second},
		pools:   make(map[string]*directPool),
		bufs:    newCopyBufferPool(directCopyBufSize, 1024),
	}
}

// DirectForwarder is the Forwarder NewDirectForwarder returns.
type DirectForwarder struct {
	cfg     TransportConfig
	maxIdle int
	dialer  net.Dialer
	bufs    *copyBufferPool

	mu    sync.Mutex
	pools map[string]*directPool // by backend name
}

// directPool is one backend's idle connections, the most recently used
// last. Guarded by the forwarder's mu.
type directPool struct {
	idle []*directConn
	tls  *tls.Config // for https backends, with ServerName set
}

// directConn is one connection to a backend with its buffers, which live
// and die with it.
type directConn struct {
	conn      net.Conn
	raw       net.Conn // the TCP connection under TLS, or conn itself
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

func (c *directConn) close() { c.conn.Close() }

// CloseIdleConnections closes every idle connection to every backend.
func (f *DirectForwarder) CloseIdleConnections() {
	f.mu.Lock()
	var all []*directConn
	for _, p := range f.pools {
		all = append(all, p.idle...)
		clear(p.idle)
		p.idle = p.idle[:0]
	}
	f.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

func (f *DirectForwarder) pool(b *Backend) *directPool {
	p := f.pools[b.Name]
	if p == nil {
		p = &directPool{}
		if b.URL.Scheme == "https" {
			if f.cfg.TLS != nil {
				p.tls = f.cfg.TLS.Clone()
			} else {
				p.tls = &tls.Config{}
			}
			if p.tls.ServerName == "" {
				p.tls.ServerName = b.URL.Hostname()
			}
			p.tls.NextProtos = []string{"http/1.1"}
		}
		f.pools[b.Name] = p
	}
	return p
}

// getIdle returns a live idle connection to b, or nil.
func (f *DirectForwarder) getIdle(b *Backend) *directConn {
	for {
		f.mu.Lock()
		p := f.pool(b)
		n := len(p.idle)
		if n == 0 {
			f.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		f.mu.Unlock()
		if t := f.cfg.IdleConnTimeout; t > 0 && time.Since(c.idleSince) > t {
			c.close()
			continue
		}
		if !c.alive() {
			c.close()
			continue
		}
		return c
	}
}

// putIdle keeps c for reuse, or closes it if b's pool is full.
func (f *DirectForwarder) putIdle(b *Backend, c *directConn) {
	c.idleSince = time.Now()
	f.mu.Lock()
	p := f.pool(b)
	if len(p.idle) < f.maxIdle {
		p.idle = append(p.idle, c)
		c = nil
	}
	f.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// alive reports whether an idle connection can still carry a request: the
// backend has not closed it and has sent nothing unasked. The check peeks
// at the socket without blocking.
func (c *directConn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	return socketIdle(c.raw)
}

func (f *DirectForwarder) dial(ctx context.Context, b *Backend) (*directConn, error) {
	conn, err := f.dialer.DialContext(ctx, "tcp", b.URL.Host)
	if err != nil {
		return nil, err
	}
	raw := conn
	if b.URL.Scheme == "https" {
		f.mu.Lock()
		cfg := f.pool(b).tls
		f.mu.Unlock()
		tc := tls.Client(conn, cfg)
		if t := f.cfg.DialTimeout; t > 0 {
			tc.SetDeadline(time.Now().Add(t))
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			// Nothing of the request was sent: report it as the
			// failure to connect that it is.
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: conn.RemoteAddr(), Err: err}
		}
		tc.SetDeadline(time.Time{})
		conn = tc
	}
	return &directConn{
		conn: conn,
		raw:  raw,
		br:   bufio.NewReaderSize(conn, directReadBufSize),
		bw:   bufio.NewWriterSize(conn, directWriteBufSize),
	}, nil
}

// Forward implements Forwarder.
func (f *DirectForwarder) Forward(w http.ResponseWriter, req *http.Request, b *Backend) error {
	if req.Method == http.MethodConnect || headerHasToken(req.Header["Connection"], "upgrade") {
		return errDirectUpgrade
	}
	if req.ContentLength > 0 && req.Body == nil {
		return errDirectNoBody
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return err
	}
	c := f.getIdle(b)
	if c == nil {
		var err error
		if c, err = f.dial(ctx, b); err != nil {
			return err
		}
	}
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	reusable := false
	defer func() {
		// stop fails once the deadline was poisoned: never reuse then.
		if stop() && reusable {
			f.putIdle(b, c)
		} else {
			c.close()
		}
	}()

	if err := f.writeRequest(c, req, b); err != nil {
		return err
	}

	if t := f.cfg.ResponseHeaderTimeout; t > 0 {
		conn.SetReadDeadline(time.Now().Add(t))
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("reading response head: %w (%w)", ctx.Err(), err)
			}
			return err
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return errDirectSwitching
		}
		if resp.StatusCode >= 200 {
			break
		}
		// An interim response (100 Continue, 103 Early Hints, ...) has
		// no body; the final response follows.
	}
	if f.cfg.ResponseHeaderTimeout > 0 {
		conn.SetReadDeadline(time.Time{})
		if err := ctx.Err(); err != nil {
			// The cancellation may have set a deadline just cleared.
			return err
		}
	}

	copyResponseHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	if resp.Body == http.NoBody {
		reusable = !resp.Close
		return nil
	}
	if err := f.copyBody(w, resp); err != nil {
		// The client must not take a truncated body for a whole one.
		// The deferred close runs as the panic unwinds.
		panic(http.ErrAbortHandler)
	}
	reusable = !resp.Close
	return nil
}

// copyBody relays the response body to w, flushing each piece when the
// backend streams a body of unknown length.
func (f *DirectForwarder) copyBody(w http.ResponseWriter, resp *http.Response) error {
	buf := f.bufs.Get()
	defer f.bufs.Put(buf)
	var rc *http.ResponseController
	if resp.ContentLength < 0 {
		rc = http.NewResponseController(w)
	}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if rc != nil {
				if err := rc.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// writeRequest writes req's head and body to c and flushes them. A failure
// to read the client's body is returned as the body's own error.
func (f *DirectForwarder) writeRequest(c *directConn, req *http.Request, b *Backend) error {
	bw := c.bw
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	writeTarget(bw, b, req)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := req.Host
	if host == "" {
		host = b.URL.Host
	}
	writeHeaderValue(bw, host)
	bw.WriteString("\r\n")
	writeRequestHeader(bw, req)
	switch {
	case req.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		if err := flushUnlessReady(bw, req.Body); err != nil {
			return err
		}
		if err := sendFixed(bw, req.Body, req.ContentLength); err != nil {
			return err
		}
	case req.ContentLength < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if err := flushUnlessReady(bw, req.Body); err != nil {
			return err
		}
		if err := f.sendChunked(bw, req.Body); err != nil {
			return err
		}
	default:
		bw.WriteString("\r\n")
	}
	return bw.Flush()
}

// flushUnlessReady sends the head now unless body has bytes to go with it
// at once (the peeked part of a replayed body): a body may be slow to come
// — a header key leaves it unread — and the backend should not wait for
// its first bytes to see the request.
func flushUnlessReady(bw *bufio.Writer, body io.Reader) error {
	if rb, ok := body.(*replayBody); ok && rb.ready() {
		return nil
	}
	return bw.Flush()
}

// sendFixed copies exactly n bytes of body into bw, reading straight into
// the writer's free space, and flushes after every read but the last so a
// slow body makes progress; the head and the first read leave together.
func sendFixed(bw *bufio.Writer, body io.Reader, n int64) error {
	for n > 0 {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		p := bw.AvailableBuffer()
		p = p[:min(int64(cap(p)), n)]
		m, err := body.Read(p)
		if m > 0 {
			bw.Write(p[:m]) // copies onto itself: no data moves
			n -= int64(m)
		}
		if n == 0 {
			return nil
		}
		if m > 0 {
			// More is to come, perhaps slowly from the client: let the
			// backend have what there is rather than wait to fill the
			// buffer. The head and a body read whole (or its peeked
			// part) still leave in one write.
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return errDirectShortBody
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sendChunked streams body as chunks, one per read, each flushed so a slow
// stream makes progress, and ends it with the last chunk.
func (f *DirectForwarder) sendChunked(bw *bufio.Writer, body io.Reader) error {
	buf := f.bufs.Get()
	defer f.bufs.Put(buf)
	for {
		m, err := body.Read(buf)
		if m > 0 {
			bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(m), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:m])
			bw.WriteString("\r\n")
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			bw.WriteString("0\r\n\r\n")
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeTarget writes the request-target: the backend's path prefix joined
// to the request's path with a single slash, then the query.
func writeTarget(bw *bufio.Writer, b *Backend, req *http.Request) {
	bpath := req.URL.EscapedPath()
	if apath := b.URL.EscapedPath(); apath != "" {
		aslash := strings.HasSuffix(apath, "/")
		bslash := strings.HasPrefix(bpath, "/")
		bw.WriteString(apath)
		switch {
		case aslash && bslash:
			bpath = bpath[1:]
		case !aslash && !bslash:
			bw.WriteByte('/')
		}
	} else if bpath == "" {
		bpath = "/"
	}
	bw.WriteString(bpath)
	if req.URL.ForceQuery || req.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(req.URL.RawQuery)
	}
}

// writeRequestHeader writes req's header fields without the hop-by-hop
// ones and those this forwarder sets itself, then the X-Forwarded fields.
func writeRequestHeader(bw *bufio.Writer, req *http.Request) {
	named := req.Header["Connection"]
	var prior []string
	for k, vv := range req.Header {
		switch k {
		case "Host", "Content-Length", "X-Forwarded-Host", "X-Forwarded-Proto":
			continue
		case "X-Forwarded-For":
			prior = vv
			continue
		case "Te":
			if headerHasToken(vv, "trailers") {
				bw.WriteString("Te: trailers\r\n")
			}
			continue
		}
		if isHopByHop(k) || (named != nil && headerHasToken(named, k)) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeHeaderValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		for _, v := range prior {
			writeHeaderValue(bw, v)
			bw.WriteString(", ")
		}
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	if req.Host != "" {
		bw.WriteString("X-Forwarded-Host: ")
		writeHeaderValue(bw, req.Host)
		bw.WriteString("\r\n")
	}
	if req.TLS != nil || connIsTLS(req.Context()) {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	}
}

// writeHeaderValue writes v with any CR, LF or NUL turned into a space, so
// a value can never end the field early.
func writeHeaderValue(bw *bufio.Writer, v string) {
	if !strings.ContainsAny(v, "\r\n\x00") {
		bw.WriteString(v)
		return
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' || c == 0 {
			c = ' '
		}
		bw.WriteByte(c)
	}
}

// copyResponseHeader adds src's fields to dst, without the hop-by-hop ones.
func copyResponseHeader(dst, src http.Header) {
	named := src["Connection"]
	for k, vv := range src {
		if isHopByHop(k) || k == "Te" || (named != nil && headerHasToken(named, k)) {
			continue
		}
		if prev, ok := dst[k]; ok {
			dst[k] = append(prev, vv...)
		} else {
			dst[k] = vv
		}
	}
}

func isHopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// headerHasToken reports whether the comma-separated values hold token,
// compared case-insensitively.
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
