// Command memory measures how much memory peekroute holds per client
// connection, from the outside: it reads the resident set size (VmRSS) of
// the running peekroute in /proc/PID/status while it drives it.
//
// The run, in order:
//
//  1. At rest: one warm-up request, then peekroute's RSS once it has
//     settled (samples every 500 ms until two are within 1%, at most 10 s).
//  2. Idle keep-alive connections: -idle connections, opened -batch at a
//     time, each sending one small SOAP 1.1 POST (text/xml, SOAPAction) and
//     reading the whole answer, then kept open and silent. Reported: the
//     settled RSS, (RSS - rest) / connections in KiB, and peekroute's open
//     descriptors (/proc/PID/fd).
//  3. Uploads: the idle connections are closed, then -uploads uploads of
//     -upload-size bytes each run at once, each on a connection of its own,
//     with a Content-Length body whose <sessionId> comes right after the
//     envelope's opening elements. Bodies are streamed from a pattern, never
//     held whole. Reported: peekroute's peak RSS during the uploads (VmHWM,
//     reset first through /proc/PID/clear_refs, and VmRSS sampled every
//     10 ms; the larger) and (peak - rest) / uploads in KiB. Every upload
//     must get a 200.
//
// A Go program does not give freed memory back to the system at once: the
// garbage of 10,000 closed connections waits for the next collection, and
// the uploads then reuse that memory instead of growing the RSS, so their
// peak would say little. With -upload-addr and -upload-pid the uploads go
// to a second, fresh peekroute instead, with its own rest measured the same
// way (after one warm-up request); without them they go to the first, and
// the table says so.
//
// With -admin (and -upload-admin), peekroute's admin address, each row also
// shows the Go runtime's own view from /metrics: heap and goroutine stacks
// in use (go_memstats_heap_inuse_bytes + go_memstats_stack_inuse_bytes) and
// goroutines. RSS also counts garbage not yet collected, up to the next
// collection's goal, so it varies more from run to run than these do.
//
// The result is a Markdown table on standard output, notes below it;
// progress goes to standard error. The exit status is 1 when a connection
// or an upload failed.
//
// Client connections come from 127.0.0.1. When -idle is more than half the
// ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range) they are
// spread over 127.0.0.1, 127.0.0.2, ... so that each source address needs
// at most that many ports; the run says so. Descriptor limits are checked
// before the run, for this process and for peekroute.
//
// Usage:
//
//	memory -addr 127.0.0.1:8080 -pid 1234 [-admin 127.0.0.1:9090] [-idle 10000]
//	       [-uploads 256] [-upload-size 8388608]
//	       [-upload-addr 127.0.0.1:8081 -upload-pid 1235 [-upload-admin 127.0.0.1:9091]]
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	settleEvery = 500 * time.Millisecond
	settleMax   = 10 * time.Second
	sampleEvery = 10 * time.Millisecond
	ioTimeout   = 30 * time.Second // per idle request; uploads get the run's deadline
)

