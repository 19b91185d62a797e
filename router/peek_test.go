package router

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/peekroute/peekroute/extract"
	"github.com/peekroute/peekroute/hashring"
)

// Peek buffers go back to their pool after every request, however the
// forwarder treats the body: a request costs no new buffer in the steady
// state.
func TestPeekBuffersAreReused(t *testing.T) {
	if race() {
		t.Skip("sync.Pool drops items on purpose under the race detector")
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer backend.Close()
	b, _ := ParseBackend(backend.URL)
	sources, _ := extract.ParseSources("xml:sessionId")
	transport := NewTransport(TransportConfig{MaxIdleConnsPerHost: 4})
	defer transport.CloseIdleConnections()
	rt, err := New(Config{Backends: []Backend{b}, Ring: hashring.DefaultConfig(), Key: sources, PeekLimit: 64 << 10,
		Forwarder: NewProxyForwarder(transport)})
	if err != nil {
		t.Fatal(err)
	}
	body := "<sessionId>reuse</sessionId>" + strings.Repeat("x", 2000)
	serve := func() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body)))
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	serve()
	before := rt.bufs.allocated.Load()
	for range 200 {
		serve()
	}
	// A collection may empty the pool once or twice along the way.
	if made := rt.bufs.allocated.Load() - before; made > 4 {
		t.Errorf("200 requests made %d new peek buffers; they are not going back to the pool", made)
	}
	runtime.KeepAlive(rt)
}
