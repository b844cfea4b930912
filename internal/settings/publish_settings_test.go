package settings

import (
	"strings"
	"testing"
	"time"
)

func TestPublishSettings(t *testing.T) {
	d := Defaults()
	if d.PublishQueueSize != 10000 || d.PublishOverflow != "dropOldest" || d.PublishInflight != 64 || d.SpoolDir != "" || d.ShutdownTimeout != 10*time.Second {
		t.Errorf("defaults: queue %d, overflow %q, in flight %d, spool %q, shutdown %v", d.PublishQueueSize, d.PublishOverflow, d.PublishInflight, d.SpoolDir, d.ShutdownTimeout)
	}
	s, err := Load(Sources{Environ: []string{
		"HTTP_CONNECTOR_PUBLISH_QUEUE_SIZE=50",
		"HTTP_CONNECTOR_PUBLISH_OVERFLOW=dropNewest",
		"HTTP_CONNECTOR_PUBLISH_INFLIGHT=8",
		"HTTP_CONNECTOR_SPOOL_DIR=/var/lib/http-connector/spool",
		"HTTP_CONNECTOR_SHUTDOWN_TIMEOUT=3s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s.PublishQueueSize != 50 || s.PublishOverflow != "dropNewest" || s.PublishInflight != 8 || s.SpoolDir != "/var/lib/http-connector/spool" || s.ShutdownTimeout != 3*time.Second {
		t.Errorf("from the environment: queue %d, overflow %q, in flight %d, spool %q, shutdown %v", s.PublishQueueSize, s.PublishOverflow, s.PublishInflight, s.SpoolDir, s.ShutdownTimeout)
	}
	tests := []struct {
		env, want string
	}{
		{"HTTP_CONNECTOR_PUBLISH_QUEUE_SIZE=0", "settings: publishQueueSize: must be positive"},
		{"HTTP_CONNECTOR_PUBLISH_OVERFLOW=dropAll", `settings: publishOverflow: "dropAll" is not dropOldest or dropNewest`},
		{"HTTP_CONNECTOR_PUBLISH_INFLIGHT=0", "settings: publishInflight: must be positive"},
		{"HTTP_CONNECTOR_SHUTDOWN_TIMEOUT=0s", "settings: shutdownTimeout: must be positive"},
	}
	for _, tt := range tests {
		_, err := Load(Sources{Environ: []string{tt.env}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.env, err, tt.want)
		}
	}
}
