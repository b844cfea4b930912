// Command server runs the historian's time-window API on 127.0.0.1:3002,
// recording one reading a second from its start.
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

	"github.com/http-connector/http-connector/examples/historian"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3002", "address to listen on")
	every := flag.Duration("every", time.Second, "time between two readings")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := historian.New(historian.Options{Every: *every})
	srv := &http.Server{Addr: *addr, Handler: h.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "historian listening on http://%s/api/history, recording %s every %s\n", *addr, historian.Tag, *every)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
