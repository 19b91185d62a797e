package router

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/extract"
)

// Router is the engine's Policy: it routes each request by its key to the
// key's owner on the ring of healthy backends.
type Router struct {
	cfg     Config
	log     *slog.Logger
	table   atomic.Pointer[table]
	update  sync.Mutex // serializes table writers; readers never wait
	keys    *keyFinder
	keyName string // the key sources as configured, for messages
	windows *bufPool
	decoded *bufPool
	states  sync.Pool

	noBackend *engine.StatusError
	noKey     *engine.StatusError
}

// New returns a Router with every configured backend in its ring, or the
// error of cfg.Validate.
func New(cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := newKeyFinder(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("key sources: %w", err)
	}
	rt := &Router{
		cfg:       cfg,
		log:       cfg.Logger,
		keys:      keys,
		keyName:   sourcesString(cfg.Key),
		windows:   newBufPool(cfg.PeekLimit),
		decoded:   newBufPool(cfg.PeekLimit),
		noBackend: &engine.StatusError{Status: 503, Msg: "no backend available"},
	}
	rt.noKey = &engine.StatusError{Status: 400,
		Msg: fmt.Sprintf("no key (%s) in the request or the first %d bytes of its body", rt.keyName, cfg.PeekLimit)}
	if rt.log == nil {
		rt.log = slog.Default()
	}
	rt.states.New = func() any { return new(routeState) }
	if err := rt.SetBackends(cfg.Backends); err != nil {
		return nil, err
	}
	if err := rt.SetHealthy(rt.table.Load().names()); err != nil {
		return nil, err
	}
	return rt, nil
}

// routeState is the router's record of one exchange.
type routeState struct {
	partition int
	lookup    string // the key look-up's result: found, missing, error
	keySource string // the source that gave the key; "" if none did
	keyHash   uint64 // xxhash of the key, when found and logged
	key       string // the raw key, kept only when keys are logged
	peeked    int    // body bytes read while looking for the key
	backend   *Backend
}

// Route implements engine.Policy: it finds the request's key and returns
// its owner.
func (rt *Router) Route(x *engine.Exchange) (*engine.Target, error) {
	st := rt.states.Get().(*routeState)
	*st = routeState{}
	x.State = st
	key, err := rt.findKey(x, st)
	if err != nil {
		st.lookup = lookupError
		return nil, err
	}
	t := rt.table.Load()
	if t.ring.Len() == 0 {
		return nil, rt.noBackend
	}
	if key.found {
		st.lookup, st.partition = lookupFound, key.partition
	} else {
		st.lookup = lookupMissing
		if rt.cfg.MissingKey == Reject {
			return nil, rt.noKey
		}
		st.partition = rand.IntN(t.ring.Config().Partitions)
		if b := roomiest(x, t); b != nil {
			st.backend = b
			return b.target, nil
		}
	}
	st.backend = t.members[t.ring.Owner(st.partition)]
	return st.backend.target, nil
}

// roomiest returns the healthy backend with the most free room when
// backends have a concurrency limit, for a keyless request: it has no
// conversation to keep, so it need not wait for a busy owner. Ties go to
// the first found from a random start. Nil when backends have no limit.
func roomiest(x *engine.Exchange, t *table) *Backend {
	n := len(t.members)
	start := rand.IntN(n)
	var best *Backend
	bestRoom := 0
	for i := range n {
		b := t.members[(start+i)%n]
		room, limited := x.Room(b.target)
		if !limited {
			return nil
		}
		if best == nil || room > bestRoom {
			best, bestRoom = b, room
		}
	}
	return best
}

// Reroute implements engine.Policy for a request waiting in current's
// queue after the ring changed: a keyed request follows its key to the
// key's owner now — the same answer every replica gives — and a keyless
// one stays while current is in the ring, else takes the roomiest.
func (rt *Router) Reroute(x *engine.Exchange, current *engine.Target) *engine.Target {
	st := x.State.(*routeState)
	t := rt.table.Load()
	if t.ring.Len() == 0 {
		return nil
	}
	if st.lookup != lookupFound {
		if t.ring.Index(current.Name) >= 0 {
			return current
		}
		if b := roomiest(x, t); b != nil {
			st.backend = b
			return b.target
		}
	}
	st.backend = t.members[t.ring.Owner(st.partition)]
	return st.backend.target
}

