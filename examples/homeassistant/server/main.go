// Command server runs a simulated Home Assistant REST API (package
// homeassistant):
//
//	go run ./examples/homeassistant/server -addr 127.0.0.1:8123 -token t0ken
//	curl -H 'Authorization: Bearer t0ken' http://127.0.0.1:8123/api/states/sensor.living_room_temperature
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

	"github.com/http-connector/http-connector/examples/homeassistant"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8123", "address to listen on")
	token := flag.String("token", "", "the long-lived access token to accept")
	seed := flag.Uint64("seed", 1, "seed of the readings")
	flag.Parse()
	if *token == "" {
		fmt.Fprintln(os.Stderr, "-token is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ha := homeassistant.New(homeassistant.Options{Token: *token, Seed: *seed})
	srv := &http.Server{Addr: *addr, Handler: ha.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "home assistant listening on %s\n", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
