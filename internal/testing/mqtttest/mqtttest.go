// Package mqtttest connects test clients to a broker and collects what
// they receive.
package mqtttest

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// TB is what the helpers need of a *testing.T.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Connect connects a client with id to the broker at brokerURL, with a
// clean session unless configure says otherwise, and returns once the
// client reports itself up: subscriptions made before that are only sent on
// the next connection. The client is closed when the test ends.
func Connect(t TB, brokerURL, id string, configure ...func(*mqttclient.Options)) *mqttclient.Client {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	var once sync.Once
	o := mqttclient.Options{
		Servers: []*url.URL{u}, ClientID: id, KeepAlive: 30, CleanStart: true,
		MaxBackoff: 200 * time.Millisecond, Logger: zerolog.Nop(),
	}
	for _, f := range configure {
		f(&o)
	}
	user := o.OnConnectionUp
	o.OnConnectionUp = func(ctx context.Context, sessionPresent bool) {
		once.Do(func() { close(up) })
		if user != nil {
			user(ctx, sessionPresent)
		}
	}
	c, err := mqttclient.Connect(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	select {
	case <-up:
	case <-time.After(wait.Timeout):
		t.Fatalf("client %s did not connect to %s", id, brokerURL)
	}
	return c
}

// Received is a message with the time it arrived.
type Received struct {
	mqttclient.Message
	At time.Time
}

// Inbox collects the messages of a subscription, in arrival order.
type Inbox struct {
	mu   sync.Mutex
	msgs []Received
}

// Subscribe subscribes c to filter at QoS 1 and collects what arrives.
func Subscribe(t TB, c *mqttclient.Client, filter string) *Inbox {
	t.Helper()
	in := &Inbox{}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	if err := c.Subscribe(ctx, filter, 1, in.Add); err != nil {
		t.Fatal(err)
	}
	return in
}

// Listen connects a client of its own to brokerURL and subscribes it to
// filter.
func Listen(t TB, brokerURL, id, filter string) *Inbox {
	t.Helper()
	return Subscribe(t, Connect(t, brokerURL, id), filter)
}

// Add collects a message; it is the subscription's handler.
func (in *Inbox) Add(m mqttclient.Message) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.msgs = append(in.msgs, Received{m, time.Now()})
}

// All is every message so far.
func (in *Inbox) All() []Received {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Received(nil), in.msgs...)
}

// On is the messages of topic so far.
func (in *Inbox) On(topic string) []Received {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []Received
	for _, m := range in.msgs {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Len is how many messages arrived.
func (in *Inbox) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

// Wait waits for n messages and returns every message so far.
func (in *Inbox) Wait(t TB, n int) []Received {
	t.Helper()
	wait.For(t, "messages", func() bool { return in.Len() >= n })
	return in.All()
}
