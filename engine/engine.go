package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Policy decides where requests go and hears how they ended. The engine
// calls it from the goroutine serving the client connection.
type Policy interface {
	// Route chooses the backend for x. It may read the start of the body
	// through x.Body; whatever it reads is still sent to the backend. An
	// error answers the client instead: a *StatusError with its status,
	// or any other error from x.Body (which the engine maps itself).
	Route(x *Exchange) (*Target, error)
	// Retry offers another backend for x after failed could not be reached
	// and nothing of x was sent; nil means no retry.
	Retry(x *Exchange, failed *Target) *Target
	// Reroute says where x, routed to current and still waiting in its
	// queue, goes now that routing has changed: current, another target,
	// or nil when there is none. It must not block: the engine calls it
	// holding its queues' lock, from any goroutine.
	Reroute(x *Exchange, current *Target) *Target
	// BackendFailed hears of a backend's own failure on a real request:
	// a refused or reset connection, a connection closed before the
	// response, a response that cannot be parsed. Never of a client's
	// fault or a local one.
	BackendFailed(t *Target, err error)
	// Done hears of every exchange once it has ended, however it ended.
	Done(x *Exchange)
}

// Target is a backend as the engine dials it. A Target is shared by every
// request routed to it; pools of idle connections are kept by Name.
type Target struct {
	Name       string // unique among targets; names the pool and logs
	Addr       string // host:port to dial
	TLS        bool   // speak TLS to it, verifying ServerName
	ServerName string
	PathPrefix string // prepended to every request's path; "" or "/…" without a trailing slash
	Weight     int    // scales MaxActive; 0 counts as 1
}

// StatusError is an answer the engine writes to the client in place of a
// backend's response.
type StatusError struct {
	Status int
	Msg    string // short and safe to show the client
}

func (e *StatusError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Msg) }

// Config is what a Server needs. Zero durations mean no limit, except where
// noted.
type Config struct {
	Policy Policy
	Logger *slog.Logger // nil: slog.Default()

	// ReadHeaderTimeout bounds reading a request head, from its first byte.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection.
	IdleTimeout time.Duration
	// PeekTimeout bounds the policy's read of the start of a body.
	PeekTimeout time.Duration
	// BodyIdleTimeout bounds the time a request or response body may go
	// without progress once it is being relayed.
	BodyIdleTimeout time.Duration
	// MaxHeaderBytes bounds a request head and a response head (zero:
	// 64 KiB). A larger request head gets 431; a larger response head 502.
	MaxHeaderBytes int
	// MaxFields bounds the field lines in a head (zero: 100).
	MaxFields int
	// MaxBody, when positive, bounds a request body, declared or streamed;
	// a larger one gets 413.
	MaxBody int64
	// PeekLimit is the most body bytes a policy reads through
	// Exchange.Body (zero: 64 KiB); reads stop there.
	PeekLimit int
	// MaxConns caps open client connections; further clients wait in the
	// listen backlog until one closes. Zero: no cap.
	MaxConns int

	// DialTimeout bounds connecting to a backend, TLS handshake included.
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for a response head once the request
	// has been sent whole; 504 when it passes.
	ResponseTimeout time.Duration
	// MaxIdlePerBackend is how many idle connections are kept per backend
	// (zero: 64).
	MaxIdlePerBackend int
	// IdleConnTimeout closes backend connections idle this long (zero:
	// 90s).
	IdleConnTimeout time.Duration
	// BackendTLS is the base TLS configuration for TLS targets; nil: the
	// system roots.
	BackendTLS *tls.Config

	// MaxActive, when positive, is the most exchanges in flight to a
	// backend per unit of its weight; more wait in its queue (see
	// queue.go). MaxQueue bounds each queue (a request over it gets 503
	// at once) and QueueTimeout the wait in it (then 503).
	MaxActive    int
	MaxQueue     int
	QueueTimeout time.Duration

	// Metrics, when set, records queue waits and refusals.
	Metrics *Metrics
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.MaxFields <= 0 {
		c.MaxFields = 100
	}
	if c.PeekLimit <= 0 {
		c.PeekLimit = 64 << 10
	}
	if c.MaxIdlePerBackend <= 0 {
		c.MaxIdlePerBackend = 64
	}
	if c.IdleConnTimeout <= 0 {
		c.IdleConnTimeout = 90 * time.Second
	}
}

