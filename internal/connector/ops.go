package connector

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/statuspage"
)

// loopback says whether addr listens on the loopback interface only.
func loopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// serveOps starts the operations listener: /metrics, /healthz, /readyz,
// and the status page if enabled. Nothing is computed until someone asks.
// stop ends it, event streams of the page included.
func (rt *Runtime) serveOps() (stop func(), err error) {
	ln := rt.opts.OpsListener
	if ln == nil {
		addr, err := settings.ListenAddress(rt.opts.MetricsAddr)
		if err != nil {
			return nil, err
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("metricsAddr: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", rt.metricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ready, why := rt.Readiness(); !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", why)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var page *statuspage.Page
	if rt.opts.StatusPage {
		page = statuspage.New(statusBackend{rt}, statuspage.Options{Hosts: rt.opts.StatusPageHosts})
		mux.Handle("/", page)
		srv.RegisterOnShutdown(page.Close)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rt.log.Warn().Err(err).Msg("operations listener")
		}
	}()
	ev := rt.log.Info().Str("address", ln.Addr().String()).Bool("status_page", page != nil)
	if page != nil {
		ev = ev.Str("url", "http://"+ln.Addr().String()+"/")
	}
	ev.Msg("serving /metrics, /healthz and /readyz")
	if page != nil && !loopback(ln.Addr().String()) {
		rt.log.Warn().Str("address", ln.Addr().String()).
			Msg("the status page is reachable from the network: whoever reaches it sees the last published payloads and may sample any dataset once")
	}
	return func() {
		if page != nil {
			page.Close()
		}
		_ = srv.Close()
		<-done
	}, nil
}
