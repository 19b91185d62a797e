package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peekroute/peekroute/extract"
	"github.com/peekroute/peekroute/hashring"
)

// MissingKeyPolicy says what happens to a request whose key is not found.
type MissingKeyPolicy uint8

const (
	// Spread forwards keyless requests anyway, spread over the healthy
	// backends in proportion to the partitions they own.
	Spread MissingKeyPolicy = iota
	// Reject answers keyless requests with 400.
	Reject
)

// ParseMissingKeyPolicy parses "spread" or "reject".
func ParseMissingKeyPolicy(s string) (MissingKeyPolicy, error) {
	switch s {
	case "spread":
		return Spread, nil
	case "reject":
		return Reject, nil
	}
	return 0, fmt.Errorf("unknown missing-key policy %q (want spread or reject)", s)
}

// Config is what a Router needs.
type Config struct {
	// Backends is every configured backend at start; SetBackends changes
	// the set later. They are all in the ring until SetHealthy says which
	// of them are healthy.
	Backends []Backend
	// Ring is the shape of the ring.
	Ring hashring.Config
	// Key lists where the key may be, in order of preference, as
	// extract.ParseSources returns it.
	Key []extract.Source
	// PeekLimit is the most body bytes read while looking for the key.
	PeekLimit int
	// PeekTimeout bounds the time to read the peeked part of a body; a
	// client that does not send it in time gets 408. Zero: no limit.
	PeekTimeout time.Duration
	// MaxBody, when positive, is the largest body accepted, whether
	// declared by Content-Length or streamed; a larger one gets 413.
	MaxBody int64
	// MissingKey is what happens when the key is not found.
	MissingKey MissingKeyPolicy
	// Forwarder carries requests to backends; nil: NewProxyForwarder over
	// a default transport.
	Forwarder Forwarder
	// Logger receives one line per fault; nil: slog.Default().
	Logger *slog.Logger
	// OnBackendFailure, when set, hears of every connection failure to a
	// backend on a real request (passive health).
	OnBackendFailure func(backend string, err error)
	// Metrics, when set, records every request.
	Metrics *Metrics
	// AccessLog logs one line per request at level Info.
	AccessLog bool
	// LogKeys adds the raw key to access log lines; otherwise only a
	// short hash of it appears (keys are often phone numbers).
	LogKeys bool
}

// Router is an http.Handler that routes each request by its key.
type Router struct {
	cfg       Config
	log       *slog.Logger
	table     atomic.Pointer[table]
	update    sync.Mutex // serializes table writers; readers never wait
	keys      *keyFinder
	keyName   string   // the key sources as configured, for messages
	bufs      *bufPool // peek buffers: the body as sent
	decoded   *bufPool // decoded windows of compressed bodies
	exchanges sync.Pool
}

// New returns a Router with every configured backend in its ring.
func New(cfg Config) (*Router, error) {
	if cfg.PeekLimit <= 0 {
		return nil, fmt.Errorf("peek limit must be positive, got %d", cfg.PeekLimit)
	}
	if cfg.Forwarder == nil {
		cfg.Forwarder = NewProxyForwarder(NewTransport(TransportConfig{MaxIdleConnsPerHost: 64}))
	}
	keys, err := newKeyFinder(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("key sources: %w", err)
	}
	rt := &Router{
		cfg:     cfg,
		log:     cfg.Logger,
		keys:    keys,
		keyName: sourcesString(cfg.Key),
		bufs:    newBufPool(cfg.PeekLimit),
		decoded: newBufPool(cfg.PeekLimit),
	}
	if rt.log == nil {
		rt.log = slog.Default()
	}
	rt.exchanges.New = func() any { return new(exchange) }
	if err := rt.SetBackends(cfg.Backends); err != nil {
		return nil, err
	}
	if err := rt.SetHealthy(rt.table.Load().names()); err != nil {
		return nil, err
	}
	return rt, nil
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := rt.exchanges.Get().(*exchange)
	*ex = exchange{ResponseWriter: w, start: time.Now()}
	defer rt.finish(ex, r)
	defer rt.recoverPanic(ex, r)
	rt.route(ex, r)
}

