package router_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/peekroute/peekroute/hashring"
	"github.com/peekroute/peekroute/router"
)

// discard is a Forwarder that reads the body and answers 200: what is left
// of a request's cost is the router's own.
type discard struct{}

func (discard) Forward(w http.ResponseWriter, r *http.Request, b *router.Backend) error {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkRouterOverhead measures routing a request — peeking its key,
// finding the owner, wrapping the body for replay, recording it — without
// the network.
func BenchmarkRouterOverhead(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			var backends []router.Backend
			for i := range 3 {
				be, _ := router.ParseBackend(fmt.Sprintf("http://10.0.0.%d:8080", i+1))
				backends = append(backends, be)
			}
			rt, err := router.New(router.Config{
				Backends: backends, Ring: hashring.DefaultConfig(), Key: sources("xml:sessionId"),
				PeekLimit: 64 << 10, Forwarder: discard{}, Logger: discardLogger(),
			})
			if err != nil {
				b.Fatal(err)
			}
			body := envelope("ussd-1001", 64, size)
			req := httptest.NewRequest(http.MethodPost, "/ussd", nil)
			req.Header.Set("Content-Type", "text/xml")
			w := &nopWriter{h: http.Header{}}
			rd := bytes.NewReader(body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				req.Body = io.NopCloser(rd)
				req.ContentLength = int64(len(body))
				rt.ServeHTTP(w, req)
			}
		})
	}
}
