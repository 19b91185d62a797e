// Package h1 owns the HTTP/1.x wire format (RFC 9112): it finds where a
// message head ends, parses request and response heads once and strictly,
// records the framing facts a relay needs while it parses (Content-Length,
// chunked, close, upgrade, 100-continue, hop-by-hop fields), decides how a
// body is delimited, and follows the framing of a chunked body as its raw
// bytes go by.
//
// It works on byte slices only. Everything it returns points into the bytes
// it was given: it copies nothing and, once a Request's or Response's Fields
// slice has grown to fit, allocates nothing. It knows nothing of keys,
// routing, backends, connections or I/O; those belong to its callers.
//
// # Strictness
//
// Request smuggling and response splitting rest on two parsers disagreeing
// about where a message ends. This package therefore refuses every framing
// that another parser might read differently, rather than settling it
// silently: a bare LF or bare CR anywhere, obsolete line folding, whitespace
// before a field's colon, more than one Content-Length (even when equal) or a
// list in one, Content-Length together with Transfer-Encoding, any transfer
// coding other than a single "chunked", Transfer-Encoding on HTTP/1.0, a
// chunk size with a sign, a prefix, whitespace or more than 16 hex digits.
// Each refusal is an *Error whose Status is the answer to give: 400, 431,
// 501 or 505 for a request, and always 502 for a response from a backend.
//
// The rule this package keeps, and that its fuzz tests check against
// net/http, is one-sided: whatever it accepts, net/http accepts too and reads
// identically (same method, target, version, fields, body framing and body
// bytes, and the same place where the next message starts). It may refuse
// what net/http would accept; it never accepts what net/http would refuse.
package h1
