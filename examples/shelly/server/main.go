// Command server runs a simulated Shelly Plus 1PM (package shelly):
//
//	go run ./examples/shelly/server -addr 127.0.0.1:8081 -password s3cret
//	curl --digest -u admin:s3cret 'http://127.0.0.1:8081/rpc/Switch.GetStatus?id=0'
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

	"github.com/http-connector/http-connector/examples/shelly"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	password := flag.String("password", "", "password of user admin; empty: authentication off")
	seed := flag.Uint64("seed", 1, "seed of the readings and nonces")
	nonceUses := flag.Int("nonce-uses", 30000, "requests one nonce serves before it goes stale")
	nonceLifetime := flag.Duration("nonce-lifetime", time.Hour, "how long a nonce is valid")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dev := shelly.New(shelly.Options{Password: *password, Seed: *seed, NonceUses: *nonceUses, NonceLifetime: *nonceLifetime})
	srv := &http.Server{Addr: *addr, Handler: dev.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "%s listening on %s (authentication %s)\n", shelly.ID, *addr, map[bool]string{true: "on", false: "off"}[*password != ""])
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
