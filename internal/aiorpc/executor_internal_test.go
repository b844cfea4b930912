package aiorpc

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// memClient stands in for *mqttclient.Client in virtual time: deliver calls
// the subscription's handler as the client's receive path does, and
// Publish records.
type memClient struct {
	mu           sync.Mutex
	handlers     map[string]mqttclient.Handler
	published    []mqttclient.Message
	unsubscribed []string
}

func (c *memClient) Subscribe(_ context.Context, filter string, _ byte, h mqttclient.Handler) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handlers == nil {
		c.handlers = map[string]mqttclient.Handler{}
	}
	c.handlers[filter] = h
	return nil
}

func (c *memClient) Unsubscribe(_ context.Context, filter string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.handlers, filter)
	c.unsubscribed = append(c.unsubscribed, filter)
	return nil
}

func (c *memClient) Publish(_ context.Context, m *mqttclient.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published = append(c.published, *m)
	return nil
}

func (c *memClient) deliver(m mqttclient.Message) {
	c.mu.Lock()
	var hs []mqttclient.Handler
	for f, h := range c.handlers {
		if mqttclient.MatchTopic(f, m.Topic) {
			hs = append(hs, h)
		}
	}
	c.mu.Unlock()
	for _, h := range hs {
		h(m)
	}
}

func (c *memClient) sent() []mqttclient.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.published)
}

const memTopic = "mgmt/exec-1/grp/act"

// memRequest is a valid request with correlation data of the byte corr.
func memRequest(corr byte, expiry uint32) mqttclient.Message {
	return mqttclient.Message{
		Topic: memTopic, QoS: 1, MessageExpiry: expiry,
		ResponseTopic:   "clients/inv/" + memTopic,
		CorrelationData: bytes.Repeat([]byte{corr}, 16),
		Payload:         []byte(`{"x":1}`), ContentType: ContentTypeJSON, UTF8Payload: true,
		UserProperties: []mqttclient.UserProperty{
			{Key: PropProtocolVersion, Value: ProtocolVersion},
			{Key: PropSourceID, Value: "inv"},
			{Key: PropTimestamp, Value: "000000000000001:00000:inv-node"},
		},
	}
}

func startMem(t *testing.T, o ExecutorOptions) (*Executor, *memClient) {
	t.Helper()
	c := &memClient{}
	o.RequestTopic = cmpOr(o.RequestTopic, "mgmt/{executorId}/grp/act")
	o.CommandName = cmpOr(o.CommandName, "grp::act")
	e, err := newExecutor(context.Background(), c, "exec-1", NewClockAt("exec-node", time.Now), o, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func prop(m mqttclient.Message, key string) string {
	v, _ := m.Property(key)
	return v
}

// closeMem closes e and fails the test if that fails.
func closeMem(t *testing.T, e *Executor) {
	t.Helper()
	if err := e.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestExecutorExecutionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var deadline time.Time
		e, c := startMem(t, ExecutorOptions{Handle: func(ctx context.Context, _ CommandRequest) (CommandResponse, error) {
			deadline, _ = ctx.Deadline()
			<-ctx.Done()
			return CommandResponse{Payload: []byte("late")}, nil
		}})
		start := time.Now()
		c.deliver(memRequest(1, 60))
		time.Sleep(DefaultExecutionTimeout)
		synctest.Wait()
		if !deadline.Equal(start.Add(DefaultExecutionTimeout)) {
			t.Errorf("handler deadline %v after the start, want the default timeout %v", deadline.Sub(start), DefaultExecutionTimeout)
		}
		sent := c.sent()
		if len(sent) != 1 {
			t.Fatalf("%d responses, want 1", len(sent))
		}
		r := sent[0]
		want := map[string]string{"__stat": "408", "__apErr": "false", "__propName": "ExecutionTimeout", "__propVal": "PT30S",
			"__stMsg": "command grp::act timed out after 30s"}
		for k, v := range want {
			if got := prop(r, k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if r.MessageExpiry != 30 || len(r.Payload) != 0 {
			t.Errorf("expiry %d payload %q, want the 30 s left and no payload", r.MessageExpiry, r.Payload)
		}
		closeMem(t, e)
	})
}

func TestExecutorMessageExpiryEndsTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ctxErr error
		e, c := startMem(t, ExecutorOptions{Handle: func(ctx context.Context, _ CommandRequest) (CommandResponse, error) {
			<-ctx.Done()
			ctxErr = ctx.Err()
			return CommandResponse{}, nil
		}})
		c.deliver(memRequest(1, 5)) // expires long before the 30 s timeout
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if !errors.Is(ctxErr, context.DeadlineExceeded) {
			t.Errorf("handler context: %v, want the deadline of the message expiry", ctxErr)
		}
		if sent := c.sent(); len(sent) != 0 {
			t.Errorf("%d responses to an expired request, want none: %v", len(sent), sent)
		}
		closeMem(t, e)
	})
}

