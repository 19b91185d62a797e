package router

import (
	"encoding/xml"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// soapVersion is the SOAP version a client spoke, judged from its headers.
type soapVersion uint8

const (
	notSOAP soapVersion = iota
	soap11
	soap12
)

// soapVersionOf reports which SOAP version r uses: SOAP 1.1 is text/xml with
// a SOAPAction header, SOAP 1.2 is application/soap+xml.
func soapVersionOf(r *http.Request) soapVersion {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/soap+xml":
		return soap12
	case mt == "text/xml" && r.Header["Soapaction"] != nil:
		return soap11
	}
	return notSOAP
}

// writeError answers r with status and a short message, as a SOAP Fault of
// the client's SOAP version when it spoke SOAP, else as plain text.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	var body, ctype string
	switch soapVersionOf(r) {
	case soap11:
		body, ctype = soap11Fault(status, msg), "text/xml; charset=utf-8"
	case soap12:
		body, ctype = soap12Fault(status, msg), "application/soap+xml; charset=utf-8"
	default:
		body, ctype = "peekroute: "+msg+"\n", "text/plain; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
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
