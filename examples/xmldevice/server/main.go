// Command server runs the oBIX air handling unit on 127.0.0.1:3003.
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

	"github.com/http-connector/http-connector/examples/xmldevice"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3003", "address to listen on")
	alarm := flag.Bool("alarm", false, "start with an active alarm")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	unit := xmldevice.New()
	if *alarm {
		unit.Raise("supplyAirTemp", "supply air above 18 °C", time.Now())
	}
	srv := &http.Server{Addr: *addr, Handler: unit.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "oBIX server listening on http://%s/obix/ahu1/\n", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
