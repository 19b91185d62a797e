// Command burst measures what peekroute's per-backend limit
// (PEEKROUTE_BACKEND_MAX_ACTIVE) does for a service that can serve only one
// request at a time, when a burst of requests reaches it all at once.
//
// It builds peekroute from the repository (run it from the repository's
// root: go run ./bench/burst), starts three such services in this process
// on loopback ports, and runs peekroute twice in front of them, a fresh
// process each time: once with no limit (the default) and once with
// PEEKROUTE_BACKEND_MAX_ACTIVE=1 and the default queue (1024 requests, 5 s).
//
// Both runs get the same burst: -requests SOAP 1.1 POSTs over -keys session
// keys (<sessionId>), fired at once from -conns client connections, each
// connection sending its requests one after another, the next as soon as
// the previous is answered (600 over 300: a conversation's two messages).
// A client gives up on a request after -client-timeout. The keys are
// chosen so that each service owns as many (peekroute's /debug/route says
// which it owns): where a key goes depends on the services' ports, which
// change from one invocation to the next, and of 60 keys drawn at random
// the busiest of three services gets 24 or more (a fifth over its share)
// half the time, so the numbers would change with the ports.
//
// Each service models an old single-threaded SOAP service:
//
//   - It accepts every connection and reads every request as it arrives,
//     but has one worker: requests wait for it, first come first served,
//     and each holds it for -service (20 ms), so a service answers at most
//     50 requests a second.
//   - Its overload behaviour is its own request timeout: a request that has
//     waited -service-timeout (1 s) for the worker is answered 500 with a
//     soap:Server Fault, unprocessed, as a busy application server does
//     when a request times out in its worker queue. The client cannot tell
//     whether such a request was processed, and SOAP calls are not
//     idempotent, so it is a failed call.
//   - It counts its requests in progress (from the moment it reads a
//     request's head until it writes the answer, waiting ones included),
//     which is its own queue, and records the highest count: what overload
//     looks like from the service's side. It also counts the requests it
//     answered 200 and 500.
//
// With the defaults each service receives 100 requests at once, 2 s of
// work: twice what its timeout lets it queue (50), but less than
// peekroute's queue timeout. Without the limit each service queues all 100
// and fails, after a second, those it cannot reach in time; with it each
// sees one request at a time while peekroute holds the rest, and every
// request is answered, later. Either way the same requests go to the same
// services (the key decides) and the services work at the same rate: the
// limit does not make them faster, it moves the waiting out of the service,
// where its timeout no longer fires. A request waiting in peekroute has
// reached no backend; one that waits longer than PEEKROUTE_QUEUE_TIMEOUT
// gets a 503 with Retry-After (try -conns 900 -requests 1800).
//
// The result is a Markdown table on standard output, with one line of
// details per run below it: p50 and p99 are the client's latencies over
// every request, answered or failed; errors are split by kind (500 from a
// service, 503 from peekroute, client timeouts, other). Progress goes to
// standard error, and peekroute's own log to a file in a temporary
// directory, named when something fails.
//
// The exit status is 1 on an unexpected failure: the build, peekroute not
// becoming ready, an error of kind "other" (a transport error, a 502), or a
// service seeing more requests at once than the limit. Everything listens
// on 127.0.0.1; peekroute is killed when the program ends, by a signal
// too, and the whole run is bounded by -deadline (55 s).
//
// Usage:
//
//	go run ./bench/burst [-requests 600] [-keys 60] [-conns 300]
//	                     [-service 20ms] [-service-timeout 1s]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// params is what one invocation measures.
type params struct {
	requests, keys, conns int
	service               time.Duration // worker time per request
	serviceTimeout        time.Duration // longest wait for the worker
	clientTimeout         time.Duration
	services              int
}

func main() {
	var p params
	flag.IntVar(&p.requests, "requests", 600, "requests in the burst")
	flag.IntVar(&p.keys, "keys", 60, "session keys the requests are spread over")
	flag.IntVar(&p.conns, "conns", 300, "client connections the burst comes from")
	flag.DurationVar(&p.service, "service", 20*time.Millisecond, "a service's time per request (its worker is busy for that long)")
	flag.DurationVar(&p.serviceTimeout, "service-timeout", time.Second, "a service answers 500 to a request that waited this long for its worker")
	flag.DurationVar(&p.clientTimeout, "client-timeout", 10*time.Second, "a client's limit per request")
	deadline := flag.Duration("deadline", 55*time.Second, "limit on the whole run, build included")
	flag.Parse()
	p.services = 3
	if err := p.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *deadline)
	defer cancel()
	if err := run(ctx, p); err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		cancel()
		stop()
		os.Exit(1)
	}
}

