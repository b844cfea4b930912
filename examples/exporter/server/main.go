// Command server runs the pump station's exporter on 127.0.0.1:3005; the
// pumps run and the pressure is sampled as time goes by.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/http-connector/http-connector/examples/exporter"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3005", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := exporter.New()
	go run(ctx, e)
	srv := &http.Server{Addr: *addr, Handler: e.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "pump station exporter listening on http://%s/metrics\n", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run moves the station every second until ctx ends: pump p1 runs, its
// motor warms a little or cools, a pressure sample is taken.
func run(ctx context.Context, e *exporter.Exporter) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			e.Run("p1", 1)
			e.SetTemperature("p1", "motor", math.Round((e.Temperature("p1", "motor")+(rand.Float64()-0.5)/2)*100)/100)
			e.Observe(math.Round((4+3*rand.Float64())*100) / 100)
		}
	}
}
