package h1

// HasToken reports whether the comma-separated list value contains token,
// ASCII case-insensitively, with OWS around each element ignored.
func HasToken(value []byte, token string) bool {
	for len(value) > 0 {
		var elem []byte
		elem, value = nextElement(value)
		if equalFold(elem, token) {
			return true
		}
	}
	return false
}

// MediaTypeIs reports whether a Content-Type value's media type (what comes
// before any ";", OWS trimmed) is mediaType, ASCII case-insensitively.
func MediaTypeIs(value []byte, mediaType string) bool {
	for i, c := range value {
		if c == ';' {
			value = value[:i]
			break
		}
	}
	return equalFold(trimOWS(value), mediaType)
}
