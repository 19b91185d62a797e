package setting

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	var err error = Errorf("Interval", "health check interval", "must be positive, got %v", 0)
	if got, want := err.Error(), "health check interval: must be positive, got 0"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var se *Error
	if !errors.As(fmt.Errorf("starting: %w", err), &se) || se.Field != "Interval" || se.Problem != "must be positive, got 0" {
		t.Errorf("wrapped: %+v", se)
	}
}

func TestDuplicate(t *testing.T) {
	for _, tc := range []struct {
		names         []string
		first, second int
		found         bool
	}{
		{nil, -1, -1, false},
		{[]string{"a", "b", "c"}, -1, -1, false},
		{[]string{"a", "b", "a", "b"}, 0, 2, true},
		{[]string{"a", "b", "c", "b", "a"}, 1, 3, true},
	} {
		first, second, found := Duplicate(tc.names)
		if first != tc.first || second != tc.second || found != tc.found {
			t.Errorf("Duplicate(%q) = %d, %d, %v; want %d, %d, %v", tc.names, first, second, found, tc.first, tc.second, tc.found)
		}
	}
}
