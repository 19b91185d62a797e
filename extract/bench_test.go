package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// jsonBody builds a JSON request of about size bytes with the key at
// session.id, first or last.
func jsonBody(size int, keyAtEnd bool) []byte {
	const key = `"session":{"id":"a1b2c3d4-e5f6"}`
	var b strings.Builder
	b.WriteString("{")
	if !keyAtEnd {
		b.WriteString(key + ",")
	}
	b.WriteString(`"lines":[`)
	tail := "]}"
	if keyAtEnd {
		tail = "]," + key + "}"
	}
	for i := 0; b.Len()+len(tail) < size; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"n":%d,"sku":"SKU-%05d","qty":%d,"price":%d.%02d,"note":"item \"%d\" \u00e9","gift":false}`, i, i*7, i%9, i, i%100, i)
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// stdJSONFind is the encoding/json way: decode into an any and walk.
func stdJSONFind(doc []byte) string {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return ""
	}
	m, _ := v.(map[string]any)
	s, _ := m["session"].(map[string]any)
	id, _ := s["id"].(string)
	return id
}

func BenchmarkJSON(b *testing.B) {
	for _, sz := range benchSizes {
		for _, at := range []string{"start", "end"} {
			doc := jsonBody(sz.size, at == "end")
			want := "a1b2c3d4-e5f6"
			if got := stdJSONFind(doc); got != want {
				b.Fatalf("encoding/json finds %q", got)
			}
			name := sz.name + "/" + at
			b.Run(name+"/scanner", func(b *testing.B) {
				benchScanner(b, newJSON("session.id"), doc, want)
			})
			b.Run(name+"/encoding-json", func(b *testing.B) {
				b.SetBytes(int64(len(doc)))
				b.ReportAllocs()
				for b.Loop() {
					if stdJSONFind(doc) == "" {
						b.Fatal("no key")
					}
				}
			})
		}
	}
}

// formBody builds a form of about size bytes with the key sid first or
// last.
func formBody(size int, keyAtEnd bool) []byte {
	const key = "sid=a1b2c3d4-e5f6"
	var b strings.Builder
	if !keyAtEnd {
		b.WriteString(key)
	}
	for i := 0; b.Len()+len(key)+1 < size; i++ {
		if b.Len() > 0 {
			b.WriteString("&")
		}
		fmt.Fprintf(&b, "line%d=SKU-%05d+x%%2F%d", i, i*7, i%9)
	}
	if keyAtEnd {
		b.WriteString("&" + key)
	}
	return []byte(b.String())
}

func BenchmarkForm(b *testing.B) {
	for _, sz := range benchSizes {
		for _, at := range []string{"start", "end"} {
			doc := formBody(sz.size, at == "end")
			want := "a1b2c3d4-e5f6"
			name := sz.name + "/" + at
			b.Run(name+"/scanner", func(b *testing.B) {
				benchScanner(b, newForm("sid"), doc, want)
			})
			b.Run(name+"/net-url", func(b *testing.B) {
				b.SetBytes(int64(len(doc)))
				b.ReportAllocs()
				for b.Loop() {
					v, _ := url.ParseQuery(string(doc))
					if v.Get("sid") != want {
						b.Fatal("no key")
					}
				}
			})
		}
	}
}
