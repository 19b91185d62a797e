package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	const want = "a1b2c3d4-e5f6"
	benchDocs(jsonBody, func(name string, doc []byte) {
		if got := stdJSONFind(doc); got != want {
			b.Fatalf("encoding/json finds %q", got)
		}
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
	})
}
