package loopback

import (
	"io"
	"net/http"
	"testing"
)

func TestServer(t *testing.T) {
	s, err := Start(map[string]string{"/a": `{"a":1}`})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/a", 200, `{"a":1}`},
		{"/a?x=1", 200, `{"a":1}`},
		{"/b", 404, `{"error":"not found"}`},
		{"/a", 200, `{"a":1}`}, // again, on the kept-alive connection
	}
	for _, tc := range tests {
		resp, err := http.Get(s.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.body || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d %q (%s), want %d %q", tc.path, resp.StatusCode, b, resp.Header.Get("Content-Type"), tc.status, tc.body)
		}
	}
}
