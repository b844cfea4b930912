//go:build !unix

package metrics

import "time"

// processCPUTime cannot read the CPU time here.
func processCPUTime() (cpu time.Duration, ok bool) { return 0, false }
