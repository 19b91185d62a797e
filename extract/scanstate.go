package extract

// scanState is what every scanner keeps for the stream it is reading,
// whatever the key syntax: the answer so far, where it stands in the
// window, and where the key being read is held. A scanner embeds it, and
// its Scan is the same resume and finish around the scanner's own step:
//
//	if s.resume(window) {
//		s.step(window, final)
//	}
//	return s.answer(final)
//
// step examines the window from pos on, setting res once the answer is
// known, and concludes what it can on a final window. The helpers inline,
// so step is called directly, as if Scan were written out.
type scanState struct {
	res Result
	key []byte // the key, once res is Found
	pos int    // next byte of the window to examine
	buf []byte // where a key that needs decoding is decoded; kept across Reset

	// The key being read, before it is known to be complete: nothing yet,
	// window[vs:ve], or buf.
	hold   uint8
	vs, ve int
}

// Where a key being read is held.
const (
	holdNone   uint8 = iota // nothing yet
	holdWindow              // window[vs:ve], no decoding needed
	holdBuf                 // decoded into buf
)

// resume reports whether the scan goes on over window: the answer is still
// open, and window is the stream the scan began on. A window shorter than
// the last one is not, and yields NotFound.
func (st *scanState) resume(window []byte) bool {
	if st.res == NeedMore && len(window) < st.pos {
		st.res = NotFound
	}
	return st.res == NeedMore
}

// answer returns the answer after a step: on a final window an open
// answer becomes NotFound, and once given it stays the same.
func (st *scanState) answer(final bool) ([]byte, Result) {
	if final && st.res == NeedMore {
		st.res = NotFound
	}
	return st.key, st.res
}

func (st *scanState) found(key []byte) { st.key, st.res = key, Found }

func (st *scanState) fail() { st.res = NotFound }

// held returns the key being read, as it stands in window.
func (st *scanState) held(window []byte) []byte {
	switch st.hold {
	case holdWindow:
		return window[st.vs:st.ve]
	case holdBuf:
		return st.buf
	}
	return nil
}

// cutter is implemented by scanners whose key may run to the end of the
// stream, with nothing to close it (a form field, a regex match). The
// drivers call cutShort before a final Scan whose window was cut short by
// the limit or a read error rather than ended by the stream, so that such
// a key is not taken for complete. A scanner used without a driver sees a
// final window as the whole stream.
type cutter interface{ cutShort() }

// cutFlag implements cutter for a scanner to embed.
type cutFlag struct {
	cut bool // the final window is cut short
}

func (f *cutFlag) cutShort() { f.cut = true }
