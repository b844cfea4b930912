package httpauth_test

import (
	"net/http"
	"testing"

	"github.com/http-connector/http-connector/internal/testing/memnet"
)

// memServe serves h on a network in memory until the test ends, for tests
// in virtual time (testing/synctest). It returns the URL and a transport
// that dials it.
func memServe(t *testing.T, h http.Handler) (string, http.RoundTripper) {
	t.Helper()
	var n memnet.Network
	l := n.Listen()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	tr := &http.Transport{DialContext: n.Dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-done
	})
	return l.URL(), tr
}
