// Package router decides where each request goes: it is the engine's
// Policy. It finds the request's key — from a header, query or cookie, or
// by peeking into the body through the engine with package extract — picks
// the key's owner on the current ring of healthy backends (package
// hashring), names the key's next owner when the owner cannot be reached,
// passes a backend's own failures on to passive health, and records every
// exchange in metrics and the access log.
//
// router parses no bytes of HTTP (package h1 has parsed the head; the
// engine frames the body) and touches no connection. It must never keep
// per-key or per-client state: where a request goes is a pure function of
// its key and the healthy set, so every replica agrees.
package router
