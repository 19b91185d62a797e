//go:build race

package extract

// raceEnabled is set under the race detector, whose sync.Pool drops items
// on purpose, so allocation counts of pooled code mean nothing there.
const raceEnabled = true
