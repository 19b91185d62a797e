package extract

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kind is where a key source looks for the key.
type Kind uint8

// Header, Query and Cookie sources are not in the body; extract only parses
// them, and the caller looks them up. The others are scanned in the body.
const (
	Header Kind = iota + 1 // a request header
	Query                  // a query parameter
	Cookie                 // a cookie
	XML                    // the text of an XML element
	JSON                   // a value at a JSON path
	Form                   // a field of an application/x-www-form-urlencoded body
	Regex                  // the first capture group of an RE2 pattern
)

var kindNames = [...]string{
	Header: "header",
	Query:  "query",
	Cookie: "cookie",
	XML:    "xml",
	JSON:   "json",
	Form:   "form",
	Regex:  "regex",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Source is one entry of a key-source list, such as "xml:sessionId".
type Source struct {
	Kind Kind
	// Name is the entry after "kind:", as written: a header, query
	// parameter, cookie or form field name; an XML local name, with its
	// namespace as {URI}NAME; a JSON path such as items.0.id; or a
	// pattern.
	Name string

	re *regexp.Regexp // Name compiled, for Regex sources from ParseSources
}

// String returns the entry as written.
func (s Source) String() string { return s.Kind.String() + ":" + s.Name }

// FromBody reports whether the key is looked for in the body.
func (s Source) FromBody() bool { return s.Kind >= XML && s.Kind <= Regex }

// Accepts reports whether the source applies to a body of the given media
// type, lower-cased and without parameters ("" when there is none). JSON
// sources accept only application/json and application/*+json; form
// sources only application/x-www-form-urlencoded; the others accept any.
func (s Source) Accepts(mediaType string) bool {
	switch s.Kind {
	case JSON:
		if mediaType == "application/json" {
			return true
		}
		sub, ok := strings.CutPrefix(mediaType, "application/")
		return ok && len(sub) > len("+json") && strings.HasSuffix(sub, "+json")
	case Form:
		return mediaType == "application/x-www-form-urlencoded"
	}
	return true
}

// ParseSources parses a comma-separated list of key sources, in the order
// they are to be tried. Each entry is KIND:NAME:
//
//	header:NAME, query:NAME, cookie:NAME   looked up (and NAME checked) by the caller
//	xml:NAME, xml:{URI}NAME                 the first element NAME (in namespace URI)
//	json:a.b.c                              a value at a path; a numeric segment also indexes an array
//	form:NAME                               a form field
//	regex:PATTERN                           the first capture group of an RE2 pattern
//
// Spaces around entries are ignored. A pattern may itself hold commas, so a
// regex entry takes the rest of the list and must come last.
func ParseSources(spec string) ([]Source, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("no key source")
	}
	var out []Source
	for rest, more := spec, true; more; {
		var entry string
		entry, rest, more = strings.Cut(rest, ",")
		if strings.HasPrefix(strings.TrimSpace(entry), "regex:") && more {
			entry, more = entry+","+rest, false
		}
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("key source %d is empty", len(out)+1)
		}
		s, err := parseSource(entry)
		if err != nil {
			return nil, fmt.Errorf("key source %q: %w", entry, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSource(entry string) (Source, error) {
	kind, name, ok := strings.Cut(entry, ":")
	if !ok {
		return Source{}, errors.New("want KIND:NAME")
	}
	s := Source{Name: strings.TrimSpace(name)}
	for k, n := range kindNames {
		if n != "" && n == kind {
			s.Kind = Kind(k)
		}
	}
	if s.Kind == 0 {
		return s, fmt.Errorf("unknown kind %q", kind)
	}
	if s.Name == "" {
		return s, errors.New("empty name")
	}
	if s.Kind == Regex {
		re, err := compilePattern(s.Name)
		s.re = re
		return s, err
	}
	return s, s.check()
}

// check validates Name for Kind. Header and cookie names are the
// caller's to check: extract does not know HTTP.
func (s Source) check() error {
	switch s.Kind {
	case XML:
		_, _, err := splitXMLName(s.Name)
		return err
	case JSON:
		_, _, err := parsePath(s.Name)
		return err
	case Regex:
		_, err := compilePattern(s.Name)
		return err
	case Header, Query, Cookie, Form:
	default:
		return fmt.Errorf("unknown kind %v", s.Kind)
	}
	return nil
}

// splitXMLName splits "{URI}local" or "local".
func splitXMLName(name string) (space, local string, err error) {
	local = name
	if rest, ok := strings.CutPrefix(name, "{"); ok {
		var found bool
		if space, local, found = strings.Cut(rest, "}"); !found {
			return "", "", fmt.Errorf("%q: no } after the namespace", name)
		}
	}
	switch {
	case local == "":
		return "", "", errors.New("no element name")
	case strings.ContainsRune(local, ':'):
		return "", "", fmt.Errorf("%q: give the local name without a prefix, and the namespace as {URI}NAME", local)
	case local[0] == '-' || local[0] == '.' || '0' <= local[0] && local[0] <= '9':
		return "", "", fmt.Errorf("%q is not an XML name", local)
	}
	for i := range len(local) {
		if !nameByte[local[i]] {
			return "", "", fmt.Errorf("%q is not an XML name", local)
		}
	}
	return space, local, nil
}

// parsePath splits a JSON path into its segments and, for each, the array
// index it names or -1.
func parsePath(path string) (segs []string, index []int, err error) {
	segs = strings.Split(path, ".")
	index = make([]int, len(segs))
	if len(segs) > maxJSONDepth {
		return nil, nil, fmt.Errorf("path deeper than %d", maxJSONDepth)
	}
	for i, seg := range segs {
		if seg == "" {
			return nil, nil, fmt.Errorf("path %q has an empty segment", path)
		}
		index[i] = -1
		if n, err := strconv.Atoi(seg); err == nil && n >= 0 && strconv.Itoa(n) == seg {
			index[i] = n
		}
	}
	return segs, index, nil
}

func compilePattern(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	if re.NumSubexp() == 0 {
		return nil, errors.New("the pattern needs a capture group for the key")
	}
	return re, nil
}

// newScanner returns a scanner for a body source, nil for another.
func (s Source) newScanner() (Scanner, error) {
	if s.Kind == Regex && s.re != nil {
		return newRegex(s.re), nil
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("key source %q: %w", s.String(), err)
	}
	switch s.Kind {
	case XML:
		space, local, _ := splitXMLName(s.Name)
		if strings.HasPrefix(s.Name, "{") {
			return newXMLNS(space, local), nil
		}
		return newXML(local), nil
	case JSON:
		return newJSON(s.Name), nil
	case Form:
		return newForm(s.Name), nil
	case Regex:
		re, _ := compilePattern(s.Name)
		return newRegex(re), nil
	}
	return nil, nil
}
