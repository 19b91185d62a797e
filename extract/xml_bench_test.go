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
				return trimSpace(text)
			}
		}
	}
}

var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

func BenchmarkXML(b *testing.B) {
	for _, sz := range benchSizes {
		for _, at := range []string{"start", "end"} {
			doc := soapEnvelope(sz.size, at == "end")
			want := "a1b2c3d4-e5f6"
			if got := stdXMLFind(doc, "sessionId"); string(got) != want {
				b.Fatalf("encoding/xml finds %q", got)
			}
			name := sz.name + "/" + at
			b.Run(name+"/scanner", func(b *testing.B) {
				benchScanner(b, NewXML("sessionId"), doc, want)
			})
			b.Run(name+"/scanner-ns", func(b *testing.B) {
				benchScanner(b, NewXMLNS("urn:session", "sessionId"), doc, want)
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
		}
	}
}

// benchScanner measures s over doc as the router runs it, a reused scanner
// seeing the body arrive in 4 KiB reads, but without the copy into the peek
// buffer, which the router pays whatever finds the key.
func benchScanner(b *testing.B, s Scanner, doc []byte, want string) {
	b.Helper()
	if key, _ := scanChunks(s, doc, 4<<10); string(key) != want {
		b.Fatalf("got key %q, want %q", key, want)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, res := scanChunks(s, doc, 4<<10); res != Found {
			b.Fatal("no key")
		}
	}
}

// scanChunks feeds doc to s in windows growing by chunk bytes.
func scanChunks(s Scanner, doc []byte, chunk int) ([]byte, Result) {
	s.Reset()
	for n := 0; ; {
		n = min(n+chunk, len(doc))
		key, res := s.Scan(doc[:n], n == len(doc))
		if res != NeedMore {
			return key, res
		}
	}
}
