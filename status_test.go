package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/net/html"

	"github.com/peekroute/peekroute/health"
)

// getPage fetches an admin page, failing unless it is 200 HTML.
func getPage(t *testing.T, u string) (*html.Node, string, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %s %s", u, resp.Status, resp.Header.Get("Content-Type"))
	}
	return parseDOM(t, string(body)), string(body), resp.Header
}

func getRing(t *testing.T, admin string) ringAnswer {
	t.Helper()
	var ring ringAnswer
	resp, err := http.Get(admin + "/debug/ring")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&ring); err != nil {
		t.Fatal(err)
	}
	return ring
}

// The page lists every configured backend with its health and its share
// of the ring as /debug/ring reports them, answers the key form as
// /debug/route does, shows transitions with their reasons, and changes
// nothing.
func TestStatusPage(t *testing.T) {
	ev := newEvents()
	bs := []*backend{newBackend(t, "b0", nil), newBackend(t, "b1", nil), newBackend(t, "b2", nil)}
	bs[2].stop()
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+bs[0].url()+","+bs[1].url()+";weight=2,"+bs[2].url(),
		"PEEKROUTE_HEALTH_INTERVAL=20ms", "PEEKROUTE_HEALTH_RISE=1", "PEEKROUTE_HEALTH_FALL=2")
	ev.waitFor(t, "ring rebuilt", "healthy", 2)

	doc, _, header := getPage(t, inst.admin+"/")
	if csp := header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	ring := getRing(t, inst.admin)
	rows := backendRows(doc)
	if len(rows) != 3 {
		t.Fatalf("%d backend rows, want 3: %v", len(rows), rows)
	}
	total := 0
	for _, b := range ring.Backends {
		row := rows[b.Name]
		if row == nil {
			t.Errorf("no row for %s", b.Name)
			continue
		}
		want := map[bool]string{true: "up", false: "down"}[b.Healthy]
		if got := attr(row, "data-health"); got != want {
			t.Errorf("%s shown %s, want %s", b.Name, got, want)
		}
		if !strings.Contains(textOf(row), want+" since ") {
			t.Errorf("%s: row %q does not say since when it is %s", b.Name, textOf(row), want)
		}
		share := findAll(row, func(e *html.Node) bool { return hasAttr(e, "data-share") })
		if len(share) != 1 || attr(share[0], "data-share") != strconv.Itoa(b.Partitions) {
			t.Errorf("%s: share %v, want %d partitions", b.Name, share, b.Partitions)
		}
		if cell := findAll(row, func(e *html.Node) bool { return attr(e, "data-label") == "Weight" }); len(cell) != 1 || textOf(cell[0]) != strconv.Itoa(b.Weight) {
			t.Errorf("%s: weight cell %v, want %d", b.Name, cell, b.Weight)
		}
		total += b.Partitions
	}
	if row := rows[bs[2].url()]; row == nil || !strings.Contains(textOf(row), "connection refused") {
		t.Errorf("the down backend's row does not give its last error")
	}
	if total != ring.Partitions {
		t.Errorf("shares add up to %d partitions of %d", total, ring.Partitions)
	}
	shape := textOf(byID(doc, "shape"))
	for _, want := range []string{"xml:sessionId", "Partitions " + strconv.Itoa(ring.Partitions), "Replication " + strconv.Itoa(ring.Replication),
		"Load factor 1.10", "Bound " + strconv.Itoa(ring.LoadBound), "2 of 3 backends"} {
		if !strings.Contains(shape, want) {
			t.Errorf("ring section %q lacks %q", shape, want)
		}
	}
	if byID(doc, "answer") != nil {
		t.Error("an answer is shown though no key was asked for")
	}

	// The key form answers as /debug/route does.
	for i := range 20 {
		key := fmt.Sprintf("conv-%d", i)
		doc, _, _ := getPage(t, inst.admin+"/?key="+key)
		answer := byID(doc, "answer")
		want := getRoute(t, inst.admin, key)
		if answer == nil || attr(answer, "data-backend") != *want.Backend || !strings.Contains(textOf(answer), "partition "+strconv.Itoa(want.Partition)) {
			t.Fatalf("key %s: page answers %v, /debug/route %s partition %d", key, answer, *want.Backend, want.Partition)
		}
		if v := attr(byID(doc, "key"), "value"); v != key {
			t.Errorf("the form lost the key: value %q, want %q", v, key)
		}
	}

	// A backend that goes down shows as down, with the transition.
	bs[0].stop()
	ev.waitFor(t, "ring rebuilt", "healthy", 1)
	doc, _, _ = getPage(t, inst.admin+"/")
	if got := attr(backendRows(doc)[bs[0].url()], "data-health"); got != "down" {
		t.Errorf("stopped backend shown %q", got)
	}
	transitions := textOf(byID(doc, "transitions"))
	if !strings.Contains(transitions, bs[0].url()+" down 2 consecutive failures") {
		t.Errorf("transitions %q lack b0 going down with its reason", transitions)
	}

	// Read-only: nothing but GET (and HEAD).
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, inst.admin+"/", strings.NewReader("key=x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s / answered %s", method, resp.Status)
		}
	}
	if forms := findAll(doc, tag("form")); len(forms) != 1 || !strings.EqualFold(attr(forms[0], "method"), "get") {
		t.Errorf("forms %v, want the one GET form", forms)
	}
}

