// Package prometheus_test checks the alerting rules in this directory:
// every alert tells the on-call what happened and what to check, has unit
// tests that fire and that stay silent, and passes promtool.
package prometheus_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type rules struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Expr        string
			For         string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

type ruleTests struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval"`
	Tests              []struct {
		Interval      string
		InputSeries   []struct{ Series, Values string } `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels"`
				ExpAnnotations map[string]string `json:"exp_annotations"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	}
}

func load(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Every alert has a severity, a summary and a description, and cases in
// alerts_test.yaml where it fires and where it stays silent.
func TestEveryAlertIsDescribedAndTested(t *testing.T) {
	var r rules
	var tests ruleTests
	load(t, "alerts.yaml", &r)
	load(t, "alerts_test.yaml", &tests)
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			n++
			switch sev := rule.Labels["severity"]; sev {
			case "critical", "warning":
			default:
				t.Errorf("%s: severity %q, want critical or warning", rule.Alert, sev)
			}
			if s := rule.Annotations["summary"]; s == "" || strings.Contains(s, "\n") {
				t.Errorf("%s: summary %q, want one line", rule.Alert, s)
			}
			if d := rule.Annotations["description"]; len(d) < 100 || !strings.Contains(strings.ToLower(d), "check") {
				t.Errorf("%s: description %q does not tell the on-call what to check", rule.Alert, d)
			}
			if !fires[rule.Alert] || !silent[rule.Alert] {
				t.Errorf("%s: alerts_test.yaml has a case where it fires: %v; where it stays silent: %v", rule.Alert, fires[rule.Alert], silent[rule.Alert])
			}
		}
	}
	if n < 5 {
		t.Errorf("%d alerts, want at least 5", n)
	}
}

// promtool accepts the rules and their unit tests pass.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (Debian package prometheus): rules not checked; CI installs it")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