func (p params) validate() error {
	switch {
	case p.requests < 1 || p.conns < 1:
		return errors.New("-requests and -conns must be positive")
	case p.keys < p.services || p.keys%p.services != 0:
		return fmt.Errorf("-keys must be a positive multiple of the %d services", p.services)
	case p.service <= 0 || p.serviceTimeout <= 0 || p.clientTimeout <= 0:
		return errors.New("durations must be positive")
	}
	return nil
}

// run measures both runs in a temporary directory and prints the table.
// On a failure it keeps peekroute's logs there and says where.
func run(ctx context.Context, p params) error {
	dir, err := os.MkdirTemp("", "peekroute-burst-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	bin := filepath.Join(dir, "peekroute")
	results, err := measureAll(ctx, p, bin, dir)
	if err == nil {
		printTable(os.Stdout, p, results)
		err = check(results)
	}
	if err != nil {
		os.Remove(bin)
		if os.Remove(dir) != nil { // not empty: keep peekroute's logs
			err = fmt.Errorf("%w (peekroute's logs: %s)", err, dir)
		}
		return err
	}
	return os.RemoveAll(dir)
}

// measureAll builds peekroute into bin, starts the services, picks the
// keys and measures a run without a limit and one with it.
func measureAll(ctx context.Context, p params, bin, dir string) ([]result, error) {
	progress("building peekroute")
	if err := build(ctx, bin); err != nil {
		return nil, err
	}
	services, urls, err := startServices(p)
	if err != nil {
		return nil, err
	}
	defer closeServices(services)
	keys, err := pickKeys(ctx, p, bin, filepath.Join(dir, "peekroute-keys.log"), urls)
	if err != nil {
		return nil, err
	}
	var results []result
	for _, limit := range []int{0, 1} {
		r, err := measure(ctx, p, bin, dir, limit, services, urls, keys)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "burst: "+format+"\n", args...)
}

// ---- peekroute ----

func build(ctx context.Context, bin string) error {
	// go run puts its own go first in the PATH.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build (run from the repository's root): %w", err)
	}
	return nil
}

// router is a running peekroute.
type router struct {
	cmd      *exec.Cmd
	listen   string
	admin    string
	logPath  string
	exited   chan struct{}
	exitErr  error
	killOnce sync.Once
	unwatch  func() bool // stops killing it when the run is cancelled
}

// startRouter starts bin in front of backends with the given extra
// variables and waits until it is ready.
func startRouter(ctx context.Context, bin, logPath string, backends []string, extra ...string) (*router, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("peekroute log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(environWithout("PEEKROUTE_"),
		"PEEKROUTE_LISTEN_ADDR="+listen,
		"PEEKROUTE_ADMIN_ADDR="+admin,
		"PEEKROUTE_BACKENDS="+strings.Join(backends, ","),
		"PEEKROUTE_KEY=xml:sessionId",
		"PEEKROUTE_HEALTH_INTERVAL=200ms",
		"PEEKROUTE_HEALTH_TIMEOUT=100ms",
	)
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start peekroute: %w", err)
	}
	r := &router{cmd: cmd, listen: listen, admin: admin, logPath: logPath, exited: make(chan struct{})}
	go func() { r.exitErr = cmd.Wait(); close(r.exited) }()
	// Kill it as soon as the run is cancelled (a signal, the deadline).
	r.unwatch = context.AfterFunc(ctx, r.kill)
	if err := r.waitReady(ctx); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// stop kills peekroute and waits for it; the burst is over by then, so
// there is nothing to drain.
func (r *router) stop() {
	r.unwatch()
	r.kill()
}

func (r *router) kill() {
	r.killOnce.Do(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
	})
}

// waitReady polls /readyz until it answers 200, peekroute exits, or 10 s
// pass.
func (r *router) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if get(ctx, "http://"+r.admin+"/readyz") == nil {
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("peekroute exited before it was ready (%v); its log: %s", r.exitErr, r.logPath)
		case <-ctx.Done():
			return fmt.Errorf("peekroute not ready (its log: %s): %w", r.logPath, ctx.Err())
		case <-tick.C:
		}
	}
}

// get fetches target and fails unless it answers 200.
func get(ctx context.Context, target string) error {
	_, err := fetch(ctx, target)
	return err
}

func fetch(ctx context.Context, target string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	return b, err
}

