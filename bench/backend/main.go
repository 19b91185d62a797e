// Command backend is the upstream service of the peekroute benchmark: it
// reads the whole request body and answers 200 with its own name, so that a
// client can tell which backend served it.
//
// Every response carries the header X-Backend with the name and the same name
// as its body. A request with the header X-Want-Sha256: 1 also gets
// X-Body-Sha256 (hex) and X-Body-Bytes, computed over the body as received,
// so a client can check that a proxy forwarded it byte for byte.
//
// Usage:
//
//	backend -addr 127.0.0.1:0 -name b1   serve; print the address once listening
//	backend -free-ports 2                print two free 127.0.0.1 ports and exit
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address; port 0 picks a free port")
	name := flag.String("name", "backend", "name reported in X-Backend and the response body")
	freePorts := flag.Int("free-ports", 0, "print this many free 127.0.0.1 TCP ports, one per line, and exit")
	flag.Parse()

	if *freePorts > 0 {
		if err := printFreePorts(os.Stdout, *freePorts); err != nil {
			log.Fatal(err)
		}
		return
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The bench script waits for this line to learn the port.
	fmt.Println(ln.Addr().String())

	srv := &http.Server{
		Handler:           handler(*name),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Fatal(srv.Serve(ln))
}

func handler(name string) http.Handler {
	nameBody := []byte(name + "\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sum hash.Hash
		var sink io.Writer = io.Discard
		if r.Header.Get("X-Want-Sha256") == "1" {
			sum = sha256.New()
			sink = sum
		}
		n, err := io.Copy(sink, r.Body)
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("X-Backend", name)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		body := nameBody
		if sum != nil {
			digest := hex.EncodeToString(sum.Sum(nil))
			h.Set("X-Body-Sha256", digest)
			h.Set("X-Body-Bytes", strconv.FormatInt(n, 10))
			body = []byte(name + "\n" + digest + "\n")
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

// printFreePorts holds n listeners open at once, so the ports differ, and
// prints their ports. Another process may still take a port before the
// caller binds it; the bench script lives with that small race.
func printFreePorts(w io.Writer, n int) error {
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		fmt.Fprintln(w, ln.Addr().(*net.TCPAddr).Port)
	}
	return nil
}
