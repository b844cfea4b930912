// Command server runs the OData v4 meter service on 127.0.0.1:3001.
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

	"github.com/http-connector/http-connector/examples/odata"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "address to listen on")
	meters := flag.Int("meters", 7, "how many meters the service has")
	pageSize := flag.Int("page-size", 3, "meters per page")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := odata.New(odata.Options{Meters: *meters, PageSize: *pageSize})
	srv := &http.Server{Addr: *addr, Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "OData service listening on http://%s/odata/Meters\n", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