func main() {
	addr := flag.String("addr", "", "peekroute's listen address, host:port")
	pid := flag.Int("pid", 0, "peekroute's process id")
	admin := flag.String("admin", "", "peekroute's admin address, for /metrics; empty: RSS only")
	idle := flag.Int("idle", 10000, "idle keep-alive connections to hold open")
	uploads := flag.Int("uploads", 256, "concurrent uploads")
	uploadSize := flag.Int64("upload-size", 8<<20, "bytes in each upload's body")
	upAddr := flag.String("upload-addr", "", "a second peekroute's listen address, for the uploads; empty: -addr")
	upPid := flag.Int("upload-pid", 0, "the second peekroute's process id")
	upAdmin := flag.String("upload-admin", "", "the second peekroute's admin address")
	batch := flag.Int("batch", 100, "idle connections opened at once (peekroute opens about as many backend connections and keeps them)")
	timeout := flag.Duration("timeout", 100*time.Second, "bound on the whole run")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("memory: ")

	switch {
	case *addr == "" || *pid <= 0:
		log.Fatal("need -addr and -pid")
	case (*upAddr == "") != (*upPid <= 0):
		log.Fatal("-upload-addr and -upload-pid go together")
	case *idle < 1 || *uploads < 1 || *batch < 1:
		log.Fatal("-idle, -uploads and -batch must be at least 1")
	case *uploadSize < int64(len(uploadPrefix(1<<30))+len(uploadSuffix)):
		log.Fatalf("-upload-size %d is too small for the envelope", *uploadSize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	first := &target{name: "peekroute", addr: *addr, pid: *pid, admin: *admin}
	second := first
	if *upAddr != "" {
		second = &target{name: "second peekroute", addr: *upAddr, pid: *upPid, admin: *upAdmin}
	}
	for _, t := range []*target{first, second} {
		if _, err := rssKiB(t.pid); err != nil {
			log.Fatalf("%s (pid %d): %v", t.name, t.pid, err)
		}
	}
	if err := checkDescriptors(first.pid, *idle+*batch); err != nil {
		log.Fatal(err)
	}
	if err := checkDescriptors(second.pid, 2**uploads); err != nil {
		log.Fatal(err)
	}
	srcs, err := sourceAddrs(*idle)
	if err != nil {
		log.Fatal(err)
	}
	r := &run{srcs: srcs}
	if len(srcs) > 1 {
		r.note("%d connections are more than half the ephemeral port range: spread over %d source addresses, %s to %s",
			*idle, len(srcs), srcs[0].IP, srcs[len(srcs)-1].IP)
	}
	failed := false

	// 1. At rest.
	r.warm(ctx, first)
	r.row("at rest, after one request", 0, first.rest, first.rest)

	// 2. Idle keep-alive connections.
	log.Printf("opening %d keep-alive connections, %d at a time", *idle, *batch)
	t0 := time.Now()
	conns, errs := r.openIdleAll(ctx, first, *idle, *batch)
	log.Printf("%d open in %.1f s", len(conns), time.Since(t0).Seconds())
	if errs.n > 0 {
		failed = true
		r.note("idle connections: %d of %d failed; first error: %v", errs.n, *idle, errs.first)
	}
	if len(conns) > 0 {
		s := r.settled(first, "idle")
		r.row(fmt.Sprintf("idle keep-alive, one %d-byte SOAP request each", len(soapBody("k-0"))), len(conns), s, first.rest)
		if extra := s.fds - first.rest.fds - len(conns); extra >= 0 {
			r.note("with the idle connections peekroute holds %d descriptors more than at rest: the %d client connections and %d others, mostly idle connections to the backends (from opening %d client connections at a time)",
				s.fds-first.rest.fds, len(conns), extra, *batch)
		} else {
			r.note("peekroute holds %d descriptors more than at rest, fewer than the %d connections this side holds open",
				s.fds-first.rest.fds, len(conns))
		}
		for _, c := range conns {
			c.Close()
		}
		r.waitFDs(ctx, first, s.fds-len(conns))
		after := r.settled(first, "after closing")
		r.note("RSS after closing the idle connections: %s (a Go program gives freed memory back to the system only after a collection, and gradually)", mib(after.rssKiB))
	}

	// 3. Uploads.
	scenario := fmt.Sprintf("%d concurrent uploads of %s, peak", *uploads, size(*uploadSize))
	if second != first {
		r.warm(ctx, second)
		r.row("at rest, a second peekroute for the uploads", 0, second.rest, second.rest)
	} else {
		scenario += " (same peekroute, after the idle connections)"
	}
	log.Printf("%d concurrent uploads of %d bytes to the %s", *uploads, *uploadSize, second.name)
	peak, how, took, upErrs := r.uploadAll(ctx, second, *uploads, *uploadSize)
	if upErrs.n > 0 {
		failed = true
		r.note("uploads: %d of %d failed; first error: %v", upErrs.n, *uploads, upErrs.first)
	}
	r.row(scenario, *uploads, peak, second.rest)
	r.note("uploads: %d of %d answered 200 in %.1f s (%.0f MiB/s through peekroute); peak RSS from %s",
		*uploads-upErrs.n, *uploads, took.Seconds(),
		float64(*uploadSize)*float64(*uploads)/(1<<20)/took.Seconds(), how)

	r.print(os.Stdout)
	if failed {
		os.Exit(1)
	}
}

// target is one running peekroute.
type target struct {
	name  string
	addr  string
	pid   int
	admin string // "": no /metrics
	rest  sample // after one warm-up request
}

// sample is one look at peekroute; for uploads, the peak of each figure.
type sample struct {
	rssKiB     int64
	fds        int
	goKiB      int64 // Go heap and stacks in use; -1: not known
	goroutines int   // -1: not known
}

// run carries what is printed.
type run struct {
	srcs      []*net.TCPAddr // nil: the kernel picks the source
	next      atomic.Uint64
	rows      [][]string
	notes     []string
	noMetrics bool // a /metrics scrape failed; noted once
}

func (r *run) row(scenario string, n int, s, rest sample) {
	per, goMem, goPer, gr := "—", "—", "—", "—"
	if n > 0 {
		per = perConn(s.rssKiB-rest.rssKiB, n)
	}
	if s.goKiB >= 0 {
		goMem = mib(s.goKiB)
		if n > 0 && rest.goKiB >= 0 {
			goPer = perConn(s.goKiB-rest.goKiB, n)
		}
	}
	if s.goroutines >= 0 {
		gr = strconv.Itoa(s.goroutines)
	}
	r.rows = append(r.rows, []string{scenario, strconv.Itoa(n), mib(s.rssKiB), per, goMem, goPer, gr, strconv.Itoa(s.fds)})
}

func (r *run) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	log.Print(s)
	r.notes = append(r.notes, s)
}

func (r *run) print(w io.Writer) {
	fmt.Fprintln(w, "| scenario | connections | peekroute RSS | per connection | Go heap + stacks | per connection (Go) | goroutines | peekroute fds |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func (r *run) dialer() *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if len(r.srcs) > 0 {
		d.LocalAddr = r.srcs[r.next.Add(1)%uint64(len(r.srcs))]
	}
	return d
}

// look reads peekroute's RSS, descriptors and, with an admin address, the
// Go runtime's figures.
func (r *run) look(t *target) sample {
	s := sample{rssKiB: mustRSS(t.pid), fds: mustFDs(t.pid), goKiB: -1, goroutines: -1}
	if t.admin != "" {
		kib, g, err := goMemory(t.admin)
		if err != nil {
			if !r.noMetrics {
				r.noMetrics = true
				r.note("%s's /metrics: %v", t.name, err)
			}
		} else {
			s.goKiB, s.goroutines = kib, g
		}
	}
	return s
}

// warm sends one request on a connection it then closes, and measures the
// target at rest.
func (r *run) warm(ctx context.Context, t *target) {
	c, err := r.openIdle(ctx, t, 0, "warm-up")
	if err != nil {
		log.Fatalf("%s: warm-up request: %v", t.name, err)
	}
	open := mustFDs(t.pid)
	c.Close()
	r.waitFDs(ctx, t, open-1)
	t.rest = r.settled(t, t.name+" at rest")
}

// settled waits until peekroute's RSS settles and returns a look at it.
func (r *run) settled(t *target, what string) sample {
	prev := mustRSS(t.pid)
	start := time.Now()
	for {
		time.Sleep(settleEvery)
		cur := mustRSS(t.pid)
		if abs(cur-prev)*100 <= prev {
			log.Printf("%s: RSS %s, settled after %.1f s", what, mib(cur), time.Since(start).Seconds())
			return r.look(t)
		}
		if time.Since(start) >= settleMax {
			r.note("%s: RSS had not settled after %v (last two samples %s, %s); the table has the last look",
				what, settleMax, mib(prev), mib(cur))
			return r.look(t)
		}
		prev = cur
	}
}

// waitFDs waits, at most 10 s, until peekroute holds no more than want
// descriptors: until it has closed the connections this side closed.
func (r *run) waitFDs(ctx context.Context, t *target, want int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := mustFDs(t.pid)
		if n <= want {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.note("%s still holds %d descriptors 10 s after this side closed connections, %d expected", t.name, n, want)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errCount counts failures and keeps the first.
type errCount struct {
	mu    sync.Mutex
	n     int
	first error
}

func (e *errCount) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 {
		e.first = err
	}
	e.n++
}

// openIdleAll opens n keep-alive connections, batch at a time, each after
// one request and its whole answer.
func (r *run) openIdleAll(ctx context.Context, t *target, n, batch int) ([]net.Conn, *errCount) {
	conns := make([]net.Conn, n)
	errs := &errCount{}
	for start := 0; start < n; start += batch {
		if ctx.Err() != nil {
			for range n - start {
				errs.add(fmt.Errorf("run timed out with %d of %d connections attempted: %w", start, n, ctx.Err()))
			}
			break
		}
		var wg sync.WaitGroup
		for i := start; i < min(start+batch, n); i++ {
			wg.Go(func() {
				c, err := r.openIdle(ctx, t, i, fmt.Sprintf("k-%d", i))
				if err != nil {
					errs.add(err)
					return
				}
				conns[i] = c
			})
		}
		wg.Wait()
	}
	open := conns[:0]
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, errs
}

// openIdle connects, sends one SOAP request with key and reads the whole
// answer, and returns the connection, still open.
func (r *run) openIdle(ctx context.Context, t *target, i int, key string) (net.Conn, error) {
	c, err := r.dialer().DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	body := soapBody(key)
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml; charset=utf-8\r\n"+
		"SOAPAction: \"ussd\"\r\nContent-Length: %d\r\n\r\n%s", t.addr, len(body), body)
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, fmt.Errorf("connection %d: writing: %w", i, err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 1024), nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connection %d: reading the answer: %w", i, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		err = fmt.Errorf("connection %d: reading the answer's body: %w", i, err)
	case resp.StatusCode != http.StatusOK:
		err = fmt.Errorf("connection %d: status %s", i, resp.Status)
	case resp.Close:
		err = fmt.Errorf("connection %d: peekroute answered Connection: close", i)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func soapBody(key string) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<sessionId>` + key + `</sessionId></soap:Body></soap:Envelope>`
}

// uploadAll runs n uploads of size bytes at once and returns peekroute's
// peak figures during them, where the peak RSS came from, and how long they
// took.
func (r *run) uploadAll(ctx context.Context, t *target, n int, size int64) (peak sample, how string, took time.Duration, errs *errCount) {
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+,
	// needs the right to write the file: the same user, or root).
	hwmReset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.pid), []byte("5"), 0) == nil

	peak = sample{goKiB: -1, goroutines: -1}
	var mu sync.Mutex
	stop := make(chan struct{})
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for k := 0; ; k++ {
			rss, err := rssKiB(t.pid)
			fds := mustFDs(t.pid)
			goKiB, gr := int64(-1), -1
			if t.admin != "" && k%20 == 0 { // /metrics every 200 ms
				goKiB, gr, _ = goMemory(t.admin)
			}
			mu.Lock()
			if err == nil {
				peak.rssKiB = max(peak.rssKiB, rss)
			}
			peak.fds = max(peak.fds, fds)
			peak.goKiB = max(peak.goKiB, goKiB)
			peak.goroutines = max(peak.goroutines, gr)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	errs = &errCount{}
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-begin
			if err := r.upload(ctx, t, i, size); err != nil {
				errs.add(fmt.Errorf("upload %d: %w", i, err))
			}
		})
	}
	t0 := time.Now()
	close(begin)
	wg.Wait()
	took = time.Since(t0)
	close(stop)
	<-sampling

	how = fmt.Sprintf("VmRSS sampled every %v", sampleEvery)
	if hwmReset {
		hwm, err := statusKiB(t.pid, "VmHWM")
		if err == nil {
			how = fmt.Sprintf("VmHWM after a reset, %s (VmRSS sampled every %v: %s)", mib(hwm), sampleEvery, mib(peak.rssKiB))
			peak.rssKiB = max(peak.rssKiB, hwm)
		}
	} else {
		how += " (could not reset VmHWM through clear_refs)"
	}
	if t.admin != "" {
		how += "; Go heap + stacks and goroutines: the most of /metrics scraped every 200 ms"
	}
	return peak, how, took, errs
}

var uploadSuffix = `</payload></soap:Body></soap:Envelope>`

func uploadPrefix(i int) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<sessionId>u-` + strconv.Itoa(i) + `</sessionId><payload>`
}

// upload sends one request with a body of exactly size bytes, streamed, and
// reads the answer, which must be a 200.
func (r *run) upload(ctx context.Context, t *target, i int, size int64) error {
	c, err := r.dialer().DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	prefix := uploadPrefix(i)
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml; charset=utf-8\r\n"+
		"SOAPAction: \"ussd\"\r\nContent-Length: %d\r\n\r\n", t.addr, size)
	body := io.MultiReader(
		strings.NewReader(head+prefix),
		io.LimitReader(&pattern{}, size-int64(len(prefix)+len(uploadSuffix))),
		strings.NewReader(uploadSuffix))
	wrote := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, struct{ io.Reader }{body}) // a plain copy through a 32 KiB buffer
		wrote <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
	}
	if err != nil {
		c.Close() // unblocks the writer
		<-wrote
		return err
	}
	if err := <-wrote; err != nil {
		return fmt.Errorf("200, but writing the body failed: %w", err)
	}
	return nil
}

