// Package router is peekroute's HTTP front: it peeks each request's body for
// its key, picks the key's owner on the current ring of healthy backends and
// forwards the peeked bytes followed by the rest of the stream, unchanged.
//
// router composes the other packages: extract finds the key, hashring names
// the owner, and the health checker (through SetHealthy and ReportFailure
// hooks wired by main) decides which backends are in the ring. The data path
// that carries a request to its backend sits behind the small Forwarder
// interface, so the engine can change without touching routing.
//
// router must never keep per-key or per-client state: where a request goes is
// a pure function of its key and the healthy set, so every replica agrees.
package router
