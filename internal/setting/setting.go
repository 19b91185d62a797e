// Package setting holds the rules every package's configuration shares: a
// validation error names the Config field at fault, so that the command
// can report it against the variable that set the field, and a list of
// named things names each thing once.
package setting

import "fmt"

// Error says which field of a package's Config is out of range, and why.
type Error struct {
	// Field is the field's Go name in the Config validated; the field of a
	// nested configuration is written Outer.Inner, such as Ring.Load.
	Field string
	// Name says what the field is, in words: "health check interval".
	Name string
	// Problem says what is wrong with its value, without naming it: "must
	// be positive, got 0s".
	Problem string
}

// Errorf returns an Error for field, called name, with a problem made
// from format and args.
func Errorf(field, name, format string, args ...any) *Error {
	return &Error{Field: field, Name: name, Problem: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Name + ": " + e.Problem }

// Duplicate returns the indexes of the first name in names that appears
// twice, and of its second appearance; found is false when every name
// appears once.
func Duplicate(names []string) (first, second int, found bool) {
	seen := make(map[string]int, len(names))
	for i, name := range names {
		if j, dup := seen[name]; dup {
			return j, i, true
		}
		seen[name] = i
	}
	return -1, -1, false
}
