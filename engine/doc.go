// Package engine is peekroute's HTTP/1.1 data path. It owns every client
// connection from accept to close: it reads each request head once (parsed
// by package h1), lets a Policy choose the backend — reading the start of
// the body for it when the policy asks — writes the request head and the
// bytes read so far to a pooled backend connection in one write, streams
// the rest of the body, and relays the response back, byte for byte.
//
// It owns the client connection loop (keep-alive, pipelining, HTTP/1.0,
// Expect: 100-continue, protocol upgrades), the backend connection pools,
// the relays (splice(2) where both ends are plain TCP), the timeouts, the
// cap on client connections, graceful drain, the outbound header policy
// (hop-by-hop fields, X-Forwarded-*), the error answers it writes itself
// (plain text, or a SOAP Fault when the client spoke SOAP), and the
// judgement of whose fault a failure was: only a backend's own failures are
// reported against it.
//
// engine must never know about keys, rings or health: a Policy decides where
// a request goes and hears how it ended. It never parses HTTP itself; h1
// does, once per head.
package engine
