// Command server runs the cold store's data logger on 127.0.0.1:3004,
// logging a row every few seconds.
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

	"github.com/http-connector/http-connector/examples/csvlogger"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3004", "address to listen on")
	every := flag.Duration("every", 20*time.Second, "time between two rows")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	const logged = 12 // rows logged before the server starts
	logger := csvlogger.New(csvlogger.Options{Start: time.Now().UTC().Truncate(time.Second).Add(-logged * *every), Every: *every})
	logger.Log(logged)
	go func() {
		tick := time.NewTicker(*every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				logger.Log(1)
			}
		}
	}()
	srv := &http.Server{Addr: *addr, Handler: logger.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "data logger listening on http://%s/export/last.csv, a row every %s\n", *addr, *every)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
