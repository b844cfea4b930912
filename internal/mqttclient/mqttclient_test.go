package mqttclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/mosquitto"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// connect connects a client with a keep-alive of 5 s, without clean start.
func connect(t *testing.T, brokerURL, id string) *mqttclient.Client {
	t.Helper()
	return mqtttest.Connect(t, brokerURL, id, func(o *mqttclient.Options) { o.KeepAlive, o.CleanStart = 5, false })
}

// After the broker restarts (losing every session), the client reconnects
// and subscribes again, and publishing works again.
func TestSubscriptionsSurviveBrokerRestart(t *testing.T) {
	b := mosquitto.ForTest(t)
	sub := connect(t, b.URL(), "sub")
	got := make(chan mqttclient.Message, 10)
	if err := sub.Subscribe(context.Background(), "plant/+/status", 1, func(m mqttclient.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, b.URL(), "pub")
	publish := func(payload string) {
		t.Helper()
		wait.Until(t, "acknowledged publish of "+payload, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return pub.Publish(ctx, &mqttclient.Message{Topic: "plant/a/status", Payload: []byte(payload), QoS: 1, UserProperties: []mqttclient.UserProperty{{Key: "k", Value: "v"}}})
		})
	}
	receive := func(want string) {
		t.Helper()
		select {
		case m := <-got:
			if string(m.Payload) != want || m.QoS != 1 {
				t.Errorf("got %q QoS %d, want %q QoS 1", m.Payload, m.QoS, want)
			}
			if v, _ := m.Property("k"); v != "v" {
				t.Errorf("user properties: got %v", m.UserProperties)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no message %q", want)
		}
	}
	publish("before")
	receive("before")
	if n := pub.Reconnects(); n != 0 {
		t.Errorf("%d reconnects before the broker went away", n)
	}

	b.Kill()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "reconnection of both clients", func() bool { return sub.Connected() && pub.Connected() })
	publish("after")
	receive("after")
	if n := pub.Reconnects(); n != 1 {
		t.Errorf("%d reconnects, want 1", n)
	}
}

func TestMatchTopic(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "x/y", true},
		{"+/+/getDevice", "clients/x/getDevice", true},
		{"$share/g/a/+", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+/c", "a//c", true},
	}
	for _, tt := range tests {
		if got := mqttclient.MatchTopic(tt.filter, tt.topic); got != tt.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}
