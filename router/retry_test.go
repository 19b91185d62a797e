package router_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/peekroute/peekroute/router"
)

// keysOwnedBy returns n keys that rt routes to backend.
func keysOwnedBy(t *testing.T, rt *router.Router, backend string, n int) []string {
	t.Helper()
	var keys []string
	for i := 0; len(keys) < n && i < 100000; i++ {
		key := fmt.Sprintf("k-%d", i)
		if _, b, _ := rt.Owner([]byte(key)); b.Name == backend {
			keys = append(keys, key)
		}
	}
	if len(keys) < n {
		t.Fatalf("found only %d keys owned by %s", len(keys), backend)
	}
	return keys
}

type failures struct {
	mu    sync.Mutex
	names []string
}

func (f *failures) report(name string, _ error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = append(f.names, name)
}

func (f *failures) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.names)
}

func TestDialFailureRetriesOnNextOwner(t *testing.T) {
	bs := startBackends(t, 3)
	dead := deadBackend(t)
	all := append(slices.Clone(bs.backends), dead)
	var failed failures
	const limit = 4 << 10
	rt, url := startRouter(t, all, withPeekLimit(limit), func(c *testConfig) { c.router.OnBackendFailure = failed.report })
	// Where each key goes once the dead backend has left the ring.
	live := newRouterFor(t, []string{bs.backends[0].Name, bs.backends[1].Name, bs.backends[2].Name})

	t.Run("small body is retried", func(t *testing.T) {
		for _, key := range keysOwnedBy(t, rt, dead.Name, 5) {
			body := envelope(key, 10, 100)
			resp := postBytes(t, url, body, key)
			_, next, _ := live.Owner([]byte(key))
			if resp.status != http.StatusOK || resp.backend != bs.nameOf(next) {
				t.Errorf("key %s: status %d from %q, want 200 from the next owner %s", key, resp.status, resp.backend, bs.nameOf(next))
			}
			if r := lastFor(t, bs, key); r.sha != sha(body) {
				t.Errorf("key %s: body changed on the retry", key)
			}
		}
		if got := failed.list(); len(got) != 5 || got[0] != dead.Name {
			t.Errorf("passive failures reported %v, want 5 for %s", got, dead.Name)
		}
	})
	t.Run("body beyond the peek buffer is not retried", func(t *testing.T) {
		key := keysOwnedBy(t, rt, dead.Name, 1)[0]
		before := len(bs.received())
		resp := postBytes(t, url, envelope(key, 10, 4*limit), key)
		if resp.status != http.StatusBadGateway {
			t.Errorf("status %d, want 502", resp.status)
		}
		if after := len(bs.received()); after != before {
			t.Errorf("backends received %d requests, want none: a request that could not be replayed was sent again", after-before)
		}
	})
}
