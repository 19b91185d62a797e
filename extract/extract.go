// Package extract finds a routing key near the start of a byte stream
// without reading past a fixed limit.
//
// It owns the streaming scanners, one per key syntax (an XML element, a
// JSON path, a form field, a regular expression); the Chain that runs the
// scanners of several key sources over one pass of a body; the drivers
// that feed a scanner a bounded window of a stream (Peek, and PeekDecoded
// for gzip and deflate bodies); and the parsing of key-source lists
// (ParseSources). A scanner sees a window that only ever grows: every call
// passes all bytes read so far, the old ones unchanged, and the scanner
// resumes where it stopped, so no byte is examined twice and nothing is
// copied per byte.
//
// The scanners themselves are not exported: a caller names what it looks
// for as Sources and scans with the Chain that NewChain makes of them, which
// checks every name first. Scanner is exported so that the drivers take any
// scanner, a Chain or the caller's own.
//
// extract must never know about HTTP, routing or backends: it turns bytes into
// a key and nothing more. Header, query and cookie sources are only parsed
// here, for the caller to look up; media types and content codings arrive
// as plain strings. Callers decide what a key means.
package extract

// Result is the state of a scan.
type Result uint8

const (
	// NeedMore means the key may still appear in bytes not yet seen.
	NeedMore Result = iota
	// Found means the key is complete; more bytes cannot change it.
	Found
	// NotFound means the key cannot appear in this stream: it ended, or
	// the window reached its limit, or the document rules a match out.
	NotFound
)

func (r Result) String() string {
	switch r {
	case NeedMore:
		return "need-more"
	case Found:
		return "found"
	case NotFound:
		return "not-found"
	}
	return "invalid"
}

// Scanner looks for one key in a growing window of a stream.
//
// Scan is called with every byte read so far; between calls the window only
// grows and the bytes already passed never change. final reports that no more
// bytes will come (the stream ended or the window is at its limit), so a
// scanner must then answer Found or NotFound. The returned key is valid until
// the next call to Scan or Reset and must not be retained.
//
// Once Scan has returned Found or NotFound, later calls return the same answer.
type Scanner interface {
	Scan(window []byte, final bool) (key []byte, res Result)
	// Reset readies the scanner for a new stream, keeping its buffers.
	Reset()
}
