package aiorpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
)

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

func newExecutor(t *testing.T, b *mqtttest.Broker, filter string, respond func(n int, req mqttclient.Message) *mqttclient.Message) *executor {
	t.Helper()
	e := &executor{t: t, client: b.Connect(t, "executor-"+t.Name()), respond: respond}
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

func newInvoker(t *testing.T, b *mqtttest.Broker, id string, filter string) *aiorpc.Invoker {
	t.Helper()
	inv := aiorpc.NewInvoker(b.Connect(t, id), id, aiorpc.NewClock(), zerolog.Nop())
	if err := inv.Prepare(context.Background(), filter); err != nil {
		t.Fatal(err)
	}
	return inv
}

func zeroLog() zerolog.Logger { return zerolog.Nop() }
