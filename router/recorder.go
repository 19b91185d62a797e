package router

import (
	"net/http"
	"time"
)

// exchange is the router's record of one request: what it decided and what
// the client was sent. It wraps the client's ResponseWriter and unwraps for
// http.ResponseController, so flushing, hijacking and deadlines reach the
// server's writer. Exchanges are pooled.
type exchange struct {
	http.ResponseWriter
	start     time.Time
	status    int // 0 until a final (non-1xx) status is written
	bytesOut  int64
	bytesIn   int64    // body bytes read from the client
	peeked    int      // body bytes read while looking for the key
	backend   *Backend // where the request went last; nil if nowhere
	lookup    string   // the key look-up's result: found, missing, error
	keySource string   // the source that gave the key; "" if none did
	keyHash   uint64   // xxhash of the key, when found
	key       string   // the raw key, kept only when keys are logged
	retried   bool
}

func (ex *exchange) WriteHeader(code int) {
	if ex.status == 0 && code >= 200 {
		ex.status = code
	}
	ex.ResponseWriter.WriteHeader(code)
}

func (ex *exchange) Write(b []byte) (int, error) {
	if ex.status == 0 {
		ex.status = http.StatusOK
	}
	n, err := ex.ResponseWriter.Write(b)
	ex.bytesOut += int64(n)
	return n, err
}

func (ex *exchange) Unwrap() http.ResponseWriter { return ex.ResponseWriter }

// wroteHeader reports whether the client has been sent a final status.
func (ex *exchange) wroteHeader() bool { return ex.status != 0 }

// statusClientClosed stands for requests whose client left before any
// answer, as in nginx's logs.
const statusClientClosed = 499

// finalStatus is the status to report for the exchange.
func (ex *exchange) finalStatus() int {
	if ex.status == 0 {
		return statusClientClosed
	}
	return ex.status
}

func (ex *exchange) backendName() string {
	if ex.backend == nil {
		return "none"
	}
	return ex.backend.Name
}
