package main

// Helpers shared by more than one of the package's test files. A helper
// used by one file only lives in that file, beside its tests.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/net/html"

	"github.com/peekroute/peekroute/hashring"
	"github.com/peekroute/peekroute/router"
)

// eventually polls cond until it returns nil, failing the test with what
// and cond's last error once pollTimeout has passed. It is for state that
// no event announces; where peekroute reports something, wait for that
// (events.waitFor) instead.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %v", what, err, pollTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// pollTimeout bounds every eventually; pollInterval is the pause between
// its tries.
const (
	pollTimeout  = 20 * time.Second
	pollInterval = 5 * time.Millisecond
)

// events is a slog.Handler that passes every record's message and
// attributes to a channel, so tests wait on what peekroute reports.
type events struct {
	ch chan slog.Record
}

func newEvents() *events { return &events{ch: make(chan slog.Record, 1024)} }

func (e *events) Enabled(context.Context, slog.Level) bool { return true }
func (e *events) Handle(_ context.Context, r slog.Record) error {
	select {
	case e.ch <- r.Clone():
	default:
	}
	return nil
}
func (e *events) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *events) WithGroup(string) slog.Handler      { return e }

// waitFor returns the next record with message msg whose attribute attr
// (if given) equals value, failing the test after a generous deadline.
func (e *events) waitFor(t *testing.T, msg, attr string, value int64) slog.Record {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-e.ch:
			if r.Message == msg && (attr == "" || attrInt(r, attr) == value) {
				return r
			}
		case <-deadline:
			t.Fatalf("no %q event with %s=%d", msg, attr, value)
		}
	}
}

// count drains the records seen so far and counts those with message msg.
func (e *events) count(msg string) int {
	n := 0
	for {
		select {
		case r := <-e.ch:
			if r.Message == msg {
				n++
			}
		default:
			return n
		}
	}
}

func attrInt(r slog.Record, key string) int64 {
	var v int64 = -1
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.Int64()
			return false
		}
		return true
	})
	return v
}

// backend is a real HTTP backend on a fixed loopback address that can be
// stopped and started again on the same address.
type backend struct {
	name    string
	addr    string
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

func newBackend(t *testing.T, name string, h http.Handler) *backend {
	t.Helper()
	if h == nil {
		h = nameHandler(name)
	}
	b := &backend{name: name, handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func nameHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		fmt.Fprint(w, name)
	})
}

func (b *backend) serve(ln net.Listener) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srv = &http.Server{Handler: b.handler}
	go b.srv.Serve(ln)
}

func (b *backend) url() string { return "http://" + b.addr }

func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

func (b *backend) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatalf("restarting %s on %s: %v", b.name, b.addr, err)
	}
	b.serve(ln)
}

// instance is peekroute served in-process on loopback.
type instance struct {
	url, admin string
	stop       func() error
}

func startInstance(t *testing.T, h slog.Handler, env ...string) *instance {
	t.Helper()
	env = append([]string{"PEEKROUTE_KEY=xml:sessionId", "PEEKROUTE_SHUTDOWN_DELAY=0s"}, env...)
	cfg, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	var ls listeners
	if ls.client, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if ls.admin, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(h), ls) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() { cancel(); result = <-done })
		return result
	}
	t.Cleanup(func() { stop() })
	return &instance{url: "http://" + ls.client.Addr().String(), admin: "http://" + ls.admin.Addr().String(), stop: stop}
}

