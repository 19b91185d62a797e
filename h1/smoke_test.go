package h1

import "testing"

func TestSmoke(t *testing.T) {
	buf := []byte("POST /svc?a=1 HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\nNEXT")
	end, _ := HeadEnd(buf, 0)
	var r Request
	if err := r.Parse(buf[:end], Limits{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s %d host=%s chunked=%v cl=%d close=%v", r.Method, r.Target, r.Minor, r.Host, r.Chunked, r.ContentLength, r.Close)
	for _, f := range r.Fields {
		t.Logf("%s: %s hop=%v", f.Name, f.Value, f.Hop)
	}
	var c Chunked
	p := buf[end:]
	var body []byte
	for {
		n, data, done, err := c.Next(p)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, data...)
		p = p[n:]
		if done {
			break
		}
	}
	if string(body) != "hello" || string(p) != "NEXT" {
		t.Fatalf("body %q rest %q", body, p)
	}
}
