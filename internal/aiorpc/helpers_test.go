package aiorpc_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/mqttclient"
)

// testBroker is the embedded broker and the clients connected to it.
type testBroker struct {
	*broker.Broker
	mu      sync.Mutex
	clients []*mqttclient.Client
}

// startBroker starts a broker. At cleanup it closes the broker before the
// clients: mochi v2.7.9 can deadlock in Close (a recursive read lock in
// Clients.GetByListener) when a client disconnects at the same moment.
func startBroker(t *testing.T) *testBroker {
	t.Helper()
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Broker: b}
	t.Cleanup(func() {
		_ = b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, c := range tb.clients {
			_ = c.Close(ctx)
		}
	})
	return tb
}

func connect(t *testing.T, b *testBroker, id string) *mqttclient.Client {
	t.Helper()
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Wait for OnConnectionUp, not just AwaitConnection: subscriptions made
	// before the client reports itself up are only sent on the next connect.
	up := make(chan struct{})
	var once sync.Once
	c, err := mqttclient.Connect(context.Background(), mqttclient.Options{
		Servers: []*url.URL{u}, ClientID: id, KeepAlive: 30, CleanStart: true, Logger: zerolog.Nop(),
		OnConnectionUp: func(context.Context, bool) { once.Do(func() { close(up) }) },
	})
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.clients = append(b.clients, c)
	b.mu.Unlock()
	select {
	case <-up:
	case <-ctx.Done():
		t.Fatalf("client %s did not connect", id)
	}
	return c
}

// executor answers requests on a topic filter with what respond returns (no
// answer for nil) and records every request.
type executor struct {
	t       *testing.T
	client  *mqttclient.Client
	respond func(n int, req mqttclient.Message) *mqttclient.Message

	mu     sync.Mutex
	reqs   []mqttclient.Message
	closed bool
	wg     sync.WaitGroup
}

func newExecutor(t *testing.T, b *testBroker, filter string, respond func(n int, req mqttclient.Message) *mqttclient.Message) *executor {
	t.Helper()
	e := &executor{t: t, client: connect(t, b, "executor-"+t.Name()), respond: respond}
	t.Cleanup(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.wg.Wait()
	})
	if err := e.client.Subscribe(context.Background(), filter, 1, e.handle); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *executor) handle(req mqttclient.Message) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.reqs = append(e.reqs, req)
	n := len(e.reqs)
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		resp := e.respond(n, req)
		if resp == nil {
			return
		}
		resp.Topic = req.ResponseTopic
		resp.CorrelationData = req.CorrelationData
		resp.QoS = 1
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.client.Publish(ctx, resp); err != nil {
			e.t.Errorf("executor publish: %v", err)
		}
	}()
}

func (e *executor) requests() []mqttclient.Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]mqttclient.Message(nil), e.reqs...)
}

// reply builds a response with __stat and more user properties as key/value
// pairs.
func reply(payload string, kv ...string) *mqttclient.Message {
	m := &mqttclient.Message{Payload: []byte(payload)}
	for i := 0; i+1 < len(kv); i += 2 {
		m.UserProperties = append(m.UserProperties, mqttclient.UserProperty{Key: kv[i], Value: kv[i+1]})
	}
	return m
}

func newInvoker(t *testing.T, b *testBroker, id string, filter string) *aiorpc.Invoker {
	t.Helper()
	inv := aiorpc.NewInvoker(connect(t, b, id), id, aiorpc.NewClock(), zerolog.Nop())
	if err := inv.Prepare(context.Background(), filter); err != nil {
		t.Fatal(err)
	}
	return inv
}

func zeroLog() zerolog.Logger { return zerolog.Nop() }
