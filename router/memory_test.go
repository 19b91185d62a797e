package router_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// patternReader yields n bytes without holding them, starting with a key.
type patternReader struct {
	head []byte
	n    int64
	off  int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rem := p.n - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		at := p.off + int64(i)
		if at < int64(len(p.head)) {
			b[i] = p.head[at]
		} else {
			b[i] = 'a' + byte(at%26)
		}
	}
	p.off += int64(len(b))
	return len(b), nil
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// 256 concurrent 8 MiB uploads keep the heap within the peek buffers of
// the requests in flight plus a constant, and it returns near its start:
// bodies stream through, they are never buffered whole.
func TestMemoryBoundedUnderLargeUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB through the router")
	}
	const (
		uploads   = 256
		size      = 8 << 20
		peekLimit = 64 << 10
		// Per request in flight: the peek buffer, the proxy's copy
		// buffer, and the client's, server's and transport's bufio
		// buffers; plus a constant for everything else.
		bound = uploads*(peekLimit+128<<10) + 64<<20
	)
	bs := startBackends(t, 3)
	_, url := startRouter(t, bs.backends, withPeekLimit(peekLimit))
	runtime.GC()
	start := heapBytes()

	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapBytes(); h > peak {
				peak = h
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: uploads, MaxIdleConnsPerHost: uploads}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, uploads)
	for i := range uploads {
		wg.Go(func() {
			key := fmt.Sprintf("<sessionId>mem-%d</sessionId>", i)
			req, _ := http.NewRequest(http.MethodPost, url, &patternReader{head: []byte(key), n: size})
			req.ContentLength = size
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("upload %d: status %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := bs.completed()
	if len(got) != uploads {
		t.Fatalf("backends received %d whole uploads, want %d", len(got), uploads)
	}
	for _, r := range got {
		if r.length != size {
			t.Fatalf("an upload arrived with %d bytes", r.length)
		}
	}
	client.CloseIdleConnections()
	// Pooled buffers survive one collection in sync.Pool's victim cache.
	runtime.GC()
	runtime.GC()
	end := heapBytes()
	t.Logf("heap: %d MiB at start, peak %d MiB (bound %d MiB), %d MiB after", start>>20, peak>>20, bound>>20, end>>20)
	if peak > start+bound {
		t.Errorf("heap peaked at %d MiB over its start; bound %d MiB for %d uploads of %d MiB", (peak-start)>>20, bound>>20, uploads, size>>20)
	}
	if end > start+16<<20 {
		t.Errorf("heap %d MiB after the uploads, started at %d MiB", end>>20, start>>20)
	}
}