// Whatever configuration, DNS, backends or a visitor put on the page
// arrives as text: the only script is the page's own.
func TestStatusPageEscapes(t *testing.T) {
	const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`
	checkInert := func(t *testing.T, doc *html.Node) {
		t.Helper()
		scripts := findAll(doc, tag("script"))
		if len(scripts) != 1 || textOf(scripts[0]) != strings.Join(strings.Fields(statusJS), " ") {
			t.Errorf("%d script elements, want only the page's own", len(scripts))
		}
		if imgs := findAll(doc, tag("img")); len(imgs) != 0 {
			t.Errorf("hostile text became %d img elements", len(imgs))
		}
		for _, e := range findAll(doc, func(*html.Node) bool { return true }) {
			for _, a := range e.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s> has an event handler %s=%q", e.Data, a.Key, a.Val)
				}
			}
		}
	}

	t.Run("served", func(t *testing.T) {
		ev := newEvents()
		b0 := newBackend(t, "b0", nil)
		// A regex key source may hold any text.
		inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+b0.url(), "PEEKROUTE_KEY=regex:"+hostile+`(\w+)`)
		ev.waitFor(t, "ring rebuilt", "healthy", 1)
		doc, body, _ := getPage(t, inst.admin+"/?key="+url.QueryEscape(hostile))
		checkInert(t, doc)
		if got := textOf(byID(doc, "shape")); !strings.Contains(got, "regex:"+hostile) {
			t.Errorf("the key sources do not read as written: %q", got)
		}
		if got := attr(byID(doc, "key"), "value"); got != hostile {
			t.Errorf("the key field holds %q, want the key as typed", got)
		}
		if !strings.Contains(textOf(byID(doc, "answer")), hostile) {
			t.Errorf("the answer does not show the key as typed")
		}
		if strings.Contains(body, "<script>alert") {
			t.Error("the page holds the hostile text unescaped")
		}
	})

	t.Run("rendered", func(t *testing.T) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		backend := hostile
		v := statusView{
			Now: now, Refresh: 5, NotReady: hostile, KeySources: hostile, MissingKey: hostile, Checks: hostile,
			Backends: []backendRow{{Name: hostile, Weight: 1, Health: "down", Since: now, LastError: hostile,
				Rate: &backendRate{PerSecond: 1, ErrorShare: 0.5, Over: time.Minute}}},
			Transitions: []health.Transition{{At: now, Target: hostile, Reason: hostile}},
			Asked:       true, Answer: routeAnswer{Key: hostile, Backend: &backend},
			Script: template.JS(statusJS),
		}
		var buf bytes.Buffer
		if err := renderStatus(&buf, v); err != nil {
			t.Fatal(err)
		}
		doc := parseDOM(t, buf.String())
		checkInert(t, doc)
		if got := attr(backendRows(doc)[hostile], "data-health"); got != "down" {
			t.Errorf("the hostile backend's row: health %q", got)
		}
		if got := strings.Count(textOf(doc), hostile); got < 8 {
			t.Errorf("the hostile text reads as text %d times, want every place it was put", got)
		}
	})
}

// Requests/s and the 5xx share come from the router's own counters.
func TestStatusPageRates(t *testing.T) {
	b0 := newBackend(t, "b0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	cfg, err := loadConfig([]string{"PEEKROUTE_BACKENDS=" + b0.url(), "PEEKROUTE_KEY=xml:sessionId"})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	p, err := assemble(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.engine.Serve(ln) }()
	defer func() { p.engine.Close(); <-served }()
	rates := newRateSampler(p.reg)
	page := &statusPage{state: &readiness{checker: p.checker, router: p.router, engine: p.engine}, history: p.history, rates: rates, logger: logger}
	t0 := time.Now()
	rates.sample(t0)
	for i := range 40 {
		path := "/ok"
		if i%4 == 0 {
			path = "/fail"
		}
		resp, err := http.Post("http://"+ln.Addr().String()+path, "text/xml", strings.NewReader("<sessionId>k</sessionId>"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Each exchange is recorded once its last byte is on its way: wait
	// for the last one before sampling.
	eventually(t, "40 requests recorded", func() error {
		if n := sum(scrapeRegistry(t, p.reg), "peekroute_requests_total"); n < 40 {
			return fmt.Errorf("%v recorded", n)
		}
		return nil
	})
	rates.sample(t0.Add(10 * time.Second))
	v := page.view(t0.Add(10*time.Second), false, "")
	if len(v.Backends) != 1 || v.Backends[0].Rate == nil {
		t.Fatalf("backends %+v, want one with a rate", v.Backends)
	}
	if r := *v.Backends[0].Rate; r.PerSecond != 4 || r.ErrorShare != 0.25 {
		t.Errorf("rate %+v, want 4/s with a 5xx share of 0.25", r)
	}
	var buf bytes.Buffer
	if err := renderStatus(&buf, v); err != nil {
		t.Fatal(err)
	}
	row := textOf(backendRows(parseDOM(t, buf.String()))[b0.url()])
	if !strings.Contains(row, "4.0") || !strings.Contains(row, "25.0%") {
		t.Errorf("row %q lacks 4.0 requests/s and 25.0%% 5xx", row)
	}
}

// scrapeRegistry gathers reg's metric families by name.
func scrapeRegistry(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := make(map[string]*dto.MetricFamily, len(families))
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return byName
}
