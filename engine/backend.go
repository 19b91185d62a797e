package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peekroute/peekroute/h1"
)

// backendConn is one connection to a backend, with the buffer its reads
// need while it carries an exchange.
type backendConn struct {
	nc        net.Conn
	tcp       *net.TCPConn // nil under TLS: no splice
	raw       net.Conn     // the TCP connection, under TLS or not
	in        reader
	probe     probe // whether the backend closed it while idle
	idleSince time.Time
	// unchecked: drawn from the pool without its probe, which the
	// exchange makes inside its wait for the answer (reader.writeAwait).
	unchecked bool
}

func (bc *backendConn) close() {
	bc.nc.Close()
	bc.in.drop()
}

func (bc *backendConn) setReadDeadline(d time.Duration) {
	if d > 0 {
		bc.nc.SetReadDeadline(time.Now().Add(d))
	} else {
		bc.nc.SetReadDeadline(time.Time{})
	}
}

// readHead reads a response head whole and returns it; it stays in the
// buffer until consumed.
func (bc *backendConn) readHead(max int) ([]byte, error) {
	bc.in.compact()
	for next := 0; ; {
		buf := bc.in.buffered()
		end, nx := h1.HeadEnd(buf, next)
		next = nx
		if end > max || (end < 0 && len(buf) >= max) {
			return nil, errResponseHeadTooLarge
		}
		if end >= 0 {
			return buf[:end], nil
		}
		if _, err := bc.in.fill(0); err != nil {
			if errors.Is(err, errBufferFull) {
				return nil, errResponseHeadTooLarge
			}
			return nil, err
		}
	}
}

// backendPools keeps each backend's idle connections, by target name.
type backendPools struct {
	s      *Server
	dialer net.Dialer

	mu    sync.Mutex
	pools map[string]*backendPool
	seq   uint64   // arrivals in queues, for their order
	index sync.Map // name → *backendPool, for reading room without the lock
}

// backendPool is one backend's idle connections, the most recently used
// last. Guarded by backendPools.mu.
type backendPool struct {
	idle   []*backendConn
	tls    *tls.Config  // for TLS targets, with ServerName set
	active int          // exchanges holding a slot: in flight
	limit  int          // the most in flight, as last computed; 0: none
	queue  []*waiter    // waiting for a slot, in arrival order
	room   atomic.Int64 // limit - active - len(queue), readable without the lock
}

// counted updates bp.room after a change of active, limit or queue.
func (bp *backendPool) counted() {
	bp.room.Store(int64(bp.limit - bp.active - len(bp.queue)))
}

func newBackendPools(s *Server) *backendPools {
	return &backendPools{
		s:      s,
		dialer: net.Dialer{Timeout: s.cfg.DialTimeout, KeepAlive: 30 * time.Second},
		pools:  make(map[string]*backendPool),
	}
}

func (p *backendPools) pool(t *Target) *backendPool {
	bp := p.pools[t.Name]
	if bp == nil {
		bp = &backendPool{}
		if t.TLS {
			if base := p.s.cfg.BackendTLS; base != nil {
				bp.tls = base.Clone()
			} else {
				bp.tls = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			if bp.tls.ServerName == "" {
				bp.tls.ServerName = t.ServerName
			}
			bp.tls.NextProtos = []string{"http/1.1"}
		}
		p.pools[t.Name] = bp
		p.index.Store(t.Name, bp)
	}
	return bp
}

// get returns a live idle connection to t, or a new one. Every idle
// connection is probed before reuse (one non-blocking peek): a backend
// that restarted or closed it while idle, even a moment ago, has it
// discarded instead of failing the request written to it. With checkLater,
// a connection that can be probed inside the wait for its answer is
// returned unchecked, for the caller to probe there (reader.writeAwait):
// a probe made before that wait begins leaves a gap in which the backend's
// bytes or half-close would raise no readiness the wait could see.
func (p *backendPools) get(t *Target, checkLater bool) (*backendConn, error) {
	for {
		bc := p.takeIdle(t)
		if bc == nil {
			return p.dial(t)
		}
		if time.Since(bc.idleSince) > p.s.cfg.IdleConnTimeout {
			bc.close()
			continue
		}
		if checkLater && bc.in.raw != nil {
			bc.unchecked = true
			return bc, nil
		}
		if !bc.probe.idle() {
			bc.close()
			continue
		}
		return bc, nil
	}
}

func (p *backendPools) takeIdle(t *Target) *backendConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	bp := p.pool(t)
	n := len(bp.idle)
	if n == 0 {
		return nil
	}
	bc := bp.idle[n-1]
	bp.idle[n-1] = nil
	bp.idle = bp.idle[:n-1]
	return bc
}

// put keeps bc for reuse, or closes it when t's pool is full.
func (p *backendPools) put(t *Target, bc *backendConn) {
	bc.in.release()
	bc.nc.SetDeadline(time.Time{})
	bc.idleSince = time.Now()
	p.mu.Lock()
	bp := p.pool(t)
	if len(bp.idle) < p.s.cfg.MaxIdlePerBackend && !p.s.draining.Load() {
		bp.idle = append(bp.idle, bc)
		bc = nil
	}
	p.mu.Unlock()
	if bc != nil {
		bc.close()
	}
}

// dial connects to t, completing the TLS handshake for a TLS target.
// Every error is a *net.OpError with Op "dial": nothing was sent.
func (p *backendPools) dial(t *Target) (*backendConn, error) {
	conn, err := p.dialer.Dial("tcp", t.Addr)
	if err != nil {
		return nil, err
	}
	bc := &backendConn{nc: conn, raw: conn}
	bc.tcp, _ = conn.(*net.TCPConn)
	if t.TLS {
		p.mu.Lock()
		cfg := p.pool(t).tls
		p.mu.Unlock()
		tc := tls.Client(conn, cfg)
		ctx := context.Background()
		if d := p.s.cfg.DialTimeout; d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: conn.RemoteAddr(), Err: err}
		}
		bc.nc, bc.tcp = tc, nil
	}
	bc.in.init(bc.nc, &p.s.bufs)
	bc.probe.init(bc.raw)
	return bc, nil
}

// reap closes connections idle longer than IdleConnTimeout.
func (p *backendPools) reap(now time.Time) {
	var stale []*backendConn
	p.mu.Lock()
	for _, bp := range p.pools {
		keep := bp.idle[:0]
		for _, bc := range bp.idle {
			if now.Sub(bc.idleSince) > p.s.cfg.IdleConnTimeout {
				stale = append(stale, bc)
			} else {
				keep = append(keep, bc)
			}
		}
		clear(bp.idle[len(keep):])
		bp.idle = keep
	}
	p.mu.Unlock()
	for _, bc := range stale {
		bc.close()
	}
}

// closeAll closes every idle connection.
func (p *backendPools) closeAll() {
	p.mu.Lock()
	var all []*backendConn
	for _, bp := range p.pools {
		all = append(all, bp.idle...)
		clear(bp.idle)
		bp.idle = bp.idle[:0]
	}
	p.mu.Unlock()
	for _, bc := range all {
		bc.close()
	}
}

// IdleConns returns how many idle backend connections the server keeps for
// the target named name.
func (s *Server) IdleConns(name string) int {
	s.backends.mu.Lock()
	defer s.backends.mu.Unlock()
	if bp := s.backends.pools[name]; bp != nil {
		return len(bp.idle)
	}
	return 0
}