// Server serves client connections with one Policy.
type Server struct {
	cfg      Config
	log      *slog.Logger
	policy   Policy
	bufs     bufPools
	backends *backendPools
	metrics  *Metrics      // never nil; records nothing when not configured
	slots    chan struct{} // one per open client connection; nil: no cap

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*clientConn]struct{}
	draining  atomic.Bool
	idleConns sync.WaitGroup // tracks conns; Wait returns when all closed
	closed    chan struct{}  // closed by Close: stops the pool reaper
	closeOnce sync.Once
	reaper    sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("engine: server closed")

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Policy == nil {
		return nil, errors.New("engine: no policy")
	}
	cfg.setDefaults()
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		policy:    cfg.Policy,
		bufs:      newBufPools(cfg.MaxHeaderBytes, cfg.PeekLimit),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*clientConn]struct{}),
		closed:    make(chan struct{}),
	}
	s.backends = newBackendPools(s)
	s.metrics = cfg.Metrics
	if s.metrics == nil {
		s.metrics = &Metrics{}
	}
	if cfg.MaxConns > 0 {
		s.slots = make(chan struct{}, cfg.MaxConns)
	}
	s.reaper.Add(1)
	go s.reapIdle()
	return s, nil
}

// Serve accepts client connections on ln until Shutdown or Close, serving
// each on its own goroutine. A *tls.Conn from ln is served as TLS.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrack(ln)
	var backoff time.Duration
	for {
		if !s.takeSlot() {
			return ErrServerClosed
		}
		nc, err := ln.Accept()
		if err != nil {
			s.freeSlot()
			if s.draining.Load() {
				return ErrServerClosed
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() || isTemporaryAccept(err) {
				// Out of descriptors, say: wait and try again rather
				// than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accepting a client connection", "err", err, "retry_in", backoff.String())
				select {
				case <-time.After(backoff):
				case <-s.closed:
					return ErrServerClosed
				}
				continue
			}
			return fmt.Errorf("accepting: %w", err)
		}
		backoff = 0
		c := s.newConn(nc)
		if !s.add(c) {
			nc.Close()
			s.freeSlot()
			return ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) takeSlot() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.closed:
		return false
	}
}

func (s *Server) freeSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
}

func (s *Server) add(c *clientConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.idleConns.Add(1)
	return true
}

func (s *Server) remove(c *clientConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.freeSlot()
	s.idleConns.Done()
}

// OpenConns returns how many client connections are open.
func (s *Server) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, closes idle client connections at once and
// the others as soon as their exchange in flight ends, and waits for that
// until ctx ends; then it closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.wakeIfIdle()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.idleConns.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.Close()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners, every client connection and every idle
// backend connection at once, and waits for the connections' goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.draining.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
		if bc := c.active.Load(); bc != nil {
			bc.nc.Close() // wakes an exchange waiting on its backend
		}
	}
	s.mu.Unlock()
	s.closeOnce.Do(func() { close(s.closed) })
	s.idleConns.Wait()
	s.reaper.Wait()
	s.backends.closeAll()
	return nil
}

// reapIdle closes backend connections that have been idle too long, so that
// a pool nobody draws from (a backend removed, or quiet) lets them go.
func (s *Server) reapIdle() {
	defer s.reaper.Done()
	t := time.NewTicker(s.cfg.IdleConnTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.backends.reap(time.Now())
		case <-s.closed:
			return
		}
	}
}