// queueStats reads from peekroute's /metrics how many requests waited in
// its queues, for how long in all, and how many it refused from them.
func (r *router) queueStats(ctx context.Context) (queueStats, error) {
	b, err := fetch(ctx, "http://"+r.admin+"/metrics")
	if err != nil {
		return queueStats{}, fmt.Errorf("peekroute metrics: %w", err)
	}
	var q queueStats
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, ok := sample(sc.Text())
		switch {
		case !ok:
		case name == "peekroute_queue_wait_seconds_count":
			q.waited += int(value)
		case name == "peekroute_queue_wait_seconds_sum":
			q.waitSum += time.Duration(value * float64(time.Second))
		case name == "peekroute_queue_refused_total":
			q.refused += int(value)
		}
	}
	return q, sc.Err()
}

// sample splits a line of the Prometheus text format into its metric name
// (labels dropped) and value.
func sample(line string) (string, float64, bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", 0, false
	}
	name, _, _ := strings.Cut(line[:sp], "{")
	return name, v, true
}

type queueStats struct {
	waited, refused int
	waitSum         time.Duration
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// environWithout is this process's environment without the variables
// whose names start with prefix, so that the caller's shell cannot change
// what is measured.
func environWithout(prefix string) []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, prefix) })
}

// pickKeys returns p.keys session keys of which each service owns as many,
// as a peekroute in front of urls routes them (/debug/route): where a key
// goes depends on the services' addresses, which change from one
// invocation to the next, and an uneven share would change the numbers
// with the ports.
func pickKeys(ctx context.Context, p params, bin, logPath string, urls []string) ([]string, error) {
	r, err := startRouter(ctx, bin, logPath, urls)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	quota := p.keys / len(urls)
	owned := map[string]int{}
	var keys []string
	for i := 0; len(keys) < p.keys && i < 100*p.keys; i++ {
		key := fmt.Sprintf("sess-%04d", i)
		owner, err := r.owner(ctx, key)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(urls, owner) {
			return nil, fmt.Errorf("key %s routed to %q, not one of the services %v", key, owner, urls)
		}
		if owned[owner] < quota {
			owned[owner]++
			keys = append(keys, key)
		}
	}
	if len(keys) < p.keys {
		return nil, fmt.Errorf("found only %d keys spread evenly over the services", len(keys))
	}
	return keys, nil
}

