package router

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/peekroute/peekroute/extract"
)

// keyFinder finds a request's key from an ordered list of sources: the
// first source that yields a non-empty key wins. Header, query and cookie
// sources cost no body read; body sources share one peek of the body.
type keyFinder struct {
	sources []extract.Source
	labels  []string // each source as written, for logs and metrics
	names   []string // header sources' names in canonical form
	body    bool     // some source reads the body
	typed   bool     // some body source looks only at certain media types
	chains  sync.Pool
}

func newKeyFinder(sources []extract.Source) (*keyFinder, error) {
	if len(sources) == 0 {
		return nil, errors.New("no key source")
	}
	kf := &keyFinder{sources: sources, labels: make([]string, len(sources)), names: make([]string, len(sources))}
	for i, s := range sources {
		kf.labels[i] = s.String()
		if s.Kind == extract.Header {
			kf.names[i] = textproto.CanonicalMIMEHeaderKey(s.Name)
		}
		kf.body = kf.body || s.FromBody()
		kf.typed = kf.typed || (s.FromBody() && !s.Accepts(""))
	}
	// Build one chain now so that a bad source fails here, not per request.
	first, err := extract.NewChain(sources)
	if err != nil {
		return nil, err
	}
	kf.chains.Put(first)
	kf.chains.New = func() any {
		c, _ := extract.NewChain(sources) // the same sources built once already
		return c
	}
	return kf, nil
}

// plainKey returns the index of the first header, query or cookie source
// with a non-empty value in r, and that value; -1 when there is none.
func (kf *keyFinder) plainKey(r *http.Request) (int, string) {
	for i, s := range kf.sources {
		var v string
		switch s.Kind {
		case extract.Header:
			if vs := r.Header[kf.names[i]]; len(vs) > 0 {
				v = vs[0]
			}
		case extract.Query:
			v = queryValue(r.URL.RawQuery, s.Name)
		case extract.Cookie:
			if c, err := r.Cookie(s.Name); err == nil {
				v = c.Value
			}
		}
		if v != "" {
			return i, v
		}
	}
	return -1, ""
}

// queryValue returns the first value of name in a raw query string, like
// url.Values.Get but without building the whole map.
func queryValue(raw, name string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != name {
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			return uv
		}
	}
	return ""
}

// keyResult is where a request's key came from.
type keyResult struct {
	partition int
	found     bool
	source    int // index into the sources; -1 when none gave a key
}

// peekKey finds the key of r: from a header, query or cookie source when
// one comes first in the list, else by reading the body into buf until a
// body source decides, the body ends or buf is full, within the peek
// timeout. It records what it read and found in w.
func (rt *Router) peekKey(w *exchange, r *http.Request, body io.Reader, buf *peekBuf) (keyResult, error) {
	kf := rt.keys
	plain, plainKey := kf.plainKey(r)
	if kf.body && plain != 0 {
		c := kf.chains.Get().(*extract.Chain)
		defer kf.chains.Put(c)
		c.Reset()
		if plain > 0 {
			c.Limit(plain) // only sources before the plain one can beat it
		}
		if kf.typed {
			c.Accept(mediaType(r))
		}
		if c.Active() {
			var decoded *peekBuf // holds a decoded key until it is hashed
			defer func() {
				if decoded != nil {
					decoded.release()
				}
			}()
			key, err := rt.scanBody(w, r, body, buf, &decoded, c)
			if err != nil {
				return keyResult{source: -1}, err
			}
			if key != nil {
				return rt.foundKey(w, c.Winner(), key), nil
			}
		}
	}
	if plain >= 0 {
		return rt.foundKey(w, plain, []byte(plainKey)), nil
	}
	return keyResult{source: -1}, nil
}

// scanBody runs c over the body and returns the key it found, or nil. A
// body with a content coding is decoded for looking into *decoded, which
// the caller releases; the bytes as sent stay in buf for the backend.
func (rt *Router) scanBody(w *exchange, r *http.Request, body io.Reader, buf *peekBuf, decoded **peekBuf, c *extract.Chain) ([]byte, error) {
	var rc *http.ResponseController
	if rt.cfg.PeekTimeout > 0 {
		rc = http.NewResponseController(w)
		// An error means the connection has no read deadline to set;
		// then the server's own timeouts apply.
		_ = rc.SetReadDeadline(time.Now().Add(rt.cfg.PeekTimeout))
	}
	var (
		n   int
		key []byte
		res extract.Result
		eof bool
		err error
	)
	if enc := r.Header.Get("Content-Encoding"); enc == "" {
		n, key, res, eof, err = extract.Peek(body, buf.b, c)
	} else {
		*decoded = rt.decoded.get()
		n, key, res, eof, err = extract.PeekDecoded(body, buf.b, (*decoded).b, enc, c)
		if errors.Is(err, extract.ErrUnsupportedEncoding) {
			// Nothing was read: the body goes on as it is, keyless.
			return nil, nil
		}
	}
	buf.n, buf.eof = n, eof
	w.peeked, w.bytesIn = n, int64(n)
	if err != nil {
		// The deadline stays: the connection is closed after the answer.
		return nil, err
	}
	if rc != nil {
		// The rest of the body streams at the client's pace.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if res != extract.Found || len(key) == 0 {
		return nil, nil
	}
	return key, nil
}

// foundKey records that source i gave key and returns its partition.
func (rt *Router) foundKey(w *exchange, i int, key []byte) keyResult {
	w.keySource = rt.keys.labels[i]
	if rt.cfg.AccessLog {
		w.keyHash = xxhash.Sum64(key)
		if rt.cfg.LogKeys {
			w.key = string(key)
		}
	}
	return keyResult{partition: rt.table.Load().ring.Partition(key), found: true, source: i}
}

// mediaType returns r's content type, lower-cased, without parameters.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}
