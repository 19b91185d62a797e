package extract

// Byte classes the scanners share.

// space is whitespace in XML and in JSON, which agree.
const space = " \t\n\r"

// isSpace reports whether c is in space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// hexDigit returns the value of the hexadecimal digit c, or -1.
func hexDigit(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}
