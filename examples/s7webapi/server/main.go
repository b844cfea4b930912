// Command server runs a simulated S7-1500 Web API (package s7webapi) over
// HTTPS with a certificate made at start:
//
//	go run ./examples/s7webapi/server -addr 127.0.0.1:8443 -password s3cret -cert-out /tmp/plc.pem
//	curl --cacert /tmp/plc.pem https://127.0.0.1:8443/api/jsonrpc \
//	  -d '{"jsonrpc":"2.0","id":1,"method":"Api.Login","params":{"user":"admin","password":"s3cret"}}'
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

	"github.com/http-connector/http-connector/examples/s7webapi"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "address to listen on")
	user := flag.String("user", "admin", "the web server user with read and write rights")
	password := flag.String("password", "", "that user's password")
	seed := flag.Uint64("seed", 1, "seed of the readings and tokens")
	lifetime := flag.Duration("token-lifetime", 120*time.Second, "how long a session lives without a request")
	maxSessions := flag.Int("max-sessions", 0, "sessions open at once; 0: no limit")
	certOut := flag.String("cert-out", "", "write the PEM of the certificate to this file, to trust it")
	flag.Parse()
	if *password == "" {
		fmt.Fprintln(os.Stderr, "-password is required")
		os.Exit(2)
	}
	plc, err := s7webapi.New(s7webapi.Options{User: *user, Password: *password, Seed: *seed, TokenLifetime: *lifetime, MaxSessions: *maxSessions})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *certOut != "" {
		if err := os.WriteFile(*certOut, plc.CertificatePEM(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: plc.Handler(), TLSConfig: plc.TLSConfig(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "S7-1500 Web API listening on https://%s/api/jsonrpc\n", *addr)
	if err := srv.ListenAndServeTLS("", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
