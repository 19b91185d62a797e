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
// Choices a caller should know:
//
//   - A Transfer-Encoding that names a coding other than chunked ("gzip",
//     "gzip, chunked", "chunked, identity") gets 501; any other malformed
//     or repeated Transfer-Encoding gets 400.
//   - A well-formed HTTP version other than 1.0 and 1.1 gets 505, and so
//     does the HTTP/2 connection preface (PRI * HTTP/2.0).
//   - More than Limits.MaxFields field lines get 431.
//   - Empty lines before a request line are not skipped: a head that starts
//     with CRLF is refused. A caller that wants RFC 9112 section 2.2's
//     tolerance strips them before calling HeadEnd.
//   - With an absolute-form target, Host must equal the target's authority
//     (ASCII case-insensitively): a router and a backend then see one
//     authority. HTTP/1.1 always needs exactly one Host, CONNECT included.
//   - A Trailer field may not announce Content-Length, Transfer-Encoding,
//     Trailer or Host, and a trailer section may not hold them.
//   - A 1xx or 204 response may carry neither Transfer-Encoding nor a
//     Content-Length other than 0: a body would follow that no peer reads.
//   - A chunk size takes no whitespace at all, not even before ";".
//   - Chunked reports a malformed body with Status 400, request or
//     response alike; a caller relaying a response answers 502.
//
// The rule this package keeps, and that its fuzz tests check against
// net/http, is one-sided: whatever it accepts, net/http accepts too and reads
// identically (same method, target, version, fields, body framing and body
// bytes, and the same place where the next message starts). It may refuse
// what net/http would accept; it never accepts what net/http would refuse.
package h1
