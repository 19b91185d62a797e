package extract

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

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
	const want = "a1b2c3d4-e5f6"
	benchDocs(formBody, func(name string, doc []byte) {
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
	})
}
