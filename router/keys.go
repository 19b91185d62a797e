package router

import (
	"errors"
	"fmt"

	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/extract"
	"github.com/peekroute/peekroute/h1"
)

// keyFinder finds a request's key from an ordered list of sources: the
// first source that yields a non-empty key wins. Header, query and cookie
// sources cost no body read; body sources share one peek of the body.
type keyFinder struct {
	sources []extract.Source
	labels  []string // each source as written, for logs and metrics
	body    bool     // some source reads the body
	typed   bool     // some body source looks only at certain media types
	chains  chan *extract.Chain
	build   func() *extract.Chain
}

// checkNames refuses a header or cookie source whose name is not an RFC
// 9110 token, which no field or cookie name can be. extract parses sources
// without knowing HTTP; the router, which looks them up, knows it.
func checkNames(sources []extract.Source) error {
	for _, s := range sources {
		if s.Kind != extract.Header && s.Kind != extract.Cookie {
			continue
		}
		for i := range len(s.Name) {
			if !h1.IsToken(s.Name[i]) {
				return fmt.Errorf("key source %q: %q is not a valid %s name", s.String(), s.Name, s.Kind)
			}
		}
	}
	return nil
}

// newKeyFinder returns a finder for sources, which Config.Validate has
// checked.
func newKeyFinder(sources []extract.Source) (*keyFinder, error) {
	kf := &keyFinder{sources: sources, labels: make([]string, len(sources)), chains: make(chan *extract.Chain, 1024)}
	for i, s := range sources {
		kf.labels[i] = s.String()
		kf.body = kf.body || s.FromBody()
		kf.typed = kf.typed || (s.FromBody() && !s.Accepts(""))
	}
	// Build one chain now so that a bad source fails here, not per request.
	first, err := extract.NewChain(sources)
	if err != nil {
		return nil, err
	}
	kf.chains <- first
	kf.build = func() *extract.Chain {
		c, _ := extract.NewChain(sources) // the same sources built once already
		return c
	}
	return kf, nil
}

// chain takes a chain from the free list, or builds one.
func (kf *keyFinder) chain() *extract.Chain {
	select {
	case c := <-kf.chains:
		return c
	default:
		return kf.build()
	}
}

func (kf *keyFinder) release(c *extract.Chain) {
	select {
	case kf.chains <- c:
	default:
	}
}

// plainKey returns the index of the first header, query or cookie source
// with a non-empty value in req, and that value appended to dst; -1 when
// there is none.
func (kf *keyFinder) plainKey(req *h1.Request, dst []byte) (int, []byte) {
	for i, s := range kf.sources {
		var v []byte
		switch s.Kind {
		case extract.Header:
			v = req.Field(s.Name)
		case extract.Query:
			v, _ = h1.AppendQueryValue(dst[:0], req.Target, s.Name)
		case extract.Cookie:
			v = cookieValue(req, s.Name, dst[:0])
		}
		if len(v) > 0 {
			return i, v
		}
	}
	return -1, nil
}

// cookieValue returns the named cookie from the request's Cookie fields.
func cookieValue(req *h1.Request, name string, dst []byte) []byte {
	for i := range req.Fields {
		f := &req.Fields[i]
		if !asciiEqualFold(f.Name, "Cookie") {
			continue
		}
		if v, ok := h1.AppendCookieValue(dst, f.Value, name); ok {
			return v
		}
	}
	return nil
}

// keyResult is where a request's key came from.
type keyResult struct {
	partition int
	found     bool
	source    int // index into the sources; -1 when none gave a key
}

// findKey finds the key of x: from a header, query or cookie source when
// one comes first in the list, else by peeking into the body until a body
// source decides, the body ends or the window is full.
func (rt *Router) findKey(x *engine.Exchange, st *routeState) (keyResult, error) {
	kf := rt.keys
	var scratch [128]byte
	plain, plainKey := kf.plainKey(x.Req, scratch[:0])
	if kf.body && plain != 0 && x.Req.HasBody() {
		c := kf.chain()
		defer kf.release(c)
		c.Reset()
		if plain > 0 {
			c.Limit(plain) // only sources before the plain one can beat it
		}
		if kf.typed {
			c.Accept(mediaType(x.Req.Field("Content-Type")))
		}
		if c.Active() {
			w := rt.windows.get()
			defer rt.windows.put(w)
			var dec *window // holds a decoded key until it is hashed
			defer func() {
				if dec != nil {
					rt.decoded.put(dec)
				}
			}()
			key, err := rt.scanBody(x, st, c, w, &dec)
			if err != nil {
				return keyResult{source: -1}, err
			}
			if key != nil {
				return rt.foundKey(st, c.Winner(), key), nil
			}
		}
	}
	if plain >= 0 {
		return rt.foundKey(st, plain, plainKey), nil
	}
	return keyResult{source: -1}, nil
}

// scanBody runs c over the body, reading it into w, and returns the key
// it found, or nil; the key may alias w. A body with a content coding is
// decoded for looking only, into *dec, which the caller gives back; the
// bytes as sent go to the backend.
func (rt *Router) scanBody(x *engine.Exchange, st *routeState, c *extract.Chain, w *window, dec **window) (key []byte, err error) {
	var (
		n   int
		res extract.Result
	)
	if enc := x.Req.Field("Content-Encoding"); len(enc) == 0 {
		n, key, res, _, err = extract.Peek(x.Body(), w.b, c)
	} else {
		*dec = rt.decoded.get()
		n, key, res, _, err = extract.PeekDecoded(x.Body(), w.b, (*dec).b, string(enc), c)
		if errors.Is(err, extract.ErrUnsupportedEncoding) {
			return nil, nil // nothing was read: the body goes on as it is, keyless
		}
	}
	st.peeked = n
	if errors.Is(err, engine.ErrPeekLimit) {
		err = nil // the engine holds no more of the body: the window ends here
	}
	if err != nil {
		return nil, err
	}
	if res != extract.Found || len(key) == 0 {
		return nil, nil
	}
	return key, nil
}

// mediaType returns a Content-Type's media type, lower-cased, without
// parameters; the common ones without allocating.
func mediaType(ct []byte) string {
	for _, mt := range commonMediaTypes {
		if h1.MediaTypeIs(ct, mt) {
			return mt
		}
	}
	end := 0
	for end < len(ct) && ct[end] != ';' {
		end++
	}
	b := make([]byte, 0, end)
	for _, c := range ct[:end] {
		if c == ' ' || c == '\t' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

var commonMediaTypes = []string{
	"text/xml", "application/soap+xml", "application/xml",
	"application/json", "application/x-www-form-urlencoded", "text/plain",
}

// asciiEqualFold reports whether b equals s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
