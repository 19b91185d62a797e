package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// drainLimit caps how much of a check response's body is read before the
// connection is closed.
const drainLimit = 64 << 10

// prober runs one check against a target.
type prober struct {
	path   *url.URL // nil: TCP checks
	client *http.Client
	dialer net.Dialer
}

func newProber(path *url.URL, transport http.RoundTripper) *prober {
	if transport == nil {
		own := http.DefaultTransport.(*http.Transport).Clone()
		// A check abandoned while dialing must not leave the connection
		// idle in the pool.
		own.DisableKeepAlives = true
		transport = own
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &prober{path: path, client: client}
}

// check runs one check of t, bounded by ctx.
func (p *prober) check(ctx context.Context, t Target) error {
	if p.path == nil {
		return p.checkTCP(ctx, t)
	}
	return p.checkHTTP(ctx, t)
}

func (p *prober) checkTCP(ctx context.Context, t Target) error {
	conn, err := p.dialer.DialContext(ctx, "tcp", t.hostPort())
	if err != nil {
		return fmt.Errorf("tcp check: %w", err)
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("tcp check: closing: %w", err)
	}
	return nil
}

func (p *prober) checkHTTP(ctx context.Context, t Target) error {
	target := t.checkURL(p.path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return fmt.Errorf("http check: %w", err)
	}
	// Every check opens a fresh connection, so it tests that the backend
	// still accepts them and leaves nothing idle behind.
	req.Close = true
	req.Header.Set("User-Agent", "peekroute-health")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("http check: %w", err)
	}
	_, drainErr := io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("http check: GET %s: %s", target.Redacted(), resp.Status)
	}
	if drainErr != nil {
		return fmt.Errorf("http check: GET %s: reading body: %w", target.Redacted(), drainErr)
	}
	return nil
}
