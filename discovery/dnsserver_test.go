package discovery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testWait bounds every wait for an event in these tests.
const testWait = 10 * time.Second

// zone is a test name server's data and behaviour, safe to change while
// the server runs.
type zone struct {
	mu      sync.Mutex
	records []dns.RR
	extra   []dns.RR
	// rcode, when not success, is the answer to every query.
	rcode int
	// failing names are answered SERVFAIL.
	failing map[string]bool
	// drop leaves queries unanswered.
	drop bool
	// noChase answers a CNAME alone, as an authoritative server does for
	// a target outside its zone.
	noChase bool
	// byNet counts the queries received per network ("udp", "tcp").
	byNet map[string]int
	// queried hears of every query, without blocking.
	queried chan dns.Question
}

// set replaces the records with those written in zone-file syntax.
func (z *zone) set(t *testing.T, lines ...string) {
	t.Helper()
	rrs := parseRRs(t, lines)
	z.mu.Lock()
	defer z.mu.Unlock()
	z.records = rrs
}

// setExtra replaces the records sent in the additional section of SRV answers.
func (z *zone) setExtra(t *testing.T, lines ...string) {
	t.Helper()
	rrs := parseRRs(t, lines)
	z.mu.Lock()
	defer z.mu.Unlock()
	z.extra = rrs
}

func (z *zone) setRcode(rcode int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.rcode = rcode
}

// fail makes the server answer SERVFAIL for name.
func (z *zone) fail(name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.failing[dns.CanonicalName(name)] = true
}

func (z *zone) setNoChase(noChase bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.noChase = noChase
}

func (z *zone) setDrop(drop bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.drop = drop
}

func (z *zone) queries(network string) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.byNet[network]
}

func parseRRs(t *testing.T, lines []string) []dns.RR {
	t.Helper()
	var rrs []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

func (z *zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m, drop := z.answer(req, w.RemoteAddr().Network())
	if drop {
		return
	}
	if w.RemoteAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

func (z *zone) answer(req *dns.Msg, network string) (*dns.Msg, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.byNet[network]++
	q := req.Question[0]
	select {
	case z.queried <- q:
	default:
	}
	m := new(dns.Msg)
	m.SetReply(req)
	if z.drop || z.rcode != dns.RcodeSuccess {
		m.Rcode = z.rcode
		return m, z.drop
	}
	if z.failing[dns.CanonicalName(q.Name)] {
		m.Rcode = dns.RcodeServerFailure
		return m, false
	}
	if !z.exists(q.Name) {
		m.Rcode = dns.RcodeNameError
		return m, false
	}
	m.Answer = z.lookup(q.Name, q.Qtype)
	rand.Shuffle(len(m.Answer), func(i, j int) { m.Answer[i], m.Answer[j] = m.Answer[j], m.Answer[i] })
	if q.Qtype == dns.TypeSRV {
		m.Extra = append(m.Extra, z.extra...)
	}
	return m, false
}

func (z *zone) exists(name string) bool {
	for _, rr := range z.records {
		if strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// lookup returns the records of qtype at name, following CNAMEs within
// the zone unless noChase is set.
func (z *zone) lookup(name string, qtype uint16) []dns.RR {
	var out []dns.RR
	for range 10 {
		var next string
		for _, rr := range z.records {
			h := rr.Header()
			if !strings.EqualFold(h.Name, name) {
				continue
			}
			if h.Rrtype == qtype {
				out = append(out, dns.Copy(rr))
			} else if c, ok := rr.(*dns.CNAME); ok {
				out, next = append(out, dns.Copy(rr)), c.Target
			}
		}
		if next == "" || z.noChase {
			return out
		}
		name = next
	}
	return out
}

// testServer is a name server on 127.0.0.1 answering from a zone over UDP
// and TCP on the same, kernel-chosen, port.
type testServer struct {
	addr string
	zone *zone
	udp  *dns.Server
	tcp  *dns.Server
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	pc, ln := listenPair(t)
	z := &zone{byNet: map[string]int{}, failing: map[string]bool{}, queried: make(chan dns.Question, 64)}
	s := &testServer{addr: pc.LocalAddr().String(), zone: z}
	s.udp = &dns.Server{PacketConn: pc, Handler: z}
	s.tcp = &dns.Server{Listener: ln, Handler: z}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(s.stop)
	return s
}

// listenPair opens a UDP socket and a TCP listener on the same port.
func listenPair(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no port free for both UDP and TCP")
	return nil, nil
}

// stop shuts the server down; queries are then refused by the kernel.
func (s *testServer) stop() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

func (s *testServer) resolver(t *testing.T) *Resolver {
	t.Helper()
	r, err := NewResolver(s.addr, testWait)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// logSink is a slog handler passing the messages logged to a channel.
type logSink struct{ msgs chan string }

func newLogSink() *logSink { return &logSink{msgs: make(chan string, 1024)} }

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	select {
	case l.msgs <- r.Message:
	default:
	}
	return nil
}

// waitLog waits for n messages that contain substr, skipping others.
func (l *logSink) waitLog(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.After(testWait)
	for n > 0 {
		select {
		case msg := <-l.msgs:
			if strings.Contains(msg, substr) {
				n--
			}
		case <-deadline:
			t.Fatalf("still waiting for %d log messages containing %q", n, substr)
		}
	}
}
