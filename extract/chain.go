package extract

// Chain looks for the key of several sources in one pass over the body.
// It is a Scanner: its key is that of the earliest source, in list order,
// that yields a non-empty key, and it answers as soon as that is known,
// that is when a source has found its key and every source before it has
// none. Sources not from the body take no part, but keep their place in
// the list, so Winner and Limit count them.
//
// The order is the caller's priority, and it has a cost: a later source
// cannot win before every earlier one has ruled itself out, and a regex
// source, or an XML source over a body without the element, does so only
// at the end of the stream or the limit.
//
// A Chain is for one stream at a time; pool Chains to serve requests
// concurrently. Per stream, call Reset, then Limit and Accept as needed,
// then Scan (through Peek or PeekDecoded). After NewChain it allocates
// nothing, save what a regex match costs.
type Chain struct {
	scanState
	sources  []Source
	scanners []Scanner // nil where the source is not from the body
	state    []uint8   // per source, for the current stream
	winner   int
}

// Per-source state in a Chain.
const (
	cOff     uint8 = iota // not from the body, limited or not accepted
	cLooking              // may still find its key
	cNone                 // has no key
)

// NewChain returns a Chain over sources, as ParseSources returns them,
// making a scanner for each body source. It fails for a source made by
// hand whose Name does not suit its Kind.
func NewChain(sources []Source) (*Chain, error) {
	c := &Chain{
		sources:  sources,
		scanners: make([]Scanner, len(sources)),
		state:    make([]uint8, len(sources)),
	}
	for i, src := range sources {
		if !src.FromBody() {
			continue
		}
		s, err := src.newScanner()
		if err != nil {
			return nil, err
		}
		c.scanners[i] = s
	}
	c.Reset()
	return c, nil
}

// Reset readies the chain for a new stream, with every body source taking
// part.
func (c *Chain) Reset() {
	c.scanState, c.winner = scanState{}, -1
	for i, s := range c.scanners {
		c.state[i] = cOff
		if s != nil {
			s.Reset()
			c.state[i] = cLooking
		}
	}
}

// Limit leaves out sources from index n on, for the current stream: the
// caller has a key from source n, which is not from the body.
func (c *Chain) Limit(n int) {
	for i := max(n, 0); i < len(c.state); i++ {
		c.state[i] = cOff
	}
}

// Accept leaves out the sources that do not accept mediaType (see
// Source.Accepts), for the current stream.
func (c *Chain) Accept(mediaType string) {
	for i, src := range c.sources {
		if !src.Accepts(mediaType) {
			c.state[i] = cOff
		}
	}
}

// Active reports whether any source takes part in the current stream; if
// none does, the chain will answer NotFound without looking at a byte.
func (c *Chain) Active() bool {
	for _, st := range c.state {
		if st == cLooking {
			return true
		}
	}
	return false
}

// Winner returns the index in the source list of the source whose key the
// chain found, or -1.
func (c *Chain) Winner() int { return c.winner }

// Scan implements Scanner. Sources are scanned in order, and a source is
// not scanned while an earlier one is undecided: it catches up when its
// turn comes, resuming where it stood, so every byte is still read once
// per source and no work is spent on sources that cannot win.
func (c *Chain) Scan(window []byte, final bool) ([]byte, Result) {
	if c.resume(window) {
		c.step(window, final)
	}
	return c.answer(final)
}

func (c *Chain) step(window []byte, final bool) {
	for i, st := range c.state {
		if st != cLooking {
			continue
		}
		key, res := c.scanners[i].Scan(window, final)
		switch {
		case res == NeedMore && !final:
			return
		case res == Found && len(key) > 0:
			c.found(key)
			c.winner = i
			return
		}
		c.state[i] = cNone
	}
	c.fail()
}

// cutShort passes the news on to the sources that care.
func (c *Chain) cutShort() {
	for i, s := range c.scanners {
		if cs, ok := s.(cutter); ok && c.state[i] == cLooking {
			cs.cutShort()
		}
	}
}
