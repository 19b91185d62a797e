package router_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/peekroute/peekroute/extract"
	"github.com/peekroute/peekroute/hashring"
	"github.com/peekroute/peekroute/router"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newRouterFor builds a router over the given backend URLs without serving.
func newRouterFor(t *testing.T, urls []string) *router.Router {
	t.Helper()
	var backends []router.Backend
	for _, u := range urls {
		b, err := router.ParseBackend(u)
		if err != nil {
			t.Fatal(err)
		}
		backends = append(backends, b)
	}
	rt, err := router.New(router.Config{
		Backends:  backends,
		Ring:      hashring.DefaultConfig(),
		Key:       sources("xml:sessionId"),
		PeekLimit: 1024,
		Logger:    discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// sources parses a key specification that the test knows to be valid.
func sources(spec string) []extract.Source {
	s, err := extract.ParseSources(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// testLogger discards logs unless PEEKROUTE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PEEKROUTE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return discardLogger()
}
