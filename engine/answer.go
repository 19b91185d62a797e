package engine

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/peekroute/peekroute/h1"
)

// The answers peekroute writes itself are short: one line of text, or a
// SOAP Fault of the version the client spoke — SOAP 1.1 is text/xml with a
// SOAPAction field, SOAP 1.2 is application/soap+xml — with a Client or
// Sender code below 500 and a Server or Receiver code from 500 on.

// soapVersion is the SOAP version a client spoke, judged from its fields.
type soapVersion uint8

const (
	notSOAP soapVersion = iota
	soap11
	soap12
)

func soapVersionOf(req *h1.Request) soapVersion {
	if req == nil {
		return notSOAP
	}
	ct := req.Field("Content-Type")
	switch {
	case h1.MediaTypeIs(ct, "application/soap+xml"):
		return soap12
	case h1.MediaTypeIs(ct, "text/xml") && req.Field("SOAPAction") != nil:
		return soap11
	}
	return notSOAP
}

// retryAfter is what a 503 tells clients to wait before trying again.
const retryAfter = "1"

// answer writes status with a short message to the client in place of a
// backend's response; with close it tells the client the connection ends.
// A write error is left for the connection to find.
func (c *clientConn) answer(status int, msg string, close bool) {
	c.x.Status = status
	var body, ctype string
	switch soapVersionOf(c.x.Req) {
	case soap11:
		body, ctype = soap11Fault(status, msg), "text/xml; charset=utf-8"
	case soap12:
		body, ctype = soap12Fault(status, msg), "application/soap+xml; charset=utf-8"
	default:
		body, ctype = "peekroute: "+msg+"\n", "text/plain; charset=utf-8"
	}
	out := c.s.bufs.heads.Get().(*buffer)
	b := append(out.b[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, ctype...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nX-Content-Type-Options: nosniff\r\n"...)
	if status == http.StatusServiceUnavailable {
		b = append(b, "Retry-After: "+retryAfter+"\r\n"...)
	}
	if close {
		b = append(b, "Connection: close\r\n"...)
	} else if c.x.Req != nil && c.x.Req.Minor == 0 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	if c.x.Req == nil || !c.x.Req.IsMethod("HEAD") {
		b = append(b, body...)
	}
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.nc.Write(b)
	c.nc.SetWriteDeadline(time.Time{})
	out.b = b
	c.s.bufs.putHead(out)
	c.linger = c.linger || close
}

func soap11Fault(status int, msg string) string {
	code := "soap:Server"
	if status < 500 {
		code = "soap:Client"
	}
	return `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>` +
		`<faultcode>` + code + `</faultcode><faultstring>` + escapeXML(msg) + `</faultstring>` +
		`</soap:Fault></soap:Body></soap:Envelope>`
}

func soap12Fault(status int, msg string) string {
	code := "env:Receiver"
	if status < 500 {
		code = "env:Sender"
	}
	return `<?xml version="1.0" encoding="utf-8"?>` +
		`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>` +
		`<env:Code><env:Value>` + code + `</env:Value></env:Code>` +
		`<env:Reason><env:Text xml:lang="en">` + escapeXML(msg) + `</env:Text></env:Reason>` +
		`</env:Fault></env:Body></env:Envelope>`
}

func escapeXML(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