// Retry implements engine.Policy: the key's next owner is the owner it
// will have once the failed backend leaves the ring — the same answer
// every replica gives. When it has left already, that is its owner now.
func (rt *Router) Retry(x *engine.Exchange, failed *engine.Target) *engine.Target {
	st := x.State.(*routeState)
	t := rt.table.Load()
	var b *Backend
	switch i := t.ring.Index(failed.Name); {
	case t.ring.Len() == 0 || (i >= 0 && t.ring.Len() < 2):
		return nil
	case i < 0:
		b = t.members[t.ring.Owner(st.partition)]
	default:
		next := t.ring.Without(i)
		b = t.byName[next.Member(next.Owner(st.partition)).Name]
	}
	rt.cfg.Metrics.recordRetry(failed.Name)
	st.backend = b
	return b.target
}

// BackendFailed implements engine.Policy: it passes the failure on to
// passive health.
func (rt *Router) BackendFailed(t *engine.Target, err error) {
	if rt.cfg.OnBackendFailure != nil {
		rt.cfg.OnBackendFailure(t.Name, err)
	}
}

// Done implements engine.Policy: it records the exchange in metrics and the
// access log.
func (rt *Router) Done(x *engine.Exchange) {
	st, _ := x.State.(*routeState)
	if st == nil {
		st = &routeState{lookup: lookupError} // refused before routing
	}
	elapsed := time.Since(x.Start)
	if rt.cfg.Metrics != nil {
		rt.cfg.Metrics.observe(x, st, elapsed)
	}
	if rt.cfg.AccessLog {
		rt.logAccess(x, st, elapsed)
	}
	if x.State != nil {
		x.State = nil
		rt.states.Put(st)
	}
}

// statusClientClosed stands for requests whose client left before any
// answer, as in nginx's logs.
const statusClientClosed = 499

func finalStatus(x *engine.Exchange) int {
	if x.Status == 0 {
		return statusClientClosed
	}
	return x.Status
}

func backendName(x *engine.Exchange) string {
	if x.Target == nil {
		return "none"
	}
	return x.Target.Name
}

func (rt *Router) logAccess(x *engine.Exchange, st *routeState, elapsed time.Duration) {
	method, path := "", ""
	if x.Req != nil {
		method = string(x.Req.Method)
		path, _, _ = strings.Cut(string(x.Req.Target), "?")
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("status", finalStatus(x)),
		slog.String("backend", backendName(x)),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.Int64("bytes_in", x.BytesIn),
		slog.Int64("bytes_out", x.BytesOut),
		slog.String("key_source", st.keySource),
	}
	if st.keySource != "" {
		attrs = append(attrs, slog.String("key_hash", fmt.Sprintf("%08x", uint32(st.keyHash>>32))))
		if rt.cfg.LogKeys {
			attrs = append(attrs, slog.String("key", st.key))
		}
	}
	if x.Retried {
		attrs = append(attrs, slog.Bool("retried", true))
	}
	if x.Err != nil {
		attrs = append(attrs, slog.String("err", x.Err.Error()))
	}
	rt.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// foundKey records that source i gave key and returns its partition.
func (rt *Router) foundKey(st *routeState, i int, key []byte) keyResult {
	st.keySource = rt.keys.labels[i]
	if rt.cfg.AccessLog {
		st.keyHash = xxhash.Sum64(key)
		if rt.cfg.LogKeys {
			st.key = string(key)
		}
	}
	return keyResult{partition: rt.table.Load().ring.Partition(key), found: true, source: i}
}

func sourcesString(sources []extract.Source) string {
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.String()
	}
	return strings.Join(names, ",")
}

// bufPool recycles byte buffers of one size.
type bufPool struct {
	size      int
	pool      sync.Pool
	allocated atomic.Int64 // buffers made rather than reused
}

type window struct{ b []byte }

func newBufPool(size int) *bufPool {
	bp := &bufPool{size: size}
	bp.pool.New = func() any {
		bp.allocated.Add(1)
		return &window{b: make([]byte, size)}
	}
	return bp
}

func (bp *bufPool) get() *window  { return bp.pool.Get().(*window) }
func (bp *bufPool) put(w *window) { bp.pool.Put(w) }
