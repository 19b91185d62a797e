package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/peekroute/peekroute/discovery"
	"github.com/peekroute/peekroute/health"
	"github.com/peekroute/peekroute/router"
)

func TestLoadConfigRejects(t *testing.T) {
	base := []string{"PEEKROUTE_BACKENDS=http://a:1,http://b:2", "PEEKROUTE_KEY=xml:sessionId"}
	tests := []struct {
		name string
		env  []string
		want string // the variable named, and a word of the problem
	}{
		{"no backends", []string{"PEEKROUTE_KEY=xml:s"}, "PEEKROUTE_BACKENDS: required"},
		{"no key", []string{"PEEKROUTE_BACKENDS=http://a:1"}, "PEEKROUTE_KEY: required"},
		{"bad key kind", append(base, "PEEKROUTE_KEY=xpath:s"), "PEEKROUTE_KEY:"},
		{"bad backend scheme", append(base, "PEEKROUTE_BACKENDS=ftp://a"), "PEEKROUTE_BACKENDS: backend \"ftp://a\""},
		{"duplicate backend", append(base, "PEEKROUTE_BACKENDS=http://a:80,HTTP://A/"), "PEEKROUTE_BACKENDS:"},
		{"load factor 1", append(base, "PEEKROUTE_LOAD_FACTOR=1"), "PEEKROUTE_LOAD_FACTOR: must be greater than 1"},
		{"load factor below 1", append(base, "PEEKROUTE_LOAD_FACTOR=0.5"), "PEEKROUTE_LOAD_FACTOR"},
		{"load factor NaN", append(base, "PEEKROUTE_LOAD_FACTOR=NaN"), "PEEKROUTE_LOAD_FACTOR"},
		{"load factor text", append(base, "PEEKROUTE_LOAD_FACTOR=high"), "PEEKROUTE_LOAD_FACTOR: not a valid float64"},
		{"zero partitions", append(base, "PEEKROUTE_PARTITIONS=0"), "PEEKROUTE_PARTITIONS"},
		{"fewer partitions than backends", append(base, "PEEKROUTE_PARTITIONS=1"), "PEEKROUTE_PARTITIONS: 1 is fewer than the 2 backends"},
		{"weights exceed partitions", append(base, "PEEKROUTE_BACKENDS=http://a;weight=3", "PEEKROUTE_PARTITIONS=2"), "PEEKROUTE_PARTITIONS"},
		{"zero replication", append(base, "PEEKROUTE_REPLICATION=0"), "PEEKROUTE_REPLICATION"},
		{"negative peek limit", append(base, "PEEKROUTE_PEEK_LIMIT=-1"), "PEEKROUTE_PEEK_LIMIT"},
		{"peek limit text", append(base, "PEEKROUTE_PEEK_LIMIT=64k"), "PEEKROUTE_PEEK_LIMIT: not a valid int"},
		{"bad policy", append(base, "PEEKROUTE_MISSING_KEY=drop"), "PEEKROUTE_MISSING_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig([]string{"PEEKROUTE_BACKENDS=http://a:1, http://b:2;weight=2", "PEEKROUTE_KEY=xml:sessionId", "UNRELATED=1"})
	if err != nil {
		t.Fatal(err)
	}
	def := defaultSettings()
	if c.listenAddr != ":8080" || c.router.PeekLimit != 65536 || c.router.Ring.Load != def.LoadFactor {
		t.Errorf("defaults not applied: %+v", c)
	}
	if len(c.router.Backends) != 2 || c.router.Backends[1].Weight != 2 || c.router.Backends[1].Name != "http://b:2" {
		t.Errorf("backends parsed as %+v", c.router.Backends)
	}
}

// A bad configuration exits 2 with one line naming the variable.
func TestBadConfigExitsTwoWithOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, []string{"PEEKROUTE_KEY=xml:s", "PEEKROUTE_BACKENDS=http://a", "PEEKROUTE_LOAD_FACTOR=0.9"}, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
	out := stderr.String()
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "peekroute: PEEKROUTE_LOAD_FACTOR:") {
		t.Errorf("stderr %q, want one line naming PEEKROUTE_LOAD_FACTOR", out)
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve-please"}, nil, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
}

// Every field tag of settings names a field of the package Config it
// says, so that blame finds the variable of every field a package names.
func TestFieldTagsNameConfigFields(t *testing.T) {
	configs := map[string]reflect.Type{
		"health":    reflect.TypeFor[health.Config](),
		"discovery": reflect.TypeFor[discovery.Config](),
		"router":    reflect.TypeFor[router.Config](),
	}
	st := reflect.TypeFor[settings]()
	for i := range st.NumField() {
		tag := st.Field(i).Tag.Get("field")
		if tag == "" {
			continue
		}
		for _, path := range strings.Split(tag, ",") {
			pkg, field, _ := strings.Cut(path, ".")
			typ, ok := configs[pkg]
			if !ok {
				t.Errorf("%s: field %q: no package %q", st.Field(i).Name, path, pkg)
				continue
			}
			if !hasField(typ, field) {
				t.Errorf("%s: field %q: %s has no field %s", st.Field(i).Name, path, typ, field)
			}
		}
	}
}

// hasField reports whether the struct typ has the field path names, a
// nested one as Outer.Inner.
func hasField(typ reflect.Type, path string) bool {
	for name := range strings.SplitSeq(path, ".") {
		if typ.Kind() != reflect.Struct {
			return false
		}
		f, ok := typ.FieldByName(name)
		if !ok {
			return false
		}
		typ = f.Type
	}
	return true
}
