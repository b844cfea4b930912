package mqttclient_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/mosquitto"
)

func connect(t *testing.T, brokerURL, id string) *mqttclient.Client {
	t.Helper()
	u, _ := url.Parse(brokerURL)
	c, err := mqttclient.Connect(context.Background(), mqttclient.Options{Servers: []*url.URL{u}, ClientID: id, KeepAlive: 5, MaxBackoff: 200 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.AwaitConnection(ctx); err != nil {
		t.Fatal(err)
	}
	return c
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
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := pub.Publish(ctx, &mqttclient.Message{Topic: "plant/a/status", Payload: []byte(payload), QoS: 1, UserProperties: []mqttclient.UserProperty{{Key: "k", Value: "v"}}})
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("publish: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
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

	b.Kill()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !sub.Connected() || !pub.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("clients did not reconnect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	publish("after")
	receive("after")
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