func soapRequest(t *testing.T, url, key string) (status int, backend string) {
	t.Helper()
	resp, err := http.Post(url+"/ussd", "text/xml", strings.NewReader("<Envelope><Body><sessionId>"+key+"</sessionId></Body></Envelope>"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Backend")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// waitStatus polls url until it answers status, and returns the body.
func waitStatus(t *testing.T, url string, status int) string {
	t.Helper()
	var body string
	eventually(t, fmt.Sprintf("%s to answer %d", url, status), func() error {
		var got int
		if got, body = get(t, url); got != status {
			return fmt.Errorf("answered %d %q", got, body)
		}
		return nil
	})
	return body
}

// built is the peekroute binary the tests run, built once.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// buildBinary builds peekroute once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "peekroute-test"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "peekroute")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// startBinary runs the binary with env and returns its client and admin
// addresses, read from its "peekroute listening" log line.
func startBinary(t *testing.T, bin string, env ...string) (cmd *exec.Cmd, addr, admin string) {
	t.Helper()
	cmd = exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	var seen []string
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		seen = append(seen, lines.Text())
		var rec struct{ Msg, Addr, Admin string }
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "peekroute listening" {
			go io.Copy(io.Discard, stderr)
			return cmd, rec.Addr, rec.Admin
		}
	}
	t.Fatalf("peekroute exited before listening:\n%s", strings.Join(seen, "\n"))
	return nil, "", ""
}

// scrape returns the admin listener's metrics, by family name.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// sum adds up every series of the named counter.
func sum(families map[string]*dto.MetricFamily, name string) float64 {
	total := 0.0
	if f := families[name]; f != nil {
		for _, m := range f.Metric {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// counter returns the value of the named counter with exactly the given
// labels, 0 when absent.
func counter(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		for _, lp := range m.Label {
			if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
				continue next
			}
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	return 0
}

// srvZone is a DNS server on loopback answering one SRV name with a
// record per backend, in a fresh random order for every query.
type srvZone struct {
	name    string
	mu      sync.Mutex
	targets map[string]uint16 // target host -> port
}

func startSRVZone(t *testing.T, name string, ports ...uint16) (z *srvZone, addr string) {
	t.Helper()
	z = &srvZone{name: dns.Fqdn(name), targets: map[string]uint16{}}
	for i, p := range ports {
		z.targets[fmt.Sprintf("b%d.backends.test.", i)] = p
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: z, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return z, pc.LocalAddr().String()
}

func (z *srvZone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	q := req.Question[0]
	z.mu.Lock()
	defer z.mu.Unlock()
	switch {
	case q.Qtype == dns.TypeSRV && q.Name == z.name:
		for target, port := range z.targets { // map order: shuffled
			m.Answer = append(m.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 5},
				Priority: 10, Weight: 1, Port: port, Target: target})
		}
		rand.Shuffle(len(m.Answer), func(i, j int) { m.Answer[i], m.Answer[j] = m.Answer[j], m.Answer[i] })
	case q.Qtype == dns.TypeA && z.targets[q.Name] != 0:
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5},
			A: net.IPv4(127, 0, 0, 1)})
	case z.targets[q.Name] == 0 && q.Name != z.name:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func portOf(t *testing.T, b *backend) uint16 {
	_, p, _ := net.SplitHostPort(b.addr)
	var port uint16
	fmt.Sscan(p, &port)
	return port
}

// expectedOwners returns, for a key, the owners it may have: with every
// backend, and with b1 out of the ring.
func expectedOwners(t *testing.T, bs []*backend) func(key string) (all, without string) {
	t.Helper()
	ring := func(urls ...string) *hashring.Ring {
		var members []hashring.Member
		for _, u := range urls {
			b, err := router.ParseBackend(u)
			if err != nil {
				t.Fatal(err)
			}
			members = append(members, hashring.Member{Name: b.Name})
		}
		r, err := hashring.New(members, hashring.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	names := map[string]string{}
	for _, b := range bs {
		pb, _ := router.ParseBackend(b.url())
		names[pb.Name] = b.name
	}
	full, less := ring(bs[0].url(), bs[1].url(), bs[2].url()), ring(bs[0].url(), bs[2].url())
	return func(key string) (string, string) {
		return names[full.Member(full.Locate([]byte(key))).Name], names[less.Member(less.Locate([]byte(key))).Name]
	}
}

// parseDOM parses an HTML document as a browser would.
func parseDOM(t *testing.T, doc string) *html.Node {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// findAll returns the elements under n that match, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

// byID returns the element with id, or nil.
func byID(n *html.Node, id string) *html.Node {
	found := findAll(n, func(e *html.Node) bool { return attr(e, "id") == id })
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

func tag(name string) func(*html.Node) bool {
	return func(e *html.Node) bool { return e.Data == name }
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// textOf returns the text under n with runs of white space folded.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// backendRows maps each backend row's data-backend to its element.
func backendRows(doc *html.Node) map[string]*html.Node {
	rows := make(map[string]*html.Node)
	for _, tr := range findAll(doc, func(e *html.Node) bool { return e.Data == "tr" && hasAttr(e, "data-backend") }) {
		rows[attr(tr, "data-backend")] = tr
	}
	return rows
}

func getRoute(t *testing.T, admin, key string) routeAnswer {
	t.Helper()
	var ans routeAnswer
	resp, err := http.Get(admin + "/debug/route?key=" + url.QueryEscape(key))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatal(err)
	}
	return ans
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