// finish records the exchange in metrics and the access log, and returns
// it to the pool. It runs even when the response was aborted.
func (rt *Router) finish(ex *exchange, r *http.Request) {
	elapsed := time.Since(ex.start)
	if rt.cfg.Metrics != nil {
		rt.cfg.Metrics.observe(ex, ex.lookup, elapsed)
	}
	if rt.cfg.AccessLog {
		rt.logAccess(ex, r, elapsed)
	}
	*ex = exchange{}
	rt.exchanges.Put(ex)
}

func (rt *Router) logAccess(ex *exchange, r *http.Request, elapsed time.Duration) {
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", ex.finalStatus()),
		slog.String("backend", ex.backendName()),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.Int64("bytes_in", ex.bytesIn),
		slog.Int64("bytes_out", ex.bytesOut),
		slog.String("key_source", ex.keySource),
	}
	if ex.keySource != "" {
		attrs = append(attrs, slog.String("key_hash", fmt.Sprintf("%08x", uint32(ex.keyHash>>32))))
		if rt.cfg.LogKeys {
			attrs = append(attrs, slog.String("key", ex.key))
		}
	}
	if ex.retried {
		attrs = append(attrs, slog.Bool("retried", true))
	}
	rt.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// recoverPanic turns a panic while serving r into one log line and a 500,
// or into an aborted response when the client already has a status, so
// one bad request never takes the process down.
func (rt *Router) recoverPanic(w *exchange, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p) // the deliberate way to abort a response; the server stays quiet
	}
	rt.log.Error("panic serving request", "panic", fmt.Sprint(p), "method", r.Method, "path", r.URL.Path,
		"remote", r.RemoteAddr, "stack", string(debug.Stack()))
	if w.wroteHeader() {
		panic(http.ErrAbortHandler)
	}
	writeError(w, r, http.StatusInternalServerError, "internal error")
}

func (rt *Router) route(w *exchange, r *http.Request) {
	if err := framingError(r); err != nil {
		rt.log.Info("refused ambiguous request framing", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		w.Header().Set("Connection", "close")
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	body := r.Body
	if max := rt.cfg.MaxBody; max > 0 {
		if r.ContentLength > max {
			rt.log.Info("request body too large", "remote", r.RemoteAddr, "path", r.URL.Path, "content_length", r.ContentLength)
			writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", max))
			return
		}
		// Enforced on the stream too: a chunked body has no declared size.
		body = http.MaxBytesReader(w.ResponseWriter, body, max)
	}
	buf := rt.bufs.get()
	defer buf.release()

	key, err := rt.peekKey(w, r, body, buf)
	switch {
	case err != nil:
		w.lookup = lookupError
		rt.answerBodyError(w, r, err)
		return
	case key.found:
		w.lookup = lookupFound
	default:
		w.lookup = lookupMissing
	}
	partition, found := key.partition, key.found
	t := rt.table.Load()
	if t.ring.Len() == 0 {
		rt.log.Warn("no backend available", "path", r.URL.Path)
		writeError(w, r, http.StatusServiceUnavailable, "no backend available")
		return
	}
	if !found {
		if rt.cfg.MissingKey == Reject {
			rt.log.Info("no key in request", "key", rt.keyName, "remote", r.RemoteAddr, "path", r.URL.Path)
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("no key (%s) in the request or the first %d bytes of its body", rt.keyName, rt.cfg.PeekLimit))
			return
		}
		partition = rand.IntN(t.ring.Config().Partitions)
	}
	rt.forward(w, r, body, buf, t, partition)
}

func sourcesString(sources []extract.Source) string {
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.String()
	}
	return strings.Join(names, ",")
}

// answerBodyError answers a request whose body could not be read.
func (rt *Router) answerBodyError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := bodyErrorStatus(err)
	rt.log.Info("reading request body", "remote", r.RemoteAddr, "path", r.URL.Path, "status", status, "err", err)
	// What is left of the body cannot be trusted to end where it should,
	// and the server must not wait to drain it: close after answering.
	w.Header().Set("Connection", "close")
	writeError(w, r, status, msg)
}

// bodyErrorStatus maps an error reading a client's body to the answer.
func bodyErrorStatus(err error) (int, string) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit)
	case isTimeout(err):
		return http.StatusRequestTimeout, "timed out reading the request body"
	}
	return http.StatusBadRequest, "could not read the request body"
}

