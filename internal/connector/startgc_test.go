package connector

import (
	"runtime/debug"
	"testing"
)

func TestStartupGCIsRestored(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, operator := range []int{100, 400, 20, -1} {
		debug.SetGCPercent(operator)
		g := lowerGCForStartup()
		during := debug.SetGCPercent(-1)
		debug.SetGCPercent(during)
		want := startupGCPercent
		if operator >= 0 && operator < startupGCPercent {
			want = operator
		}
		if during != want {
			t.Errorf("GOGC %d: %d during start-up, want %d", operator, during, want)
		}
		g.restore()
		g.restore()
		if after := debug.SetGCPercent(operator); after != operator {
			t.Errorf("GOGC %d: %d after start-up", operator, after)
		}
	}
}
