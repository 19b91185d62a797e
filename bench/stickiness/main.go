// Command stickiness checks that a router sends every request of a session
// to the same backend, and writes the request bodies the benchmark uses.
//
// Check mode sends each of -keys session keys -repeat times, in rounds (every
// key once, then every key again, ...) so that a round-robin balancer cannot
// pass by luck, and counts the keys whose responses all came from one
// backend, as named by the X-Backend header of bench/backend. Each request
// asks the backend for the sha256 of the body it received, so a body that
// was not forwarded byte for byte counts as a mismatch. The last line of
// output is machine-readable:
//
//	RESULT sticky=200 keys=200 errors=0 mismatches=0 backends=3
//
// where backends counts the backends that served the keys' first requests:
// a router that sends every key to one backend is "sticky" too, but only by
// accident (the seed HAProxy set-up does that when it cannot see the key).
//
// Template mode writes one body with a placeholder of @ characters where the
// key goes, the same length as a key; the wrk script fills in the keys.
//
// Bodies are SOAP 1.1 envelopes of exactly -size bytes with
// <sessionId>KEY</sessionId> right after the envelope's opening elements, or
// starting at byte -key-offset when that is positive, and filler elements
// elsewhere. Keys are sess-00000001, sess-00000002, ...
//
// Usage:
//
//	stickiness -url http://127.0.0.1:8080/ -size 1024 [-key-offset 20480]
//	stickiness -template body.xml -size 65536 [-key-offset 20480]
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// keyFormat must match the wrk script's.
const keyFormat = "sess-%08d"

const (
	head = `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="urn:example:ussd">` +
		`<soap:Header/><soap:Body><u:Request>`
	tail   = `</u:Request></soap:Body></soap:Envelope>` + "\n"
	line   = `<u:line>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</u:line>` + "\n"
	keyTag = "sessionId"
)

func key(i int) string { return fmt.Sprintf(keyFormat, i) }

// body returns a request body of exactly size bytes carrying k.
func body(size, keyOffset int, k string) ([]byte, error) {
	elem := "<" + keyTag + ">" + k + "</" + keyTag + ">"
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(head)
	if keyOffset > 0 {
		if keyOffset < len(head) {
			return nil, fmt.Errorf("key offset %d is inside the envelope's head (%d bytes)", keyOffset, len(head))
		}
		fill(&b, keyOffset-b.Len())
	}
	b.WriteString(elem)
	rest := size - b.Len() - len(tail)
	if rest < 0 {
		return nil, fmt.Errorf("body of %d bytes is too small for the key at %d", size, keyOffset)
	}
	fill(&b, rest)
	b.WriteString(tail)
	return b.Bytes(), nil
}

// fill writes n bytes of filler elements, padded with white space.
func fill(b *bytes.Buffer, n int) {
	for ; n >= len(line); n -= len(line) {
		b.WriteString(line)
	}
	b.WriteString(strings.Repeat(" ", n))
}

func main() {
	url := flag.String("url", "", "router URL to check")
	template := flag.String("template", "", "write a body with @ where the key goes to this file, and exit")
	size := flag.Int("size", 1024, "body size in bytes")
	keyOffset := flag.Int("key-offset", 0, "byte offset of <sessionId> in the body; 0: right after the envelope's head")
	keys := flag.Int("keys", 200, "session keys to check")
	repeat := flag.Int("repeat", 3, "requests per key")
	workers := flag.Int("workers", 4, "requests in flight")
	timeout := flag.Duration("timeout", 30*time.Second, "limit per request")
	flag.Parse()

	switch {
	case *template != "":
		placeholder := strings.Repeat("@", len(key(0)))
		b, err := body(*size, *keyOffset, placeholder)
		if err == nil {
			err = os.WriteFile(*template, b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "stickiness:", err)
			os.Exit(1)
		}
	case *url != "":
		c := &checker{url: *url, size: *size, keyOffset: *keyOffset, client: newClient(*workers, *timeout)}
		if err := c.run(*keys, *repeat, *workers); err != nil {
			fmt.Fprintln(os.Stderr, "stickiness:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "stickiness: need -url or -template")
		flag.Usage()
		os.Exit(2)
	}
}

func newClient(workers int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: workers,
			DisableCompression:  true,
		},
	}
}

type checker struct {
	url             string
	size, keyOffset int
	client          *http.Client
}

// outcome is one response, or why there was none.
type outcome struct {
	backend  string
	err      error
	mismatch bool
}

func (c *checker) run(keys, repeat, workers int) error {
	bodies := make([][]byte, keys)
	sums := make([]string, keys)
	for i := range bodies {
		b, err := body(c.size, c.keyOffset, key(i+1))
		if err != nil {
			return err
		}
		bodies[i] = b
		s := sha256.Sum256(b)
		sums[i] = hex.EncodeToString(s[:])
	}
	results := make([][]outcome, keys)
	for round := 0; round < repeat; round++ {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					results[i] = append(results[i], c.send(bodies[i], sums[i]))
				}
			})
		}
		for i := range keys {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
	}
	return report(os.Stdout, results)
}

func (c *checker) send(body []byte, sum string) outcome {
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"ussd"`)
	req.Header.Set("X-Want-Sha256", "1")
	resp, err := c.client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return outcome{err: fmt.Errorf("status %s", resp.Status)}
	}
	backend := resp.Header.Get("X-Backend")
	if backend == "" {
		return outcome{err: errors.New("no X-Backend header")}
	}
	return outcome{backend: backend, mismatch: resp.Header.Get("X-Body-Sha256") != sum}
}

func report(w io.Writer, results [][]outcome) error {
	sticky, errs, mismatches := 0, 0, 0
	perBackend := map[string]int{} // keys first served by each backend
	var firstErr error
	for _, rs := range results {
		same := true
		for _, r := range rs {
			switch {
			case r.err != nil:
				errs++
				same = false
				if firstErr == nil {
					firstErr = r.err
				}
			case r.backend != rs[0].backend:
				same = false
			}
			if r.mismatch {
				mismatches++
			}
		}
		if same {
			sticky++
		}
		if len(rs) > 0 && rs[0].err == nil {
			perBackend[rs[0].backend]++
		}
	}
	names := make([]string, 0, len(perBackend))
	for n := range perBackend {
		names = append(names, n)
	}
	sort.Strings(names)
	var spread []string
	for _, n := range names {
		spread = append(spread, fmt.Sprintf("%s=%d", n, perBackend[n]))
	}
	fmt.Fprintf(w, "%d/%d keys sticky; keys by first backend: %s\n", sticky, len(results), strings.Join(spread, " "))
	if firstErr != nil {
		fmt.Fprintf(w, "%d requests failed, the first with: %v\n", errs, firstErr)
	}
	if mismatches > 0 {
		fmt.Fprintf(w, "%d bodies reached the backend altered\n", mismatches)
	}
	_, err := fmt.Fprintf(w, "RESULT sticky=%d keys=%d errors=%d mismatches=%d backends=%d\n",
		sticky, len(results), errs, mismatches, len(perBackend))
	return err
}
