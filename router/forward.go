package router

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// Forwarder is the data path: it carries one request to the backend the
// router chose and relays the backend's response to the client.
type Forwarder interface {
	// Forward sends req to b and writes the response to w. req.Body is the
	// body to send. It returns nil once a response has reached w, however
	// the relay of its body ended, and otherwise the error that kept any
	// response from being written, so the caller can answer or retry.
	Forward(w http.ResponseWriter, req *http.Request, b *Backend) error
}

// TransportConfig tunes the connections to backends.
type TransportConfig struct {
	DialTimeout           time.Duration // zero: no limit beyond the OS's
	ResponseHeaderTimeout time.Duration // zero: wait as long as the client does
	MaxIdleConnsPerHost   int           // idle keep-alive connections kept per backend
	IdleConnTimeout       time.Duration
	TLS                   *tls.Config // for https:// backends; nil: system roots
}

// NewTransport returns an http.Transport for backends: no proxy from the
// environment, no transparent compression (bodies pass through untouched),
// and an idle pool sized for the expected concurrency.
func NewTransport(cfg TransportConfig) *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   cfg.DialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		TLSClientConfig:       cfg.TLS,
	}
}

// NewProxyForwarder returns a Forwarder built on httputil.ReverseProxy over
// transport. The outbound request keeps the client's Host header (as
// HAProxy and Traefik do by default) and gains X-Forwarded-For, -Host and
// -Proto; hop-by-hop headers are dropped as RFC 9110 requires.
func NewProxyForwarder(transport http.RoundTripper) Forwarder {
	f := &proxyForwarder{}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    transport,
		BufferPool:   newCopyBufferPool(32<<10, 1024),
		ErrorHandler: recordError,
		// Errors reach the router through Forward's result; the proxy
		// itself has nothing more to say.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return f
}

type proxyForwarder struct {
	proxy *httputil.ReverseProxy
}

// attempt carries one forwarding attempt through the proxy's hooks, which
// only see the request.
type attempt struct {
	backend *Backend
	err     error
}

type attemptKey struct{}

func (f *proxyForwarder) Forward(w http.ResponseWriter, req *http.Request, b *Backend) error {
	a := &attempt{backend: b}
	f.proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), attemptKey{}, a)))
	return a.err
}

func rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(attemptKey{}).(*attempt)
	pr.SetURL(a.backend.URL)
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	if pr.In.TLS == nil && connIsTLS(pr.In.Context()) {
		// The framing guard sits between TLS and net/http, which
		// therefore cannot tell the connection was encrypted.
		pr.Out.Header.Set("X-Forwarded-Proto", "https")
	}
}

// recordError is called by the proxy before it has written anything to the
// client; the router decides what the client sees.
func recordError(_ http.ResponseWriter, req *http.Request, err error) {
	req.Context().Value(attemptKey{}).(*attempt).err = err
}

// copyBufferPool lends the proxy its response copy buffers. It is a free
// list rather than a sync.Pool, whose Put would box every slice it is given.
type copyBufferPool struct {
	size int
	free chan []byte
}

func newCopyBufferPool(size, keep int) *copyBufferPool {
	return &copyBufferPool{size: size, free: make(chan []byte, keep)}
}

func (p *copyBufferPool) Get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, p.size)
	}
}

func (p *copyBufferPool) Put(b []byte) {
	select {
	case p.free <- b[:cap(b)]:
	default: // the list is full: let the collector have it
	}
}
