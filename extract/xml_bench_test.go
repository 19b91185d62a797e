package extract

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

// soapEnvelope builds a SOAP request of about size bytes with the session
// key in the header (near the start) or as the last element of the body.
func soapEnvelope(size int, keyAtEnd bool) []byte {
	const key = `<s:sessionId>a1b2c3d4-e5f6</s:sessionId>`
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:s="urn:session">` + "\n")
	b.WriteString("<soapenv:Header>")
	if !keyAtEnd {
		b.WriteString(key)
	}
	b.WriteString("</soapenv:Header>\n<soapenv:Body><s:order>\n")
	tail := "</s:order></soapenv:Body>\n</soapenv:Envelope>\n"
	if keyAtEnd {
		tail = key + tail
	}
	for i := 0; b.Len()+len(tail) < size; i++ {
		fmt.Fprintf(&b, `  <s:line n="%d" sku="SKU-%05d"><s:qty>%d</s:qty><s:note>item &amp; note</s:note></s:line>`+"\n", i, i*7, i%9)
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// stdXMLFind is the encoding/xml way to find the key: tokens up to the
// first element named local, then its character data.
func stdXMLFind(doc []byte, local string) []byte {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var text []byte
	inside := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if inside {
				return nil
			}
			inside = tok.Name.Local == local
		case xml.CharData:
			if inside {
				text = append(text, tok...)
			}
		case xml.EndElement:
			if inside {
				return bytes.Trim(text, " \t\n\r")
			}
		}
	}
}

func BenchmarkXML(b *testing.B) {
	const want = "a1b2c3d4-e5f6"
	benchDocs(soapEnvelope, func(name string, doc []byte) {
		if got := stdXMLFind(doc, "sessionId"); string(got) != want {
			b.Fatalf("encoding/xml finds %q", got)
		}
		b.Run(name+"/scanner", func(b *testing.B) {
			benchScanner(b, newXML("sessionId"), doc, want)
		})
		b.Run(name+"/scanner-ns", func(b *testing.B) {
			benchScanner(b, newXMLNS("urn:session", "sessionId"), doc, want)
		})
		b.Run(name+"/encoding-xml", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if stdXMLFind(doc, "sessionId") == nil {
					b.Fatal("no key")
				}
			}
		})
	})
}
