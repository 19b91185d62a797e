package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// findChromium returns a headless-capable Chromium, skipping the test when
// there is none (CI installs Debian's chromium).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (chromium, chromium-browser or google-chrome): the real-browser test needs one; apt-get install chromium")
	return ""
}

// chromium runs a headless Chromium with a fresh profile and args, and
// returns what it printed on stdout. Chromium and every helper process it
// started are gone when it returns.
func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	// Its own process group, so that its zygote and renderers go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil && syscall.Kill(-cmd.Process.Pid, 0) == nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a helper outlived it
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, lastLines(stderr.String(), 20))
	}
	return stdout.Bytes()
}

// artifactDir is where browser tests leave screenshots for people to look
// at; each run replaces the last one's.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "peekroute-test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A real browser renders the status page of a peekroute with three
// backends, one of which went down: it shows as down, with the transition, the page's
// script runs under its Content-Security-Policy, and the key form answers
// as /debug/route does. Screenshots at a desktop and a phone width are
// left for people to look at.
func TestStatusPageInBrowser(t *testing.T) {
	bin := findChromium(t)
	ev := newEvents()
	bs := []*backend{newBackend(t, "b0", nil), newBackend(t, "b1", nil), newBackend(t, "b2", nil)}
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+bs[0].url()+","+bs[1].url()+","+bs[2].url(),
		"PEEKROUTE_HEALTH_INTERVAL=50ms", "PEEKROUTE_HEALTH_FALL=2")
	ev.waitFor(t, "ring rebuilt", "healthy", 3)
	bs[1].stop()
	ev.waitFor(t, "ring rebuilt", "healthy", 2)
	for i := range 30 { // some traffic for the rates
		soapRequest(t, inst.url, fmt.Sprintf("browser-%d", i))
	}

	doc := parseDOM(t, string(chromium(t, bin, "--dump-dom", inst.admin+"/")))
	rows := backendRows(doc)
	for i, b := range bs {
		want := "up"
		if i == 1 {
			want = "down"
		}
		row := rows[b.url()]
		if row == nil {
			t.Fatalf("the browser shows no row for %s", b.url())
		}
		if got := attr(row, "data-health"); got != want || !strings.Contains(textOf(row), want+" since") {
			t.Errorf("%s: shown %q (%q), want %s", b.name, got, textOf(row), want)
		}
	}
	if got := textOf(byID(doc, "transitions")); !strings.Contains(got, bs[1].url()+" down 2 consecutive failures") {
		t.Errorf("transitions %q lack b1 going down", got)
	}
	if body := findAll(doc, tag("body")); len(body) != 1 || attr(body[0], "data-reloading") != "on" {
		t.Error("the page's script did not run in the browser (blocked by its Content-Security-Policy?)")
	}

	const key = "ussd-2547001"
	page := inst.admin + "/?key=" + url.QueryEscape(key)
	want := getRoute(t, inst.admin, key)
	answer := byID(parseDOM(t, string(chromium(t, bin, "--dump-dom", page))), "answer")
	if answer == nil || want.Backend == nil || attr(answer, "data-backend") != *want.Backend {
		t.Errorf("the browser shows %v for key %s; /debug/route says %v", answer, key, want.Backend)
	}

	dir := artifactDir(t)
	for _, shot := range []struct{ name, size string }{{"status-wide.png", "1280,1100"}, {"status-narrow.png", "400,2300"}} {
		path := filepath.Join(dir, shot.name)
		os.Remove(path)
		chromium(t, bin, "--hide-scrollbars", "--window-size="+shot.size, "--screenshot="+path, page)
		png, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("no screenshot: %v", err)
			continue
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("screenshot %s is not a PNG", path)
			continue
		}
		t.Logf("screenshot (%s px): %s", shot.size, path)
	}
}