func TestExecutorResponseExpiryIsWhatIsLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, c := startMem(t, ExecutorOptions{Handle: func(context.Context, CommandRequest) (CommandResponse, error) {
			time.Sleep(2500 * time.Millisecond)
			return CommandResponse{Payload: []byte(`{}`), ContentType: ContentTypeJSON}, nil
		}})
		c.deliver(memRequest(1, 10))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		sent := c.sent()
		if len(sent) != 1 || prop(sent[0], PropStatus) != "200" || sent[0].MessageExpiry != 8 {
			t.Fatalf("responses %+v, want one 200 with expiry 8 (7.5 s left, rounded up)", sent)
		}
		closeMem(t, e)
	})
}

func TestExecutorCacheLastsTheRequestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		e, c := startMem(t, ExecutorOptions{Handle: func(context.Context, CommandRequest) (CommandResponse, error) {
			calls.Add(1)
			return CommandResponse{Payload: []byte("ok")}, nil
		}})
		c.deliver(memRequest(1, 10))
		synctest.Wait()
		time.Sleep(9 * time.Second)
		c.deliver(memRequest(1, 10)) // a duplicate: from the cache
		synctest.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times for a duplicate within the expiry, want 1", n)
		}
		sent := c.sent()
		if len(sent) != 2 || !slices.Equal(sent[0].UserProperties, sent[1].UserProperties) || sent[1].MessageExpiry != 10 {
			t.Errorf("responses %+v, want the first sent again as it was, with the duplicate's expiry", sent)
		}
		time.Sleep(time.Second) // the first request's expiry: its entry goes
		c.deliver(memRequest(1, 10))
		synctest.Wait()
		if n := calls.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2: after the expiry a request is new", n)
		}
		closeMem(t, e)
	})
}

func TestExecutorDuplicateWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		e, c := startMem(t, ExecutorOptions{Handle: func(context.Context, CommandRequest) (CommandResponse, error) {
			calls.Add(1)
			<-release
			return CommandResponse{Payload: []byte("ok")}, nil
		}})
		c.deliver(memRequest(1, 10))
		synctest.Wait()
		c.deliver(memRequest(1, 10)) // returns at once: nothing to run
		synctest.Wait()
		if n := len(c.sent()); n != 0 {
			t.Fatalf("%d responses before the handler returned", n)
		}
		close(release)
		synctest.Wait()
		sent := c.sent()
		if calls.Load() != 1 || len(sent) != 2 || !slices.Equal(sent[0].UserProperties, sent[1].UserProperties) {
			t.Errorf("handler ran %d times, %d responses; want once, and the response sent for both requests", calls.Load(), len(sent))
		}
		closeMem(t, e)
	})
}

func TestExecutorConcurrencyIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, peak atomic.Int32
		release := make(chan struct{})
		e, c := startMem(t, ExecutorOptions{Concurrency: 2, Handle: func(context.Context, CommandRequest) (CommandResponse, error) {
			n := running.Add(1)
			if n > peak.Load() {
				peak.Store(n)
			}
			<-release
			running.Add(-1)
			return CommandResponse{}, nil
		}})
		delivered := make(chan struct{})
		go func() { // the receive path: one request after the other
			for i := range 3 {
				c.deliver(memRequest(byte(i+1), 60))
			}
			close(delivered)
		}()
		synctest.Wait()
		select {
		case <-delivered:
			t.Fatal("the third request was taken while two ran")
		default:
		}
		if n := running.Load(); n != 2 {
			t.Fatalf("%d handlers running, want 2", n)
		}
		release <- struct{}{} // one returns; the third starts
		synctest.Wait()
		<-delivered
		close(release)
		synctest.Wait()
		if p, n := peak.Load(), len(c.sent()); p != 2 || n != 3 {
			t.Errorf("peak %d handlers, %d responses; want 2 and 3", p, n)
		}
		closeMem(t, e)
	})
}

func TestExecutorCloseWaitsForTheHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		e, c := startMem(t, ExecutorOptions{Handle: func(context.Context, CommandRequest) (CommandResponse, error) {
			calls.Add(1)
			<-release
			return CommandResponse{Payload: []byte("done")}, nil
		}})
		c.deliver(memRequest(1, 60))
		synctest.Wait()
		closed := make(chan error, 1)
		go func() { closed <- e.Close(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while a handler ran", err)
		default:
		}
		c.mu.Lock()
		unsubscribed := slices.Clone(c.unsubscribed)
		c.mu.Unlock()
		if got := unsubscribed; !slices.Equal(got, []string{"mgmt/exec-1/grp/act"}) {
			t.Errorf("unsubscribed %v, want the request filter", got)
		}
		e.onRequest(context.Background(), memRequest(2, 60)) // arrives during Close
		close(release)
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
		sent := c.sent()
		if calls.Load() != 1 || len(sent) != 1 || string(sent[0].Payload) != "done" {
			t.Errorf("handler ran %d times, responses %+v; want the running request answered, the late one dropped", calls.Load(), sent)
		}
	})
}

func TestExecutorCloseCutsShortWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ctxErr error
		var returned atomic.Bool
		e, c := startMem(t, ExecutorOptions{Handle: func(ctx context.Context, _ CommandRequest) (CommandResponse, error) {
			<-ctx.Done()
			ctxErr = ctx.Err()
			time.Sleep(time.Second) // winding down after the cancellation
			returned.Store(true)
			return CommandResponse{Payload: []byte("cut")}, nil
		}})
		c.deliver(memRequest(1, 60))
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := e.Close(ctx)
		want := `close command executor "grp::act": requests cut short: context deadline exceeded`
		if err == nil || err.Error() != want {
			t.Errorf("Close: %v, want %q", err, want)
		}
		if !returned.Load() {
			t.Fatal("Close returned before the handler it cancelled")
		}
		if !errors.Is(ctxErr, context.Canceled) {
			t.Errorf("handler context: %v, want cancelled", ctxErr)
		}
		if sent := c.sent(); len(sent) != 0 {
			t.Errorf("responses %+v, want none for a request cut short by Close", sent)
		}
	})
}

func TestExecutorCloseReleasesTheWaitingReceivePath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		e, c := startMem(t, ExecutorOptions{Concurrency: 1, Handle: func(context.Context, CommandRequest) (CommandResponse, error) {
			<-release
			return CommandResponse{}, nil
		}})
		c.deliver(memRequest(1, 60))
		delivered := make(chan struct{})
		go func() {
			c.deliver(memRequest(2, 60)) // waits for the one slot
			close(delivered)
		}()
		synctest.Wait()
		closed := make(chan error, 1)
		go func() { closed <- e.Close(context.Background()) }()
		synctest.Wait()
		select {
		case <-delivered:
		default:
			t.Fatal("the receive path still waits for a slot after Close")
		}
		close(release)
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
		if n := len(c.sent()); n != 1 {
			t.Errorf("%d responses, want 1 (the request taken before Close)", n)
		}
	})
}

func TestExecutorHandlerPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, c := startMem(t, ExecutorOptions{Handle: func(context.Context, CommandRequest) (CommandResponse, error) {
			panic("boom")
		}})
		c.deliver(memRequest(1, 60))
		synctest.Wait()
		sent := c.sent()
		if len(sent) != 1 || prop(sent[0], PropStatus) != "500" || prop(sent[0], PropIsApplicationError) != "true" ||
			!strings.Contains(prop(sent[0], PropStatusMessage), "panicked: boom") {
			t.Errorf("responses %+v, want 500 with __apErr true and the panic", sent)
		}
		closeMem(t, e)
	})
}
