package main

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// parseDOM parses an HTML document as a browser would.
func parseDOM(t *testing.T, doc string) *html.Node {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// findAll returns the elements under n that match, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

// byID returns the element with id, or nil.
func byID(n *html.Node, id string) *html.Node {
	found := findAll(n, func(e *html.Node) bool { return attr(e, "id") == id })
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

func tag(name string) func(*html.Node) bool {
	return func(e *html.Node) bool { return e.Data == name }
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// textOf returns the text under n with runs of white space folded.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// backendRows maps each backend row's data-backend to its element.
func backendRows(doc *html.Node) map[string]*html.Node {
	rows := make(map[string]*html.Node)
	for _, tr := range findAll(doc, func(e *html.Node) bool { return e.Data == "tr" && hasAttr(e, "data-backend") }) {
		rows[attr(tr, "data-backend")] = tr
	}
	return rows
}
