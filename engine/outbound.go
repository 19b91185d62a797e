package engine

// The outbound header policy, the one place where peekroute changes a
// message it forwards:
//
//   - Hop-by-hop fields (RFC 9110 §7.6.1: Connection and every field it
//     names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade,
//     Proxy-Authenticate, Proxy-Authorization) describe one connection and
//     are not passed on. What they said that still holds is written anew:
//     Transfer-Encoding: chunked for a chunked body (relayed as it came),
//     Connection: Upgrade with the Upgrade field for an upgrade, TE:
//     trailers when the client accepts trailers, and the connection's own
//     keep-alive or close.
//   - X-Forwarded-For gets the client's address appended to whatever the
//     client sent (folded into one field), as HAProxy's "option forwardfor"
//     and nginx's $proxy_add_x_forwarded_for do: the right-most address is
//     the one peekroute saw. X-Forwarded-Host (the request's Host) and
//     X-Forwarded-Proto (http or https, from the client connection) are
//     set by peekroute, replacing any the client sent. Forwarded is passed
//     on untouched.
//   - Everything else, Host included, is passed on as received, in order,
//     with the case of its name kept. A request-target in absolute form is
//     sent in origin form, after the backend's path prefix.
//   - A response is passed on as received unless it carries hop-by-hop
//     fields, comes as HTTP/1.0, or the client connection's keep-alive
//     must be stated; then its head is written anew under the same rules.

import (
	"bytes"
	"strconv"

	"github.com/peekroute/peekroute/h1"
)

// appendRequestHead appends the head sent to t for req. With continued, the
// engine has already told the client to continue, so Expect is dropped.
func appendRequestHead(dst []byte, req *h1.Request, t *Target, x *Exchange, continued bool) []byte {
	dst = append(dst, req.Method...)
	dst = append(dst, ' ')
	dst = appendTarget(dst, req.Target, t.PathPrefix)
	if req.Minor == 0 {
		dst = append(dst, " HTTP/1.0\r\n"...)
	} else {
		dst = append(dst, " HTTP/1.1\r\n"...)
	}
	var prior [][]byte // X-Forwarded-For values the client sent
	var priorOne [4][]byte
	prior = priorOne[:0]
	teTrailers := false
	for i := range req.Fields {
		f := &req.Fields[i]
		switch {
		case f.Hop:
			if equalFold(f.Name, "TE") && h1.HasToken(f.Value, "trailers") {
				teTrailers = true
			}
			continue
		case equalFold(f.Name, "X-Forwarded-For"):
			prior = append(prior, f.Value)
			continue
		case equalFold(f.Name, "X-Forwarded-Host"), equalFold(f.Name, "X-Forwarded-Proto"):
			continue
		case continued && equalFold(f.Name, "Expect"):
			continue
		}
		dst = appendField(dst, f.Name, f.Value)
	}
	if req.Chunked {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if teTrailers {
		dst = append(dst, "TE: trailers\r\n"...)
	}
	switch {
	case req.Upgrade:
		dst = append(dst, "Connection: Upgrade\r\nUpgrade: "...)
		dst = append(dst, req.Field("Upgrade")...)
		dst = append(dst, "\r\n"...)
	case req.Minor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = appendForwarded(dst, req, x, prior)
	return append(dst, "\r\n"...)
}

func appendForwarded(dst []byte, req *h1.Request, x *Exchange, prior [][]byte) []byte {
	if x.Remote.IsValid() || len(prior) > 0 {
		dst = append(dst, "X-Forwarded-For: "...)
		for i, v := range prior {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, v...)
		}
		if x.Remote.IsValid() {
			if len(prior) > 0 {
				dst = append(dst, ", "...)
			}
			dst = x.Remote.Addr().Unmap().AppendTo(dst)
		}
		dst = append(dst, "\r\n"...)
	}
	if req.Host != nil {
		dst = appendField(dst, []byte("X-Forwarded-Host"), req.Host)
	}
	if x.TLS {
		return append(dst, "X-Forwarded-Proto: https\r\n"...)
	}
	return append(dst, "X-Forwarded-Proto: http\r\n"...)
}

// appendTarget appends the request-target in origin form under prefix.
func appendTarget(dst, target []byte, prefix string) []byte {
	if len(target) > 0 && target[0] != '/' && target[0] != '*' {
		// absolute-form: scheme "://" authority [path-abempty] ["?" query]
		rest := target
		if i := bytes.Index(rest, []byte("://")); i >= 0 {
			rest = rest[i+3:]
		}
		if i := bytes.IndexAny(rest, "/?"); i >= 0 {
			rest = rest[i:]
		} else {
			rest = nil
		}
		target = rest
		if len(target) == 0 || target[0] == '?' {
			dst = append(dst, prefix...)
			dst = append(dst, '/')
			return append(dst, target...)
		}
	}
	if len(target) > 0 && target[0] == '/' {
		dst = append(dst, prefix...)
	}
	return append(dst, target...)
}

func appendField(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// hasHopFields reports whether a response head has a hop-by-hop field that
// must not be passed on: any but the Transfer-Encoding of a chunked body,
// which is relayed as it came.
func hasHopFields(fields []h1.Field) bool {
	for i := range fields {
		if fields[i].Hop && !equalFold(fields[i].Name, "Transfer-Encoding") {
			return true
		}
	}
	return false
}

// appendResponseHead appends resp's head as sent to a client speaking
// HTTP/1.clientMinor, stating the connection's fate.
func appendResponseHead(dst []byte, resp *h1.Response, clientMinor int, keep bool) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(resp.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, resp.Reason...)
	dst = append(dst, "\r\n"...)
	for i := range resp.Fields {
		if f := &resp.Fields[i]; !f.Hop {
			dst = appendField(dst, f.Name, f.Value)
		}
	}
	if resp.Chunked {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case !keep:
		dst = append(dst, "Connection: close\r\n"...)
	case clientMinor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// equalFold reports whether b equals the ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || (x|0x20) < 'a' || (x|0x20) > 'z' {
			return false
		}
	}
	return true
}