// goMemory scrapes admin's /metrics for the Go heap and stacks in use, in
// KiB, and the number of goroutines.
func goMemory(admin string) (kib int64, goroutines int, err error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + admin + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status %s", resp.Status)
	}
	want := map[string]float64{"go_memstats_heap_inuse_bytes": -1, "go_memstats_stack_inuse_bytes": -1, "go_goroutines": -1}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if _, known := want[name]; !ok || !known {
			continue
		}
		if want[name], err = strconv.ParseFloat(strings.TrimSpace(val), 64); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	for name, v := range want {
		if v < 0 {
			return 0, 0, fmt.Errorf("no %s", name)
		}
	}
	inUse := want["go_memstats_heap_inuse_bytes"] + want["go_memstats_stack_inuse_bytes"]
	return int64(inUse / 1024), int(want["go_goroutines"]), nil
}

// pattern is an endless run of letters and digits: XML text that needs no
// escaping.
type pattern struct{ off int }

var block = bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), 1820) // 65520 bytes, a whole number of repeats

func (p *pattern) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k := copy(b[n:], block[p.off:])
		n += k
		p.off = (p.off + k) % len(block)
	}
	return n, nil
}

// --- /proc ----------------------------------------------------------------------

// statusKiB reads a "Name:   123 kB" field of /proc/PID/status.
func statusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("odd %s line %q", field, line)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func rssKiB(pid int) (int64, error) { return statusKiB(pid, "VmRSS") }