// owner asks peekroute which backend key goes to.
func (r *router) owner(ctx context.Context, key string) (string, error) {
	b, err := fetch(ctx, "http://"+r.admin+"/debug/route?key="+url.QueryEscape(key))
	if err != nil {
		return "", fmt.Errorf("route of %s: %w", key, err)
	}
	var ans struct {
		Backend string `json:"backend"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return "", fmt.Errorf("route of %s: %w", key, err)
	}
	return ans.Backend, nil
}

// ---- the services ----

// service is an old single-threaded SOAP service: one worker, a queue in
// front of it with its own timeout.
type service struct {
	// worker is the mutex that serialises processing, as a one-slot
	// channel: unlike a sync.Mutex it can be waited for with a deadline,
	// and its waiters get it in arrival order.
	worker        chan struct{}
	work, timeout time.Duration
	mu            sync.Mutex
	inProgress    int
	highest       int
	answered      int // 200
	overloaded    int // 500: waited too long for the worker
	srv           *http.Server
}

func startServices(p params) ([]*service, []string, error) {
	var services []*service
	var urls []string
	for range p.services {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			closeServices(services)
			return nil, nil, fmt.Errorf("service listener: %w", err)
		}
		s := &service{worker: make(chan struct{}, 1), work: p.service, timeout: p.serviceTimeout}
		s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
		go s.srv.Serve(ln)
		services = append(services, s)
		urls = append(urls, "http://"+ln.Addr().String())
	}
	return services, urls, nil
}

func closeServices(services []*service) {
	for _, s := range services {
		s.srv.Close()
	}
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	s.arrive()
	_, _ = io.Copy(io.Discard, r.Body)
	status := s.process(arrived)
	s.leave(status)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, envelope(status))
}

// process waits for the worker until the service's timeout, counted from
// the request's arrival, and then holds it for the service time.
func (s *service) process(arrived time.Time) int {
	timer := time.NewTimer(s.timeout - time.Since(arrived))
	defer timer.Stop()
	select {
	case s.worker <- struct{}{}:
	case <-timer.C:
		return http.StatusInternalServerError
	}
	time.Sleep(s.work)
	<-s.worker
	return http.StatusOK
}

func (s *service) arrive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inProgress++
	s.highest = max(s.highest, s.inProgress)
}

// leave is called just before the answer is written, so that a request
// sent because of this answer can never be counted alongside it.
func (s *service) leave(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inProgress--
	if status == http.StatusOK {
		s.answered++
	} else {
		s.overloaded++
	}
}

// stats returns the counts since the last reset, and resets them.
func (s *service) stats() serviceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := serviceStats{highest: s.highest, answered: s.answered, overloaded: s.overloaded, inProgress: s.inProgress}
	s.highest, s.answered, s.overloaded = s.inProgress, 0, 0
	return st
}

type serviceStats struct {
	highest, answered, overloaded, inProgress int
}

func envelope(status int) string {
	const head = `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`
	const tail = `</soap:Body></soap:Envelope>`
	if status == http.StatusOK {
		return head + `<u:Response xmlns:u="urn:example:ussd"><u:status>OK</u:status></u:Response>` + tail
	}
	return head + `<soap:Fault><faultcode>soap:Server</faultcode>` +
		`<faultstring>Server busy: request timed out waiting for a worker</faultstring></soap:Fault>` + tail
}

// ---- one run ----

// result is one run's measurements.
type result struct {
	limit    int
	outcomes []outcome
	took     time.Duration
	services []serviceStats
	queue    queueStats
}

// measure runs peekroute with the given limit (0: none) and sends it the
// burst.
func measure(ctx context.Context, p params, bin, dir string, limit int, services []*service, urls, keys []string) (result, error) {
	var extra []string
	if limit > 0 {
		extra = append(extra, "PEEKROUTE_BACKEND_MAX_ACTIVE="+strconv.Itoa(limit))
	}
	logPath := filepath.Join(dir, fmt.Sprintf("peekroute-limit-%d.log", limit))
	progress("limit %s: starting peekroute", limitName(limit))
	r, err := startRouter(ctx, bin, logPath, urls, extra...)
	if err != nil {
		return result{}, err
	}
	defer r.stop()
	for _, s := range services {
		s.stats() // reset: nothing before the burst counts
	}
	progress("limit %s: %d requests over %d keys from %d connections", limitName(limit), p.requests, p.keys, p.conns)
	start := time.Now()
	outcomes := burst(ctx, "http://"+r.listen+"/ussd", p, keys)
	res := result{limit: limit, outcomes: outcomes, took: time.Since(start)}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("burst interrupted: %w", err)
	}
	for _, s := range services {
		res.services = append(res.services, s.stats())
	}
	if res.queue, err = r.queueStats(ctx); err != nil {
		return res, err
	}
	return res, nil
}

func limitName(limit int) string {
	if limit == 0 {
		return "none"
	}
	return "BACKEND_MAX_ACTIVE=" + strconv.Itoa(limit)
}

// ---- the burst ----

// outcome is one request's result as its client saw it.
type outcome struct {
	latency time.Duration
	status  int
	err     error
}

// Kinds of error, as the table splits them.
const (
	kindOK      = "ok"
	kind500     = "500"
	kind503     = "503"
	kindTimeout = "timeout"
	kindOther   = "other"
)

func (o outcome) kind() string {
	var ne net.Error
	switch {
	case o.err != nil && errors.As(o.err, &ne) && ne.Timeout():
		return kindTimeout
	case o.err != nil:
		return kindOther
	case o.status == http.StatusOK:
		return kindOK
	case o.status == http.StatusInternalServerError:
		return kind500
	case o.status == http.StatusServiceUnavailable:
		return kind503
	}
	return kindOther
}

// burst sends p.requests requests at once from p.conns connections, each
// connection sending its share one after another. Request i carries key
// i mod len(keys).
func burst(ctx context.Context, target string, p params, keys []string) []outcome {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: p.conns,
		MaxConnsPerHost:     p.conns,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: p.clientTimeout}
	outcomes := make([]outcome, p.requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := range p.conns {
		wg.Go(func() {
			<-start
			for i := c; i < p.requests; i += p.conns {
				outcomes[i] = call(ctx, client, target, keys[i%len(keys)])
			}
		})
	}
	close(start)
	wg.Wait()
	return outcomes
}

// call sends one SOAP 1.1 request carrying key and reads the whole answer.
func call(ctx context.Context, client *http.Client, target, key string) outcome {
	body := `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="urn:example:ussd">` +
		`<soap:Header/><soap:Body><u:Request><sessionId>` + key + `</sessionId>` +
		`<u:msisdn>254700000000</u:msisdn><u:input>1</u:input></u:Request></soap:Body></soap:Envelope>`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:example:ussd#Request"`)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return outcome{latency: time.Since(start), err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return outcome{latency: time.Since(start), status: resp.StatusCode, err: err}
}

// ---- the report ----

func printTable(w io.Writer, p params, results []result) {
	fmt.Fprintf(w, "%d services, each one request at a time, %v per request, answering 500 after %v waiting;\n",
		p.services, p.service, p.serviceTimeout)
	fmt.Fprintf(w, "%d requests over %d keys from %d connections at once, client timeout %v.\n\n",
		p.requests, p.keys, p.conns, p.clientTimeout)
	fmt.Fprintln(w, "| limit | requests | p50 | p99 | errors | backend's highest concurrency |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	for _, r := range results {
		lat := latencies(r.outcomes, func(outcome) bool { return true })
		highest := make([]string, len(r.services))
		for i, s := range r.services {
			highest[i] = strconv.Itoa(s.highest)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", limitCell(r.limit), len(r.outcomes),
			fmtDur(percentile(lat, 50)), fmtDur(percentile(lat, 99)), errorsCell(r.outcomes), strings.Join(highest, " / "))
	}
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintln(w, details(p, r))
	}
}

