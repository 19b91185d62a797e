package engine

// Each backend may be given a limit on the exchanges in flight to it, as
// HAProxy's maxconn on a server line: an exchange takes a slot before it
// dials or draws a pooled connection and gives it back once its response
// has been relayed, so the backend never has more requests at once than
// the limit, nor more open connections than the limit plus its idle pool.
// Requests over the limit wait in that backend's queue, first come first
// served, having sent nothing anywhere; a request never goes elsewhere
// because its backend is busy (that would break its conversation). The
// queue is bounded (a request over MaxQueue gets 503 at once) and so is
// the wait (QueueTimeout, then 503). A waiting request whose client goes
// away leaves the queue at once. When routing changes — a backend leaves
// the ring — the policy is asked again for every waiting request, and those
// whose backend changed move to their new backend's queue, keeping their
// place in arrival order.
//
// The slots and queues live beside the idle pools, under the same lock.

import (
	"cmp"
	"errors"
	"slices"
	"time"
)

// Why a request left a queue without a slot.
const (
	RefusedFull       = "full"
	RefusedTimeout    = "timeout"
	RefusedClientGone = "client_gone"
)

var (
	errQueueFull    = &StatusError{Status: 503, Msg: "backend busy: queue full"}
	errQueueTimeout = &StatusError{Status: 503, Msg: "backend busy: timed out waiting in its queue"}
	errNoBackend    = &StatusError{Status: 503, Msg: "no backend available"}
	errClientGone   = errors.New("client went away while queued")
)

// waiter is a request in a backend's queue. Guarded by backendPools.mu,
// except ready, which is signalled once under it.
type waiter struct {
	c       *clientConn
	target  *Target
	seq     uint64        // arrival order, across every queue
	ready   chan struct{} // one value: granted a slot, or failed
	granted bool
	failed  bool // routing has no backend left for it
	queued  bool
}

// limit is how many exchanges may be in flight to t; 0: no limit.
func (p *backendPools) limit(t *Target) int {
	per := p.s.cfg.MaxActive
	if per <= 0 {
		return 0
	}
	return per * max(t.Weight, 1)
}

// acquire takes a slot on t, waiting in its queue when t is full. It returns
// the target the slot is on — the request may have followed its key to a
// new owner while it waited — or why it got none.
func (c *clientConn) acquire(t *Target) (*Target, error) {
	p := c.s.backends
	p.mu.Lock()
	bp := p.pool(t)
	lim := p.limit(t)
	bp.limit = lim
	if lim == 0 || (bp.active < lim && len(bp.queue) == 0) {
		bp.active++
		bp.counted()
		p.mu.Unlock()
		return t, nil
	}
	if len(bp.queue) >= max(c.s.cfg.MaxQueue, 0) {
		p.mu.Unlock()
		c.s.metrics.refused(t, RefusedFull)
		return nil, errQueueFull
	}
	w := &c.wait
	p.seq++
	*w = waiter{c: c, target: t, seq: p.seq, ready: w.ready, queued: true}
	bp.queue = append(bp.queue, w)
	bp.counted()
	p.mu.Unlock()
	return c.awaitSlot(w, t)
}

// awaitSlot waits for w's slot, the queue timeout or the client's leaving.
// w is guarded by the pools' lock until it has left its queue; t is the
// target it first queued for.
func (c *clientConn) awaitSlot(w *waiter, t *Target) (*Target, error) {
	start := time.Now()
	defer func() { c.s.metrics.waited(t, time.Since(start)) }()
	gone := c.watchClient()
	var timeout <-chan time.Time
	if d := c.s.cfg.QueueTimeout; d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	var why string
	select {
	case <-w.ready:
	case <-timeout:
		why = RefusedTimeout
	case <-gone:
		why = RefusedClientGone
	}
	c.stopWatching()
	if why != "" && !c.s.backends.leave(w) {
		<-w.ready // granted or failed just before leaving: take it
		why = ""
	}
	if why != "" {
		c.s.metrics.refused(w.target, why)
	}
	switch {
	case why == RefusedTimeout:
		return nil, errQueueTimeout
	case why == RefusedClientGone:
		return nil, errClientGone
	case w.failed:
		return nil, errNoBackend
	}
	return w.target, nil
}

// leave takes w out of its queue; false when it had already left it,
// granted or failed.
func (p *backendPools) leave(w *waiter) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !w.queued {
		return false
	}
	bp := p.pools[w.target.Name]
	bp.queue = slices.DeleteFunc(bp.queue, func(x *waiter) bool { return x == w })
	bp.counted()
	w.queued = false
	return true
}

