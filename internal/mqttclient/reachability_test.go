package mqttclient_test

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/rs/zerolog"
)

// A client whose first five connection attempts fail writes one warning,
// not five, and says on connecting how many attempts failed.
func TestUnreachableBrokerLoggedOnce(t *testing.T) {
	b := mqtttest.Embedded(t)
	front, attempts := flakyFront(t, b.URL()[len("mqtt://"):], 5)
	logs := &logbuf.Buffer{}
	mqtttest.Connect(t, "mqtt://"+front, "flaky", func(o *mqttclient.Options) {
		o.Logger = zerolog.New(logs)
		o.MaxBackoff = 10 * time.Millisecond
	})
	if n := attempts.Load(); n < 6 {
		t.Fatalf("%d attempts reached the front, want at least 6", n)
	}
	if got := logs.Count("mqtt broker unreachable; retrying in the background"); got != 1 {
		t.Errorf("%d warnings for 5 failed attempts, want 1:\n%s", got, logs)
	}
	var up map[string]any
	for _, r := range logs.Records() {
		if r["message"] == "mqtt connected" {
			up = r
		}
	}
	if up == nil || up["failed_attempts"] != float64(5) {
		t.Errorf("connected line %v, want failed_attempts 5:\n%s", up, logs)
	}
}

// flakyFront listens on loopback, hangs up on the first fail connections
// and forwards the others to target. It returns its address and the count
// of connections it took.
func flakyFront(t *testing.T, target string, fail int64) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if n.Add(1) <= fail {
				c.Close()
				continue
			}
			go forward(c, target)
		}
	}()
	return l.Addr().String(), &n
}

func forward(c net.Conn, target string) {
	defer c.Close()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
}
