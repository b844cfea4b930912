// Command server runs a fleet of simulated REST thermostats (package fleet)
// on one loopback address, for load tests:
//
//	go run ./examples/fleet/server -n 2000
//	curl http://127.0.0.1:3100/api/thermostat/17/status
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/http-connector/http-connector/examples/fleet"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3100", "address to listen on")
	n := flag.Int("n", 2000, "number of thermostats (ids 1 … n)")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "-n must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: fleet.New(*n, uint64(time.Now().UnixNano())), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "%d thermostats listening on %s under /api/thermostat/{1…%d}/\n", *n, *addr, *n)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
