// Package mqtttest connects test clients to a broker and collects what
// they receive. A Broker closes the clients connected through it only after
// itself, the order the embedded broker needs at cleanup.
package mqtttest

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/broker"
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
	c := connect(t, brokerURL, id, configure)
	t.Cleanup(func() { closeClient(c) })
	return c
}

// Broker is a broker that a test closes before the clients it connects to
// it with Connect, while they are idle: the embedded broker (mochi v2.7.9)
// can deadlock in Close, on a recursive read lock in
// Clients.GetByListener, when a client disconnects at the same moment.
type Broker struct {
	url     string
	mu      sync.Mutex
	clients []*mqttclient.Client
}

// Embedded starts the embedded broker on a free loopback port; it is closed
// when the test ends, before its clients.
func Embedded(t TB) *Broker {
	t.Helper()
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	return CloseFirst(t, b.URL(), b.Close)
}

// CloseFirst takes on the broker at brokerURL, which close stops: when the
// test ends, close is called first, then the clients connected with
// b.Connect are closed. Cleanups registered after CloseFirst run before
// both.
func CloseFirst(t TB, brokerURL string, close func() error) *Broker {
	b := &Broker{url: brokerURL}
	t.Cleanup(func() {
		_ = close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.clients {
			closeClient(c)
		}
	})
	return b
}

// URL is the broker's mqtt:// address.
func (b *Broker) URL() string { return b.url }

// Connect is the package's Connect to b, with the client closed after b.
func (b *Broker) Connect(t TB, id string, configure ...func(*mqttclient.Options)) *mqttclient.Client {
	t.Helper()
	c := connect(t, b.url, id, configure)
	b.mu.Lock()
	b.clients = append(b.clients, c)
	b.mu.Unlock()
	return c
}

// connect is Connect without the cleanup; a client that does not come up
// is closed.
func connect(t TB, brokerURL, id string, configure []func(*mqttclient.Options)) *mqttclient.Client {
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
	select {
	case <-up:
	case <-time.After(wait.Timeout):
		closeClient(c)
		t.Fatalf("client %s did not connect to %s", id, brokerURL)
	}
	return c
}

func closeClient(c *mqttclient.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.Close(ctx)
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
	wait.Until(t, fmt.Sprintf("%d messages", n), func() error {
		if got := in.Len(); got < n {
			return fmt.Errorf("got %d", got)
		}
		return nil
	})
	return in.All()
}