func mustRSS(pid int) int64 {
	v, err := rssKiB(pid)
	if err != nil {
		log.Fatalf("peekroute's RSS: %v (has it exited?)", err)
	}
	return v
}

func mustFDs(pid int) int {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		log.Fatalf("peekroute's descriptors: %v", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		log.Fatalf("peekroute's descriptors: %v", err)
	}
	return len(names)
}

// checkDescriptors fails when this process or peekroute cannot have n
// connections open at once, with what to raise.
func checkDescriptors(pid, n int) error {
	const margin = 64
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur < uint64(n+margin) {
		// Go raises the soft limit to the hard one at start-up, so this
		// is the hard limit.
		return fmt.Errorf("this process may open %d descriptors, %d connections need %d: raise ulimit -n (-Hn)", lim.Cur, n, n+margin)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(f) < 1 || f[0] == "unlimited" {
			return nil
		}
		soft, err := strconv.Atoi(f[0])
		if err != nil {
			return fmt.Errorf("odd line in /proc/%d/limits: %q", pid, line)
		}
		if soft < n+margin {
			return fmt.Errorf("peekroute may open %d descriptors, %d connections need %d: start it with a higher ulimit -n", soft, n, n+margin)
		}
		return nil
	}
	return errors.New("no Max open files in /proc/PID/limits")
}

// sourceAddrs spreads n connections over loopback source addresses when
// they need more than half the ephemeral ports (the rest is left for
// peekroute's connections to its backends and for TIME_WAIT); nil means
// one address, picked by the kernel.
func sourceAddrs(n int) ([]*net.TCPAddr, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return nil, nil // not Linux as expected: leave it to the kernel
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return nil, fmt.Errorf("odd ip_local_port_range %q", b)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return nil, fmt.Errorf("odd ip_local_port_range %q", b)
	}
	per := (hi - lo + 1) / 2
	if n <= per {
		return nil, nil
	}
	k := (n + per - 1) / per
	if k > 250 {
		return nil, fmt.Errorf("%d connections need %d source addresses with %d ephemeral ports", n, k, hi-lo+1)
	}
	srcs := make([]*net.TCPAddr, k)
	for i := range srcs {
		srcs[i] = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+1))}
	}
	return srcs, nil
}

// --- formatting ---------------------------------------------------------------

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func perConn(kib int64, n int) string { return fmt.Sprintf("%.1f KiB", float64(kib)/float64(n)) }

func size(b int64) string {
	if b >= 1<<20 && b%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", b>>20)
	}
	if b >= 1<<10 && b%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
