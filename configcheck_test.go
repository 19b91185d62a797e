package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestUnknownVariables(t *testing.T) {
	known := knownVariables()
	removed := map[string]string{"OLD_KNOB": "use PEEKROUTE_NEW_KNOB instead"}
	for _, tc := range []struct {
		name    string
		environ []string
		want    string // "" for no error; else the whole message
	}{
		{"known only", []string{"PEEKROUTE_HEALTH_PATH=/h", "PEEKROUTE_KEY=xml:s"}, ""},
		{"other programs' variables", []string{"HOME=/root", "PEEKROUTEX=1", "peekroute_key=x", "X_PEEKROUTE_KEY=1", "NOEQUALS"}, ""},
		{"typo", []string{"PEEKROUTE_HEALT_PATH=/h"},
			"PEEKROUTE_HEALT_PATH: unknown variable; did you mean PEEKROUTE_HEALTH_PATH?"},
		{"singular", []string{"PEEKROUTE_BACKEND=http://a"},
			"PEEKROUTE_BACKEND: unknown variable; did you mean PEEKROUTE_BACKENDS?"},
		{"transposed", []string{"PEEKROUTE_LOG_FROMAT=text"},
			"PEEKROUTE_LOG_FROMAT: unknown variable; did you mean PEEKROUTE_LOG_FORMAT?"},
		{"lower case", []string{"PEEKROUTE_health_path=/h"},
			"PEEKROUTE_health_path: unknown variable; did you mean PEEKROUTE_HEALTH_PATH?"},
		{"empty value", []string{"PEEKROUTE_SHUTDOWN_DELAYS="},
			"PEEKROUTE_SHUTDOWN_DELAYS: unknown variable; did you mean PEEKROUTE_SHUTDOWN_DELAY?"},
		{"nothing close", []string{"PEEKROUTE_WIDGETS=3"},
			"PEEKROUTE_WIDGETS: unknown variable (the closest known is PEEKROUTE_" + mustClosest(t, "WIDGETS", known) + ")"},
		{"removed", []string{"PEEKROUTE_OLD_KNOB=1"},
			"PEEKROUTE_OLD_KNOB was removed: use PEEKROUTE_NEW_KNOB instead"},
		{"several, first by name", []string{"PEEKROUTE_ZONE=1", "PEEKROUTE_KEY=xml:s", "PEEKROUTE_HEALT_PATH=/h"},
			"PEEKROUTE_HEALT_PATH: unknown variable; did you mean PEEKROUTE_HEALTH_PATH? (and 1 more unknown: PEEKROUTE_ZONE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkVariables(tc.environ, known, removed)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %q, want none", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("error %v,\nwant     %s", err, tc.want)
			}
		})
	}
}

func mustClosest(t *testing.T, name string, known []string) string {
	t.Helper()
	c, d := closestName(name, known)
	if d <= 2 {
		t.Fatalf("%s is within %d of %s; pick a name far from every variable", name, d, c)
	}
	return c
}

// The known variables are the settings' env tags: every one that a test,
// the README or a default mentions is among them.
func TestKnownVariablesComeFromSettings(t *testing.T) {
	known := knownVariables()
	for _, name := range []string{"LISTEN_ADDR", "BACKENDS", "KEY", "HEALTH_PATH", "ADMIN_ADDR", "SHUTDOWN_DELAY", "LOG_KEYS"} {
		if !slices.Contains(known, name) {
			t.Errorf("%s is not known; known: %v", name, known)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range known {
		if !strings.Contains(string(readme), "`"+envPrefix+name+"`") {
			t.Errorf("README.md does not document %s%s", envPrefix, name)
		}
	}
}

// A removed variable that settings no longer reads says what to do
// instead; one still read is accepted as before.
func TestRemovedVariables(t *testing.T) {
	known := knownVariables()
	for name, advice := range removedVariables {
		err := checkEnvironment([]string{envPrefix + name + "=x"})
		if slices.Contains(known, name) {
			if err != nil {
				t.Errorf("%s%s is still read, yet refused: %v", envPrefix, name, err)
			}
			t.Logf("%s%s is still read here; the removal message applies once it is not", envPrefix, name)
			continue
		}
		if want := envPrefix + name + " was removed: " + advice; err == nil || err.Error() != want {
			t.Errorf("%s%s: error %v, want %q", envPrefix, name, err, want)
		}
	}
}

// An unknown variable stops start-up with exit status 2 and one line.
func TestUnknownVariableExitsTwoWithOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, []string{"PEEKROUTE_KEY=xml:s", "PEEKROUTE_BACKENDS=http://a", "PEEKROUTE_HEALT_PATH=/health"}, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
	want := "peekroute: PEEKROUTE_HEALT_PATH: unknown variable; did you mean PEEKROUTE_HEALTH_PATH?\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}
