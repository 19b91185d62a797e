package router

import (
	"strings"
	"testing"

	"github.com/peekroute/peekroute/extract"
)

// Header and cookie sources must name HTTP tokens; extract parses them
// without knowing HTTP, and the router refuses the others.
func TestSourceNamesAreTokens(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"header:X Y", `key source "header:X Y": "X Y" is not a valid header name`},
		{"cookie:a;b", `key source "cookie:a;b": "a;b" is not a valid cookie name`},
	} {
		sources, err := extract.ParseSources(c.spec)
		if err == nil {
			err = checkNames(sources)
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want %q", c.spec, err, c.want)
		}
	}
}
