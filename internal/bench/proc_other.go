//go:build !linux

package bench

import (
	"errors"
	"os"
	"time"
)

var errNoProc = errors.New("the benchmark reads /proc: it runs on Linux only")

func cpuTime(int) (time.Duration, error)       { return 0, errNoProc }
func memory(int) (peak, now uint64, err error) { return 0, 0, errNoProc }
func machineCPU() (time.Duration, error)       { return 0, errNoProc }
func openFileLimit() uint64                    { return 0 }
func terminate(p *os.Process) error            { return p.Signal(os.Interrupt) }

const procSupported = false
