package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"
)

const (
	dashboardFile = "deploy/grafana/peekroute-dashboard.json"
	alertsFile    = "deploy/prometheus/alerts.yaml"
)

// dashboardExprs returns every PromQL expression in the dashboard — panel
// targets and template variable queries — by where it was found.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	var dash any
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	exprs := make(map[string]string)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				exprs[fmt.Sprintf("%s (%v)", path, v["refId"])] = e
			}
			for k, c := range v {
				if k == "title" {
					continue
				}
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				name := fmt.Sprint(i)
				if m, ok := c.(map[string]any); ok && m["title"] != nil {
					name = fmt.Sprint(m["title"])
				}
				walk(path+"/"+name, c)
			}
		}
	}
	walk("", dash)
	// Query variables: label_values(METRIC{...}, label).
	for _, v := range dash.(map[string]any)["templating"].(map[string]any)["list"].([]any) {
		v := v.(map[string]any)
		if v["type"] != "query" {
			continue
		}
		q := fmt.Sprint(v["definition"])
		m := regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`).FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %v: query %q is not label_values(selector, label)", v["name"], q)
			continue
		}
		exprs["variable "+fmt.Sprint(v["name"])] = fmt.Sprintf("count by (%s) (%s)", m[2], m[1])
	}
	return exprs
}

// alertExprs reads the name and expression of every alert in alerts.yaml;
// deploy/prometheus checks the file's whole shape.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	exprs := make(map[string]string)
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	return exprs
}

// promqlWords are the PromQL functions, aggregations and keywords the
// dashboard and rules may use; any other name in an expression must be a
// metric peekroute exports.
var promqlWords = []string{
	"sum", "min", "max", "avg", "count", "rate", "irate", "increase", "delta", "histogram_quantile",
	"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
}

// targetLabels are attached by Prometheus when it scrapes, not by peekroute.
var targetLabels = []string{"job", "instance"}

var (
	quoted      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	selector    = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcher     = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	grouping    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	rangeOrOff  = regexp.MustCompile(`\[[^\]]*\]|\boffset\s+[0-9]+[smhdwy]`)
	number      = regexp.MustCompile(`\b[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?\b`)
	identifier  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m")
)

// exported says which family a metric name in an expression reads — the
// family itself, or a histogram's _bucket, _sum or _count series — and the
// labels its series have there.
func exported(families map[string]*dto.MetricFamily, name string) (family string, labels []string, ok bool) {
	f := families[name]
	suffix := ""
	if f == nil {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			if base, cut := strings.CutSuffix(name, s); cut && families[base] != nil {
				t := families[base].GetType()
				if t == dto.MetricType_HISTOGRAM || (t == dto.MetricType_SUMMARY && s != "_bucket") {
					f, suffix = families[base], s
				}
			}
		}
	}
	if f == nil {
		return "", nil, false
	}
	labels = slices.Clone(targetLabels)
	if suffix == "_bucket" {
		labels = append(labels, "le")
	}
	for _, m := range f.GetMetric() {
		for _, lp := range m.GetLabel() {
			if !slices.Contains(labels, lp.GetName()) {
				labels = append(labels, lp.GetName())
			}
		}
	}
	return f.GetName(), labels, true
}

// checkExpr returns the families expr reads, and a problem for every name
// in it that is not a metric peekroute exports and every label it selects
// or groups by that those metrics do not carry.
func checkExpr(families map[string]*dto.MetricFamily, expr string) (read, problems []string) {
	e := quoted.ReplaceAllString(grafanaVars.Replace(expr), `""`)
	for _, m := range selector.FindAllStringSubmatch(e, -1) {
		family, labels, ok := exported(families, m[1])
		if !ok {
			continue // reported below with the other names
		}
		for _, lm := range matcher.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(labels, lm[1]) {
				problems = append(problems, fmt.Sprintf("%s has no label %q (it has %v)", family, lm[1], labels))
			}
		}
	}
	e = selector.ReplaceAllString(e, "$1")
	groups := grouping.FindAllStringSubmatch(e, -1)
	e = grouping.ReplaceAllString(e, "$1")
	e = number.ReplaceAllString(rangeOrOff.ReplaceAllString(e, ""), "")
	var labels []string
	for _, name := range identifier.FindAllString(e, -1) {
		if slices.Contains(promqlWords, name) {
			continue
		}
		family, ls, ok := exported(families, name)
		if !ok {
			problems = append(problems, name+" is not a metric peekroute exports")
			continue
		}
		read = append(read, family)
		labels = append(labels, ls...)
	}
	for _, m := range groups {
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
				problems = append(problems, fmt.Sprintf("%s (%s) names a label no metric it reads has", m[1], l))
			}
		}
	}
	return read, problems
}

// Every metric name the dashboard and the alert rules use is one a real
// peekroute exports, with the labels they select on.
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	ev := newEvents()
	up, down := newBackend(t, "up", nil), newBackend(t, "down", nil)
	down.stop()
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+up.url()+","+down.url())
	ev.waitFor(t, "ring rebuilt", "healthy", 1)
	soapRequest(t, inst.url, "k1") // a key found
	if resp, err := http.Post(inst.url+"/", "text/xml", strings.NewReader("<Envelope/>")); err == nil {
		resp.Body.Close() // a key missing
	}
	families := scrape(t, inst.admin)

	exprs := dashboardExprs(t)
	if len(exprs) < 15 {
		t.Fatalf("only %d expressions found in %s", len(exprs), dashboardFile)
	}
	alerts := alertExprs(t)
	if len(alerts) < 5 {
		t.Fatalf("only %d alerts found in %s", len(alerts), alertsFile)
	}
	for where, expr := range alerts {
		exprs[where] = expr
	}
	read := map[string]bool{}
	for where, expr := range exprs {
		fs, problems := checkExpr(families, expr)
		for _, p := range problems {
			t.Errorf("%s: %s\n\t%s", where, p, expr)
		}
		for _, f := range fs {
			read[f] = true
		}
	}
	// The dashboard shows what the issue asks of it.
	for _, f := range []string{"peekroute_requests_total", "peekroute_key_lookups_total", "peekroute_request_duration_seconds",
		"peekroute_backend_up", "peekroute_health_transitions_total", "peekroute_retries_total"} {
		if !read[f] {
			t.Errorf("neither the dashboard nor the alerts read %s", f)
		}
	}
}

// The checker catches a misspelt metric, a histogram suffix on a counter,
// and a label the metric lacks.
func TestCheckExprCatchesMistakes(t *testing.T) {
	ev := newEvents()
	b := newBackend(t, "b", nil)
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+b.url())
	ev.waitFor(t, "ring rebuilt", "healthy", 1)
	families := scrape(t, inst.admin)
	for _, expr := range []string{
		`sum(rate(peekroute_request_total[5m]))`,
		`sum(rate(peekroute_retries_total_bucket[5m]))`,
		`sum(rate(peekroute_requests_total{status="500"}[5m]))`,
		`sum by (status) (rate(peekroute_requests_total[5m]))`,
		`histogram_quantile(0.9, sum by (le) (rate(peekroute_request_duration_seconds_buckets[5m])))`,
		`up{job="peekroute"} == 0`,
	} {
		if _, problems := checkExpr(families, expr); len(problems) == 0 {
			t.Errorf("%s passed the check", expr)
		}
	}
	for _, expr := range []string{
		`histogram_quantile(0.99, sum by (le, backend) (rate(peekroute_request_duration_seconds_bucket{job="$job"}[$__rate_interval])))`,
		`sum by (backend) (rate(peekroute_requests_total{code=~"5.."}[5m] offset 1h)) / ignoring(backend) group_left sum(rate(peekroute_requests_total[5m]))`,
		`sum(rate(peekroute_request_duration_seconds_sum[5m])) / sum(rate(peekroute_request_duration_seconds_count[5m]))`,
	} {
		if _, problems := checkExpr(families, expr); len(problems) != 0 {
			t.Errorf("%s: %v", expr, problems)
		}
	}
}

// Each dashboard expression parses as PromQL, checked by promtool.
func TestDashboardExpressionsParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (Debian package prometheus): dashboard expressions not parsed")
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	i := 0
	for _, expr := range dashboardExprs(t) {
		i++
		e, _ := json.Marshal(grafanaVars.Replace(expr))
		fmt.Fprintf(&rules, "      - record: dashboard_expr_%d\n        expr: %s\n", i, e)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

// The dashboard imports into any Grafana: it asks for a Prometheus data
// source through a variable, and every panel and query reads through it.
func TestDashboardUsesDatasourceVariable(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct{ Type, UID string }
	var dash struct {
		UID, Title string
		Templating struct {
			List []struct {
				Name, Type string
				Query      any // a string, or an object for query variables
			}
		}
		Panels []struct {
			Title, Type string
			Datasource  *datasource
			Targets     []struct {
				Datasource *datasource
				Expr       string
			}
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("uid %q, title %q", dash.UID, dash.Title)
	}
	var sources []string
	for _, v := range dash.Templating.List {
		if v.Type == "datasource" {
			sources = append(sources, fmt.Sprintf("%s:%v", v.Name, v.Query))
		}
	}
	if !slices.Equal(sources, []string{"datasource:prometheus"}) {
		t.Errorf("data source variables %v, want one named datasource for prometheus", sources)
	}
	want := datasource{Type: "prometheus", UID: "${datasource}"}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != want || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %v, %d queries", p.Title, p.Datasource, len(p.Targets))
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || *q.Datasource != want {
				t.Errorf("panel %q: query %s reads %v", p.Title, q.Expr, q.Datasource)
			}
		}
	}
}
