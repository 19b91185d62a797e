package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dockerStages splits the Dockerfile into its stages, each from its FROM
// line on; what comes before the first FROM is dropped.
func dockerStages(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, part := range regexp.MustCompile(`(?m)^FROM `).Split(string(data), -1)[1:] {
		stages = append(stages, "FROM "+part)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	return stages
}

// The image's final stage is empty apart from the binary, runs as a
// non-root user, exposes both listeners and checks itself without a shell.
func TestDockerfile(t *testing.T) {
	stages := dockerStages(t)
	final := stages[len(stages)-1]
	for _, want := range []string{
		"FROM scratch\n",
		"USER 65532:65532",
		"EXPOSE 8080 9090",
		`HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD ["/peekroute", "healthcheck"]`,
		`ENTRYPOINT ["/peekroute"]`,
	} {
		if !strings.Contains(final, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	if !strings.Contains(stages[0], "CGO_ENABLED=0 go build") {
		t.Error("the binary is not built static")
	}
}

var (
	copyFromBuild = regexp.MustCompile(`(?m)^COPY --from=build (\S+) (\S+)$`)
	goBuild       = regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`)
)

// imageContext writes, into dir, a build context for the Dockerfile's final
// stage without its build stage, whose image cannot be pulled here: the
// binary is built as the build stage's RUN line builds it, files the final
// stage copies from anywhere else in the build stage (the CA certificates)
// are taken from this Debian host, and the stage's COPY --from=build lines
// are rewritten to copy them from the context. It returns the Containerfile.
func imageContext(t *testing.T, dir string) string {
	t.Helper()
	stages := dockerStages(t)
	build, final := strings.Join(stages[:len(stages)-1], ""), stages[len(stages)-1]
	run := goBuild.FindStringSubmatch(build)
	var out []string
	if run != nil {
		out = regexp.MustCompile(`-o (/\S+)/[^/\s]+ `).FindStringSubmatch(run[1])
	}
	if out == nil {
		t.Fatalf("no `RUN CGO_ENABLED=0 go build ... -o /DIR/NAME .` line in the build stage:\n%s", build)
	}
	outDir := out[1] // where the build stage leaves its binary
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(run[1], outDir+"/", filepath.Join(dir, "out")+"/"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	containerfile := copyFromBuild.ReplaceAllStringFunc(final, func(line string) string {
		m := copyFromBuild.FindStringSubmatch(line)
		src, dst := m[1], m[2]
		local := filepath.Join("out", strings.TrimPrefix(src, outDir+"/"))
		if !strings.HasPrefix(src, outDir+"/") {
			local = filepath.Join("host", src)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatalf("the final stage copies %s from the build stage; this host has none: %v", src, err)
			}
			os.MkdirAll(filepath.Dir(filepath.Join(dir, local)), 0o755)
			if err := os.WriteFile(filepath.Join(dir, local), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return "COPY " + local + " " + dst
	})
	if strings.Contains(containerfile, "--from=") {
		t.Fatalf("the final stage copies from a stage the test does not rebuild:\n%s", containerfile)
	}
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return containerfile
}

// podman runs rootful podman as this sandbox allows it: vfs storage, runc.
func podman(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "podman", append([]string{"--storage-driver", "vfs", "--runtime", "runc"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, lastLines(stderr.String(), 15))
	}
	return strings.TrimSpace(stdout.String()), err
}

func mustPodman(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := podman(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// freePort returns a loopback port the kernel had free a moment ago: the
// image's healthcheck reads its admin port from the container's
// environment, so that port must be known before the container starts.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logLines follows a container's log and passes on each line.
func logLines(t *testing.T, name string) <-chan string {
	t.Helper()
	cmd := exec.Command("podman", "--storage-driver", "vfs", "--runtime", "runc", "logs", "--follow", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // peekroute logs to stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return lines
}

// waitLog returns the first log record with message msg, failing the test
// with what was logged if none comes.
func waitLog(t *testing.T, lines <-chan string, msg string) map[string]any {
	t.Helper()
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the container's log ended without %q:\n%s", msg, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		case <-timeout:
			t.Fatalf("no %q in the container's log:\n%s", msg, strings.Join(seen, "\n"))
		}
	}
}

// The image built from the Dockerfile's final stage runs for real: as a
// non-root user, configured by PEEKROUTE_* variables alone, it becomes
// ready, routes a SOAP request to the backend byte for byte, answers its
// own healthcheck, and on podman stop drains the request in flight and
// exits 0.
func TestImage(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not on PATH: the image is not built and run (apt-get install podman runc)")
	}
	id := make([]byte, 4)
	rand.Read(id)
	image := "localhost/peekroute-test:" + hex.EncodeToString(id)
	name := "peekroute-test-" + hex.EncodeToString(id)

	dir := t.TempDir()
	t.Logf("building %s from the final stage of Dockerfile:\n%s", image, imageContext(t, dir))
	mustPodman(t, "build", "--format", "docker", "--layers=false", "--pull=never", "-f", filepath.Join(dir, "Containerfile"), "-t", image, dir)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := podman(ctx, "rm", "--force", "--time", "0", "--ignore", name); err != nil {
			t.Error(err)
		}
		if _, err := podman(ctx, "rmi", "--force", image); err != nil {
			t.Error(err)
		}
	})

	type received struct {
		sha string
		n   int64
	}
	got := make(chan received, 10)
	arrived, release := make(chan struct{}), make(chan struct{})
	soap := newBackend(t, "soap", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		if r.Method == http.MethodPost {
			got <- received{hex.EncodeToString(h.Sum(nil)), n}
		}
		io.WriteString(w, "ok")
	}))
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mustPodman(t, "run", "--detach", "--name", name, "--network", "host",
		"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
		"--env", "PEEKROUTE_BACKENDS="+soap.url(),
		"--env", "PEEKROUTE_KEY=xml:sessionId",
		"--env", "PEEKROUTE_LISTEN_ADDR=127.0.0.1:0",
		"--env", "PEEKROUTE_ADMIN_ADDR="+admin,
		"--env", "PEEKROUTE_HEALTH_INTERVAL=100ms",
		"--env", "PEEKROUTE_SHUTDOWN_DELAY=200ms",
		"--env", "PEEKROUTE_SHUTDOWN_TIMEOUT=20s",
		image)
	logs := logLines(t, name)
	listening := waitLog(t, logs, "peekroute listening")
	addr := fmt.Sprint(listening["addr"])

	// Not root, as the image says and as the kernel sees the process.
	if user := mustPodman(t, "inspect", "--format", "{{.Config.User}}", name); user != "65532:65532" {
		t.Errorf("container user %q, want 65532:65532", user)
	}
	pid := mustPodman(t, "inspect", "--format", "{{.State.Pid}}", name)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if uid := regexp.MustCompile(`(?m)^Uid:\s+(.*)$`).FindStringSubmatch(string(status)); uid == nil || strings.Join(strings.Fields(uid[1]), " ") != "65532 65532 65532 65532" {
		t.Errorf("the process runs as uid %v, want 65532 throughout", uid)
	}

	waitStatus(t, "http://"+admin+"/readyz", http.StatusOK)
	if out, err := podman(t.Context(), "healthcheck", "run", name); err != nil {
		t.Errorf("the image's healthcheck: %v %s", err, out)
	}

	// A SOAP request with a body well past the peek limit arrives whole.
	body := []byte(`<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ussd><sessionId>img-1</sessionId><pad>`)
	filler := make([]byte, 300<<10)
	rand.Read(filler)
	body = append(body, hex.EncodeToString(filler)...)
	body = append(body, `</pad></ussd></soap:Body></soap:Envelope>`...)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/ussd", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"ussd"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(body)
	if r := <-got; resp.StatusCode != http.StatusOK || r.sha != hex.EncodeToString(sum[:]) || r.n != int64(len(body)) {
		t.Errorf("status %d; the backend received %d bytes (sha256 %s), want %d (%x)", resp.StatusCode, r.n, r.sha, len(body), sum)
	}

	// podman stop: the request in flight finishes, then peekroute exits 0.
	inFlight := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/slow", "text/xml", strings.NewReader("<sessionId>img-2</sessionId>"))
		if err != nil {
			inFlight <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inFlight <- resp.StatusCode
	}()
	<-arrived
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := podman(ctx, "stop", "--time", "30", name)
		stopped <- err
	}()
	waitLog(t, logs, "shutting down: no longer accepting, finishing requests in flight")
	close(release)
	if status := <-inFlight; status != http.StatusOK {
		t.Errorf("the request in flight at stop got %d, want 200", status)
	}
	<-got
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "shut down")
	if code := mustPodman(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit status %s after podman stop, want 0", code)
	}
}
