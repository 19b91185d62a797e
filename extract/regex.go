package extract

import "regexp"

// regexScanner finds the first capture group of the leftmost match of an
// RE2 pattern. RE2 cannot resume a match over a growing window, so the
// scanner waits for the final window and matches it once: O(window) time,
// and the key is known only when the stream ends or the limit is reached.
// A group that did not take part in the match or matched nothing yields
// NotFound.
//
// When the final window is cut short by the limit (see cutShort), a match
// running to its very end might have gone on, so it yields NotFound; a
// pattern should close its key with context (`sid=(\w+)&`, not
// `sid=(\w+)`) to be found in a body longer than the limit. Even then, on a
// cut window an earlier match that needed the missing bytes cannot be
// seen.
type regexScanner struct {
	scanState
	cutFlag
	re *regexp.Regexp
}

func newRegex(re *regexp.Regexp) *regexScanner { return &regexScanner{re: re} }

// Reset readies the scanner for a new stream.
func (s *regexScanner) Reset() { *s = regexScanner{re: s.re} }

// Scan implements Scanner.
func (s *regexScanner) Scan(window []byte, final bool) ([]byte, Result) {
	if s.resume(window) {
		s.step(window, final)
	}
	return s.answer(final)
}

func (s *regexScanner) step(w []byte, final bool) {
	if !final {
		return
	}
	m := s.re.FindSubmatchIndex(w)
	if m == nil || m[2] < 0 || m[2] == m[3] || s.cut && m[1] == len(w) {
		return
	}
	s.found(w[m[2]:m[3]])
}
