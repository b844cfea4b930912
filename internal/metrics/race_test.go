//go:build race

package metrics

// raceEnabled: the race detector slows the tests some tenfold, so the
// largest ones shrink.
const raceEnabled = true