// forward sends the request to the owner of partition, and once more to the
// partition's next owner when the first could not be reached and nothing
// was sent to it: SOAP calls are not idempotent, so a request that may have
// reached a backend is never sent again.
func (rt *Router) forward(w *exchange, r *http.Request, rest io.Reader, buf *peekBuf, t *table, partition int) {
	owner := t.members[t.ring.Owner(partition)]
	err, replayable := rt.attempt(w, r, rest, buf, owner)
	if err == nil {
		return
	}
	if replayable && t.ring.Len() > 1 {
		next := t.ring.Without(t.ring.Index(owner.Name))
		second := t.byName[next.Member(next.Owner(partition)).Name]
		rt.log.Warn("backend unreachable, retrying on the key's next owner", "backend", owner.Name, "next", second.Name, "err", err)
		rt.cfg.Metrics.recordRetry(owner.Name)
		w.retried = true
		owner = second
		if err, _ = rt.attempt(w, r, rest, buf, owner); err == nil {
			return
		}
	}
	rt.answerFailure(w, r, owner, err)
}

// attempt forwards r to b once. replayable reports that the attempt failed
// without a byte reaching b and the whole body is at hand to send again.
func (rt *Router) attempt(w *exchange, r *http.Request, rest io.Reader, buf *peekBuf, b *Backend) (err error, replayable bool) {
	out := *r
	var body *replayBody
	if r.ContentLength != 0 {
		body = newReplayBody(buf, rest)
		out.Body = body
	}
	if buf.n > 0 && r.Header.Get("Expect") != "" {
		// Reading the body told the client to continue already; the
		// backend must not be asked to say so again before it gets it.
		out.Header = r.Header.Clone()
		out.Header.Del("Expect")
	}
	w.backend = b
	err = rt.cfg.Forwarder.Forward(w, &out, b)
	if n := body.consumed(); n > w.bytesIn {
		w.bytesIn = n
	}
	// The exchange with b is over. A forwarder need not close the body
	// (httputil.ReverseProxy hides Close from the transport), and a
	// transport may still be writing it if b answered early: closing
	// here returns the peek buffer, and any late read fails cleanly.
	body.Close()
	if err == nil {
		return nil, false
	}
	if clientErr := body.clientError(); clientErr != nil {
		return &clientBodyError{clientErr}, false
	}
	if isDialError(err) {
		rt.reportFailure(b, err)
		return err, buf.whole() && !body.sent()
	}
	if isConnectionFailure(err) && r.Context().Err() == nil {
		rt.reportFailure(b, err)
	}
	return err, false
}

func (rt *Router) reportFailure(b *Backend, err error) {
	if rt.cfg.OnBackendFailure != nil {
		rt.cfg.OnBackendFailure(b.Name, err)
	}
}

// answerFailure tells the client why its request got no response.
func (rt *Router) answerFailure(w http.ResponseWriter, r *http.Request, b *Backend, err error) {
	var clientErr *clientBodyError
	switch {
	case errors.As(err, &clientErr):
		rt.answerBodyError(w, r, clientErr.err)
	case r.Context().Err() != nil:
		// The client went away; there is nobody to answer.
		rt.log.Debug("client gone before the backend answered", "backend", b.Name, "err", err)
	case isTimeout(err):
		rt.log.Warn("backend timed out", "backend", b.Name, "path", r.URL.Path, "err", err)
		writeError(w, r, http.StatusGatewayTimeout, "backend timed out")
	default:
		rt.log.Warn("backend failed", "backend", b.Name, "path", r.URL.Path, "err", err)
		writeError(w, r, http.StatusBadGateway, "backend failed")
	}
}

// clientBodyError is a failure to read the client's body while forwarding
// it: the client's fault, not the backend's.
type clientBodyError struct{ err error }

func (e *clientBodyError) Error() string { return "reading client body: " + e.err.Error() }
func (e *clientBodyError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isConnectionFailure reports a broken or refused connection, as opposed to
// a timeout or a cancelled request.
func isConnectionFailure(err error) bool {
	return !isTimeout(err) && !errors.Is(err, context.Canceled)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// clientError returns the error the client's stream gave while being
// forwarded, if any.
func (rb *replayBody) clientError() error {
	if rb == nil {
		return nil
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return rb.restErr
}