func limitCell(limit int) string {
	if limit == 0 {
		return "none"
	}
	return "`" + limitName(limit) + "`"
}

// errorsCell is the number of failed requests, split by kind.
func errorsCell(outcomes []outcome) string {
	counts := map[string]int{}
	for _, o := range outcomes {
		counts[o.kind()]++
	}
	total := len(outcomes) - counts[kindOK]
	if total == 0 {
		return "0"
	}
	var parts []string
	for _, k := range []string{kind500, kind503, kindTimeout, kindOther} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
		}
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// details is one line on what happened where in a run.
func details(p params, r result) string {
	var answered, overloaded int
	perService := make([]string, len(r.services))
	for i, s := range r.services {
		answered += s.answered
		overloaded += s.overloaded
		perService[i] = strconv.Itoa(s.answered + s.overloaded)
	}
	ok := latencies(r.outcomes, func(o outcome) bool { return o.kind() == kindOK })
	line := fmt.Sprintf("- **%s**: the services got %s requests; they answered %d with 200 (%.0f a second; client p50 %s, p99 %s)",
		limitName(r.limit), strings.Join(perService, " + "), answered, float64(answered)/r.took.Seconds(),
		fmtDur(percentile(ok, 50)), fmtDur(percentile(ok, 99)))
	if overloaded > 0 {
		line += fmt.Sprintf(" and %d with their own 500 after %v in their queue", overloaded, p.serviceTimeout)
	}
	if r.queue.waited == 0 && r.queue.refused == 0 {
		line += "; peekroute queued none"
	} else {
		line += fmt.Sprintf("; peekroute held %d in its queues, %s on average, and refused %d (503)",
			r.queue.waited, fmtDur(r.queue.waitSum/time.Duration(max(r.queue.waited, 1))), r.queue.refused)
	}
	return line + fmt.Sprintf("; the burst took %s.", fmtDur(r.took))
}

func latencies(outcomes []outcome, keep func(outcome) bool) []time.Duration {
	var d []time.Duration
	for _, o := range outcomes {
		if keep(o) {
			d = append(d, o.latency)
		}
	}
	slices.Sort(d)
	return d
}

// percentile is the nearest-rank percentile of sorted d; 0 when d is empty.
func percentile(d []time.Duration, pct int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*pct + 99) / 100
	return d[max(i-1, 0)]
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// check fails on what the measurement does not expect: errors other than
// the overload the services and peekroute answer, a request still in a
// service after the burst, or a service seeing more than the limit.
func check(results []result) error {
	var problems []string
	for _, r := range results {
		name := limitName(r.limit)
		for _, o := range r.outcomes {
			if o.kind() == kindOther {
				problems = append(problems, fmt.Sprintf("%s: unexpected failure: status %d, error %v", name, o.status, o.err))
				break
			}
		}
		for i, s := range r.services {
			if r.limit > 0 && s.highest > r.limit {
				problems = append(problems, fmt.Sprintf("%s: service %d had %d requests at once", name, i+1, s.highest))
			}
			if s.inProgress != 0 {
				problems = append(problems, fmt.Sprintf("%s: service %d still had %d requests after the burst", name, i+1, s.inProgress))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