// release gives back a slot on t: to the first request waiting for t, or
// to nobody.
func (p *backendPools) release(t *Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	bp := p.pools[t.Name]
	if len(bp.queue) > 0 && bp.active <= p.limit(t) {
		p.grant(bp)
		return
	}
	bp.active--
	bp.counted()
}

// grant hands a slot that stays taken to bp's first waiter.
func (p *backendPools) grant(bp *backendPool) {
	w := bp.queue[0]
	bp.queue[0] = nil
	bp.queue = bp.queue[1:]
	bp.counted()
	w.queued, w.granted = false, true
	w.ready <- struct{}{}
}

// RoutesChanged asks the policy again where each waiting request goes,
// and moves those whose backend changed to their new backend's queue in
// arrival order, or gives them a slot there at once when it has room. A
// request with no backend left gets 503. Call it after every change of
// routing (a backend joining or leaving).
func (s *Server) RoutesChanged() {
	p := s.backends
	p.mu.Lock()
	defer p.mu.Unlock()
	var moved []*waiter
	for _, bp := range p.pools {
		bp.queue = slices.DeleteFunc(bp.queue, func(w *waiter) bool {
			nt := s.policy.Reroute(&w.c.x, w.target)
			if nt == w.target {
				return false
			}
			w.target = nt
			moved = append(moved, w)
			return true
		})
		bp.counted()
	}
	slices.SortFunc(moved, func(a, b *waiter) int { return cmp.Compare(a.seq, b.seq) })
	for _, w := range moved {
		p.requeue(w)
	}
}

// requeue puts a moved waiter in its new backend's queue in arrival order,
// or grants it a slot when that backend has room. Called with p.mu held.
func (p *backendPools) requeue(w *waiter) {
	if w.target == nil {
		w.queued, w.failed = false, true
		w.ready <- struct{}{}
		return
	}
	bp := p.pool(w.target)
	bp.limit = p.limit(w.target)
	defer bp.counted()
	if bp.limit == 0 || (bp.active < bp.limit && len(bp.queue) == 0) {
		bp.active++
		w.queued, w.granted = false, true
		w.ready <- struct{}{}
		return
	}
	i, _ := slices.BinarySearchFunc(bp.queue, w.seq, func(x *waiter, seq uint64) int { return cmp.Compare(x.seq, seq) })
	bp.queue = slices.Insert(bp.queue, i, w)
}

// Room returns how many more exchanges t can take at once before requests
// for it wait: its limit less those in flight and waiting, which may be
// negative; limited is false when t has no limit. It takes no lock, so a
// policy may call it from Reroute.
func (x *Exchange) Room(t *Target) (room int, limited bool) {
	p := x.c.s.backends
	lim := p.limit(t)
	if lim == 0 {
		return 0, false
	}
	v, ok := p.index.Load(t.Name)
	if !ok {
		return lim, true // never used: all room
	}
	return int(v.(*backendPool).room.Load()), true
}

// BackendLoad is one backend's exchanges in flight and waiting.
type BackendLoad struct {
	Name     string
	InFlight int
	Queued   int
	Limit    int // 0: none
}

// Load returns the in-flight and queued exchanges of every backend the
// engine has carried requests to.
func (s *Server) Load() []BackendLoad {
	p := s.backends
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]BackendLoad, 0, len(p.pools))
	for name, bp := range p.pools {
		out = append(out, BackendLoad{Name: name, InFlight: bp.active, Queued: len(bp.queue), Limit: bp.limit})
	}
	slices.SortFunc(out, func(a, b BackendLoad) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// watchClient reads from the client while its request waits, so that a
// client that goes away is noticed at once; what it sends meanwhile (the
// rest of its body, a pipelined request) is kept in the connection's
// buffer. The returned channel is closed when the client has gone.
func (c *clientConn) watchClient() <-chan struct{} {
	c.watch.gone = make(chan struct{})
	c.watch.done = make(chan struct{})
	c.watch.stopping.Store(false)
	go func() {
		defer close(c.watch.done)
		for {
			_, err := c.in.fill(0)
			switch {
			case err == nil:
				continue
			case c.watch.stopping.Load():
				return
			case errors.Is(err, errBufferFull):
				return // cannot keep more: the client is sending, not gone
			}
			close(c.watch.gone)
			return
		}
	}()
	return c.watch.gone
}

// stopWatching stops watchClient's reader and waits for it.
func (c *clientConn) stopWatching() {
	c.watch.stopping.Store(true)
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-c.watch.done
	c.nc.SetReadDeadline(time.Time{})
}
