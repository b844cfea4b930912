// Command http-connector turns REST devices described as Azure Device
// Registry devices and assets into MQTT v5 telemetry.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, abort, stop := interrupts()
	e := &env{environ: os.Environ(), stdout: os.Stdout, stderr: os.Stderr, abort: abort}
	code := e.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// interrupts turns SIGINT and SIGTERM into contexts: the first ends ctx (a
// graceful stop: the queue is flushed), the second ends abort (stop now).
// After the second, the signals have their default effect again: a third
// Ctrl-C kills the process. stop releases the signals.
func interrupts() (ctx, abort context.Context, stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	abort, cancelAbort := context.WithCancel(context.Background())
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for _, end := range []context.CancelFunc{cancel, cancelAbort} {
			select {
			case <-sigs:
				end()
			case <-done:
				return
			}
		}
		signal.Stop(sigs)
	}()
	return ctx, abort, func() {
		close(done)
		<-finished
		signal.Stop(sigs)
		cancel()
		cancelAbort()
	}
}
