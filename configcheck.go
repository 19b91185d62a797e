package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// removedVariables are variables peekroute no longer reads, each with what
// to do instead. Setting one stops start-up with that advice rather than
// with "unknown variable". An entry still read by settings (one being
// removed on another line of work) has no effect until it is removed there.
var removedVariables = map[string]string{
	"ENGINE": "peekroute has one HTTP/1.1 engine; unset it",
}

// knownVariables returns the names, without the prefix, of the variables
// settings reads: its fields' env tags.
func knownVariables() []string {
	st := reflect.TypeFor[settings]()
	names := make([]string, 0, st.NumField())
	for i := range st.NumField() {
		if name, _, _ := strings.Cut(st.Field(i).Tag.Get("env"), ","); name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// checkEnvironment refuses any PEEKROUTE_ variable in environ that
// peekroute does not read — a typo would otherwise leave a setting at its
// default without a word — naming the closest one it does read.
func checkEnvironment(environ []string) error {
	return checkVariables(environ, knownVariables(), removedVariables)
}

func checkVariables(environ, known []string, removed map[string]string) error {
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if v, ok := strings.CutPrefix(name, envPrefix); ok && !slices.Contains(known, v) {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	name, more := unknown[0], ""
	if n := len(unknown) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more unknown: %s%s)", n, envPrefix, strings.Join(unknown[1:], ", "+envPrefix))
	}
	if advice, ok := removed[name]; ok {
		return fmt.Errorf("%s%s was removed: %s%s", envPrefix, name, advice, more)
	}
	closest, d := closestName(name, known)
	if d <= max(2, len(name)/3) {
		return badVar(name, "unknown variable; did you mean %s%s?%s", envPrefix, closest, more)
	}
	return badVar(name, "unknown variable (the closest known is %s%s)%s", envPrefix, closest, more)
}

// closestName returns the name in names nearest to name by edit distance,
// ignoring case, and that distance.
func closestName(name string, names []string) (string, int) {
	best, bestD := "", -1
	for _, n := range names {
		if d := editDistance(strings.ToUpper(name), n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best, bestD
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
