package router_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/peekroute/peekroute/router"
)

// sourceCase builds a request that carries key where its source looks.
type sourceCase struct {
	spec  string
	build func(url, key string) *http.Request
	token bool // keys must be cookie-safe tokens
}

func request(method, url, ctype string, body []byte) *http.Request {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func jsonBody(key string) []byte {
	quoted, _ := json.Marshal(key)
	return []byte(`{"note":"session.id is not this","items":[1,2],"session":{"id":` + string(quoted) + `,"lang":"en"}}`)
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

var sourceCases = []sourceCase{
	{"header:X-Session-Id", func(u, key string) *http.Request {
		req := request("POST", u, "text/plain", []byte("no key in here"))
		req.Header.Set("X-Session-Id", key)
		return req
	}, false},
	{"query:session", func(u, key string) *http.Request {
		return request("POST", u+"/ussd?lang=en&session="+url.QueryEscape(key), "text/plain", []byte("body"))
	}, false},
	{"cookie:sid", func(u, key string) *http.Request {
		req := request("GET", u, "", nil)
		req.AddCookie(&http.Cookie{Name: "sid", Value: key})
		return req
	}, true},
	{"xml:sessionId", func(u, key string) *http.Request {
		return request("POST", u, "text/xml", envelope(xmlEscape(key), 100, 100))
	}, false},
	{"xml:{urn:ussd}sessionId", func(u, key string) *http.Request {
		body := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="urn:other"><s:Body>` +
			`<u:sessionId>decoy</u:sessionId><m:req xmlns:m="urn:ussd"><m:sessionId>` + xmlEscape(key) + `</m:sessionId></m:req></s:Body></s:Envelope>`
		return request("POST", u, "application/soap+xml", []byte(body))
	}, false},
	{"json:session.id", func(u, key string) *http.Request {
		return request("POST", u, "application/json; charset=utf-8", jsonBody(key))
	}, false},
	{"form:sessionId", func(u, key string) *http.Request {
		body := "msisdn=%2B254700000000&sessionId=" + url.QueryEscape(key) + "&text=hello+world"
		return request("POST", u, "application/x-www-form-urlencoded", []byte(body))
	}, false},
	{`regex:<sid>([^<]+)</sid>`, func(u, key string) *http.Request {
		return request("POST", u, "text/plain", []byte("<msg><sid>"+key+"</sid></msg>"))
	}, false},
	{"json:session.id", func(u, key string) *http.Request { // gzip: looked at decoded, forwarded as sent
		req := request("POST", u, "application/json", gzipped(jsonBody(key)))
		req.Header.Set("Content-Encoding", "gzip")
		return req
	}, false},
}

func TestEverySourceRoutesSticky(t *testing.T) {
	for i, sc := range sourceCases {
		t.Run(fmt.Sprintf("%d %s", i, sc.spec), func(t *testing.T) {
			bs := startBackends(t, 3)
			rt, u := startRouter(t, bs.backends, withPolicy(router.Reject), withKey(sc.spec))
			used := map[string]bool{}
			for k := range 20 {
				key := fmt.Sprintf("key %d+é&", k) // needs escaping in every syntax
				if sc.token {
					key = fmt.Sprintf("key-%d", k)
				}
				_, owner, _ := rt.Owner([]byte(key))
				for range 3 {
					req := sc.build(u, key)
					sent := bodyOf(t, req)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Backend") != bs.nameOf(owner) {
						t.Fatalf("key %q: status %d from %s, want 200 from its owner %s", key, resp.StatusCode, resp.Header.Get("X-Backend"), bs.nameOf(owner))
					}
					got := bs.received()
					if last := got[len(got)-1]; last.sha != sha(sent) {
						t.Fatalf("key %q: the body changed on the way", key)
					}
				}
				used[bs.nameOf(owner)] = true
			}
			if len(used) < 2 {
				t.Errorf("20 keys all went to %v", used)
			}
		})
	}
}

func withKey(spec string) routerOpt { return func(c *testConfig) { c.router.Key = sources(spec) } }

// bodyOf returns the request's body bytes and puts them back.
func bodyOf(t *testing.T, req *http.Request) []byte {
	t.Helper()
	if req.Body == nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	return b
}

// In a chain the first source with a key wins; a body source before a
// header beats it, a header before a body source is used without reading
// the body.
func TestSourceChains(t *testing.T) {
	bs := startBackends(t, 3)
	// Keys whose owners differ, so the winner shows in where they go.
	headerKey, bodyKey := distinctOwners(t, bs)
	tests := []struct {
		spec       string
		withHeader bool
		ctype      string
		want       string // the key that must decide
	}{
		{"header:X-Session-Id,json:session.id", true, "application/json", headerKey},
		{"header:X-Session-Id,json:session.id", false, "application/json", bodyKey},
		{"json:session.id,header:X-Session-Id", true, "application/json", bodyKey},
		{"json:session.id,header:X-Session-Id", true, "text/plain", headerKey}, // JSON source ignores a non-JSON body
		{"json:session.id", false, "text/plain", ""},                           // finds nothing: rejected
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s header=%v %s", tt.spec, tt.withHeader, tt.ctype), func(t *testing.T) {
			rt, u := startRouter(t, bs.backends, withKey(tt.spec), withPolicy(router.Reject))
			req := request("POST", u, tt.ctype, jsonBody(bodyKey))
			if tt.withHeader {
				req.Header.Set("X-Session-Id", headerKey)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if tt.want == "" {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("status %d, want 400 for a missing key", resp.StatusCode)
				}
				return
			}
			_, owner, _ := rt.Owner([]byte(tt.want))
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Backend") != bs.nameOf(owner) {
				t.Errorf("went to %s (%d); the key %q belongs to %s", resp.Header.Get("X-Backend"), resp.StatusCode, tt.want, bs.nameOf(owner))
			}
		})
	}
}

func distinctOwners(t *testing.T, bs *backendSet) (string, string) {
	t.Helper()
	rt := newRouterFor(t, []string{bs.backends[0].Name, bs.backends[1].Name, bs.backends[2].Name})
	_, first, _ := rt.Owner([]byte("header-key"))
	for i := range 1000 {
		k := fmt.Sprintf("body-key-%d", i)
		if _, b, _ := rt.Owner([]byte(k)); b.Name != first.Name {
			return "header-key", k
		}
	}
	t.Fatal("no two keys with different owners")
	return "", ""
}

// A header source never reads the body: a body that is still being sent
// does not hold the request back.
func TestHeaderSourceDoesNotReadBody(t *testing.T) {
	bs := startBackends(t, 1)
	_, u := startRouter(t, bs.backends, withKey("header:X-Session-Id"))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", u, pr)
	req.Header.Set("X-Session-Id", "h-1")
	req.Header.Set("X-Test-Key", "h-1")
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	arrival := <-bs.arrivals // the backend has the request before the body is complete
	io.WriteString(pw, strings.Repeat("x", 1000))
	pw.Close()
	if r := <-arrival; r.length != 1000 {
		t.Errorf("backend read %d bytes", r.length)
	}
	if resp := <-done; resp != nil {
		resp.Body.Close()
	}
}
