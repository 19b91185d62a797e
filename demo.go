package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
)

// demoKeys are the session ids the demo sends, each several times.
var demoKeys = []string{"ussd-1001", "ussd-1002", "ussd-1003", "ussd-1004", "ussd-1005", "ussd-1006"}

const demoRepeats = 3

// demo runs three backends on loopback and the router in front of them,
// shows that every key sticks to one backend, and serves until ctx ends.
func demo(ctx context.Context, environ []string, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	names := []string{"backend-a", "backend-b", "backend-c"}
	backends, err := startDemoBackends(ctx, names...)
	if err != nil {
		return err
	}
	ln, err := listenDemo(environ)
	if err != nil {
		return err
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return err
	}
	cfg, err := loadConfig([]string{
		"PEEKROUTE_BACKENDS=" + strings.Join(backends, ","),
		"PEEKROUTE_KEY=xml:sessionId",
		"PEEKROUTE_SHUTDOWN_DELAY=0s",
	})
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, logger, listeners{client: ln, admin: admin}) }()

	url := "http://" + ln.Addr().String() + "/ussd"
	err = waitReady(ctx, "http://"+admin.Addr().String()+"/readyz")
	if err == nil {
		err = showStickiness(ctx, stdout, url)
	}
	if err != nil {
		cancel()
		<-served
		return err
	}
	fmt.Fprintf(stdout, "\npeekroute is serving on %s (readiness: http://%s/readyz) in front of:\n", ln.Addr(), admin.Addr())
	for i, name := range names {
		fmt.Fprintf(stdout, "  %s  %s\n", name, backends[i])
	}
	fmt.Fprintf(stdout, "Status page: http://%s/\n", admin.Addr())
	fmt.Fprintf(stdout, "Try it:\n\n  %s\n\nCtrl-C to stop.\n", demoCurl(url, demoKeys[0]))
	return <-served
}

// listenDemo listens where PEEKROUTE_LISTEN_ADDR says, else on
// 127.0.0.1:8080, else on any free loopback port.
func listenDemo(environ []string) (net.Listener, error) {
	addr := "127.0.0.1:8080"
	if v := lookupEnv(environ, envPrefix+"LISTEN_ADDR"); v != "" {
		return net.Listen("tcp", v)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		return ln, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// startDemoBackends serves one backend per name on a free loopback port,
// each answering with its own name, until ctx ends. It returns their URLs.
func startDemoBackends(ctx context.Context, names ...string) ([]string, error) {
	urls := make([]string, 0, len(names))
	for _, name := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting demo backend: %w", err)
		}
		srv := &http.Server{Handler: demoBackend(name), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		context.AfterFunc(ctx, func() { srv.Close() })
		urls = append(urls, "http://"+ln.Addr().String())
	}
	return urls, nil
}

func demoBackend(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s received %d bytes\n", name, n)
	})
}

func demoEnvelope(key string) string {
	return `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Body><ussdRequest><sessionId>` + key + `</sessionId><msisdn>254700000000</msisdn>` +
		`<input>*144#</input></ussdRequest></soap:Body></soap:Envelope>`
}

func demoCurl(url, key string) string {
	return fmt.Sprintf(`curl -s -H 'Content-Type: text/xml' -H 'SOAPAction: "ussd"' --data '%s' %s`, demoEnvelope(key), url)
}

// waitReady polls readyz until it answers 200, as an orchestrator would.
func waitReady(ctx context.Context, readyz string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyz, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: peekroute did not become ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// showStickiness sends every demo key several times and prints which
// backend answered each.
func showStickiness(ctx context.Context, stdout io.Writer, url string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tBACKENDS (one per request)\tSTICKY")
	for _, key := range demoKeys {
		seen := make([]string, 0, demoRepeats)
		for range demoRepeats {
			who, err := demoRequest(ctx, client, url, key)
			if err != nil {
				return err
			}
			seen = append(seen, who)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", key, strings.Join(seen, " "), yesNo(allSame(seen)))
	}
	return tw.Flush()
}

func demoRequest(ctx context.Context, client *http.Client, url, key string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(demoEnvelope(key)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"ussd"`)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("demo request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("demo response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New("demo request: " + resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	who, _, _ := strings.Cut(string(body), " ")
	return who, nil
}

func allSame(s []string) bool {
	for _, v := range s {
		if v != s[0] {
			return false
		}
	}
	return true
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
