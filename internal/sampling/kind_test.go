package sampling_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/http-connector/http-connector/internal/sampling"
)

// Each failure says at which step it happened: what runtime health reason
// codes and metrics tell apart.
func TestFailureKinds(t *testing.T) {
	srv, _ := server(t, map[string]string{
		"GET /ok":     `application/json|{"v": 1}`,
		"GET /broken": `application/json|{"v": `,
	})
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "who are you", http.StatusUnauthorized)
	}))
	t.Cleanup(refusing.Close)
	tests := []struct {
		name, url, dataset string
		want               sampling.FailureKind
	}{
		{"a missing page", srv.URL, "    - name: d\n      dataSource: /missing\n", sampling.FailRequest},
		{"refused credentials", refusing.URL, "    - name: d\n      dataSource: /x\n", sampling.FailAuth},
		{"a broken body", srv.URL, "    - name: d\n      dataSource: /broken\n", sampling.FailParse},
		{"a failing jq", srv.URL, "    - name: d\n      dataSource: /ok\n      datasetConfiguration: '{\"jq\": \".v | error(\\\"no\\\")\"}'\n", sampling.FailMapping},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sampleOnce(t, dataset(t, tt.url, tt.dataset))
			if got := sampling.Kind(err); got != tt.want {
				t.Errorf("kind %q of %v, want %q", got, err, tt.want)
			}
		})
	}
	if sampling.Kind(nil) != "" {
		t.Error("no failure has a kind")
	}
}
