//go:build unix

package metrics

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time the test process has used so far, user
// and system, on every thread; ok is false where it cannot be read.
func processCPUTime() (cpu time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
