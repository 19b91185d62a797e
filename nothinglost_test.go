package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// ledger is what the backends received whole: request id -> backend and
// body digest.
type ledger struct {
	mu   sync.Mutex
	got  map[string][]string // id -> backends that read the body whole
	sums map[string][32]byte
}

func (l *ledger) handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // an aborted request, not a received one
		}
		id := r.Header.Get("X-Req-Id")
		l.mu.Lock()
		l.got[id] = append(l.got[id], name)
		l.sums[id] = sha256.Sum256(body)
		l.mu.Unlock()
		w.Header().Set("X-Backend", name)
		io.WriteString(w, id)
	})
}

type outcome struct {
	id, key, backend string
	status           int
	sum              [32]byte
}

// Nothing lost: while one backend is stopped and started twice under load,
// every request ends with 2xx from the owner of its key at that moment and
// its body byte for byte, or with a clear 5xx; sent, received and failed
// counts reconcile exactly, and no request reaches a backend twice.
func TestNothingLost(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	l := &ledger{got: map[string][]string{}, sums: map[string][32]byte{}}
	bs := []*backend{newBackend(t, "b0", l.handler("b0")), newBackend(t, "b1", l.handler("b1")), newBackend(t, "b2", l.handler("b2"))}
	ev := newEvents()
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+bs[0].url()+","+bs[1].url()+","+bs[2].url(),
		"PEEKROUTE_HEALTH_INTERVAL=20ms", "PEEKROUTE_HEALTH_RISE=2", "PEEKROUTE_HEALTH_FALL=2", "PEEKROUTE_PEEK_LIMIT=16384")
	ev.waitFor(t, "ring rebuilt", "healthy", 3)
	owners := expectedOwners(t, bs)

	const total, workers = 3000, 8
	var next atomic.Int64
	outcomes := make([]outcome, total)
	var failures atomic.Int64
	// The stopped backend goes down and comes back twice, at points in
	// the run set by the number of requests sent.
	flips := map[int64]func(){600: bs[1].stop, 1200: func() { bs[1].start(t) }, 1800: bs[1].stop, 2400: func() { bs[1].start(t) }}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			client := &http.Client{}
			defer client.CloseIdleConnections()
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				if flip := flips[i]; flip != nil {
					flip()
				}
				outcomes[i] = send(t, client, inst.url, i, r, &failures)
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d requests failed at the client without an HTTP answer", n)
	}
	reconcile(t, l, outcomes, owners)
}

func send(t *testing.T, client *http.Client, url string, i int64, r *rand.Rand, failures *atomic.Int64) outcome {
	key := fmt.Sprintf("conv-%d", r.IntN(300))
	size := 100 + r.IntN(8<<10)
	if r.IntN(10) == 0 {
		size = 64 << 10 // larger than the peek buffer: never retried
	}
	var body bytes.Buffer
	body.WriteString("<Envelope><Body><sessionId>" + key + "</sessionId>")
	body.WriteString(strings.Repeat("x", size))
	body.WriteString("</Body></Envelope>")
	o := outcome{id: fmt.Sprint(i), key: key, sum: sha256.Sum256(body.Bytes())}
	req, _ := http.NewRequest(http.MethodPost, url+"/ussd", &body)
	req.Header.Set("X-Req-Id", o.id)
	resp, err := client.Do(req)
	if err != nil {
		failures.Add(1)
		t.Errorf("request %d: %v", i, err)
		return o
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	o.status, o.backend = resp.StatusCode, resp.Header.Get("X-Backend")
	return o
}

func reconcile(t *testing.T, l *ledger, outcomes []outcome, owners func(string) (string, string)) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var ok, failed, failedAfterReceipt int
	for _, o := range outcomes {
		got := l.got[o.id]
		if len(got) > 1 {
			t.Errorf("request %s reached %v: sent twice", o.id, got)
		}
		switch {
		case o.status >= 200 && o.status < 300:
			ok++
			all, without := owners(o.key)
			if o.backend != all && o.backend != without {
				t.Errorf("request %s for %s answered by %s; its owner was %s (or %s without b1)", o.id, o.key, o.backend, all, without)
			}
			if len(got) != 1 || got[0] != o.backend || l.sums[o.id] != o.sum {
				t.Errorf("request %s: 2xx from %s, but backends received %v with the right body %v", o.id, o.backend, got, l.sums[o.id] == o.sum)
			}
		case o.status >= 500:
			failed++
			if len(got) == 1 {
				failedAfterReceipt++
			}
		default:
			t.Errorf("request %s: status %d", o.id, o.status)
		}
	}
	received := 0
	for _, backends := range l.got {
		received += len(backends)
	}
	t.Logf("sent %d: %d answered 2xx, %d answered 5xx (%d of them after a backend had read them); backends received %d",
		len(outcomes), ok, failed, failedAfterReceipt, received)
	if ok+failed != len(outcomes) || received != ok+failedAfterReceipt {
		t.Errorf("counts do not reconcile: sent %d = %d ok + %d failed; received %d = %d ok + %d failed after receipt",
			len(outcomes), ok, failed, received, ok, failedAfterReceipt)
	}
	if ok < len(outcomes)/2 {
		t.Errorf("only %d of %d requests succeeded", ok, len(outcomes))
	}
}
