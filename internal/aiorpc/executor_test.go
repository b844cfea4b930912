package aiorpc_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// startExecutor connects a client with id to b and serves o on it; the
// executor is closed when the test ends, before the broker.
func startExecutor(t *testing.T, b *mqtttest.Broker, id string, o aiorpc.ExecutorOptions, log zerolog.Logger) *aiorpc.Executor {
	t.Helper()
	if o.CommandName == "" {
		o.CommandName = "grp::act"
	}
	e, err := aiorpc.NewExecutor(context.Background(), b.Connect(t, id), id, aiorpc.NewClock(), o, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func respond(resp aiorpc.CommandResponse, err error) func(context.Context, aiorpc.CommandRequest) (aiorpc.CommandResponse, error) {
	return func(context.Context, aiorpc.CommandRequest) (aiorpc.CommandResponse, error) { return resp, err }
}

func property(m mqttclient.Message, key string) string {
	v, _ := m.Property(key)
	return v
}

func TestExecutorServesTheInvoker(t *testing.T) {
	b := mqtttest.Embedded(t)
	var mu sync.Mutex
	var got aiorpc.CommandRequest
	e := startExecutor(t, b, "exec-a", aiorpc.ExecutorOptions{
		RequestTopic: "mgmt/{executorId}/{ex:unit}/{commandName}",
		Handle: func(_ context.Context, req aiorpc.CommandRequest) (aiorpc.CommandResponse, error) {
			mu.Lock()
			got = req
			mu.Unlock()
			return aiorpc.CommandResponse{
				Payload: []byte(`{"ok":true}`), ContentType: aiorpc.ContentTypeJSON, UTF8Payload: true,
				UserProperties: []mqttclient.UserProperty{{Key: "x-resp", Value: "1"}},
			}, nil
		},
	}, zerolog.Nop())
	if f := e.Filter(); f != "mgmt/exec-a/+/grp::act" {
		t.Errorf("filter %q, want mgmt/exec-a/+/grp::act", f)
	}
	inv := newInvoker(t, b, "inv-a", "clients/inv-a/mgmt/#")

	resp, err := inv.InvokeRequest(context.Background(), "mgmt/exec-a/u7/grp::act", aiorpc.Request{
		Payload: []byte(`{"setpoint":21}`), ContentType: aiorpc.ContentTypeJSON, UTF8Payload: true,
		UserProperties: []mqttclient.UserProperty{{Key: "x-req", Value: "v"}},
		Timeout:        5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Payload) != `{"ok":true}` || resp.ContentType != aiorpc.ContentTypeJSON || !resp.Message.UTF8Payload {
		t.Errorf("response %d %q %q PFI %v, want 200 with the handler's JSON", resp.Status, resp.Payload, resp.ContentType, resp.Message.UTF8Payload)
	}
	m := resp.Message
	for k, want := range map[string]string{"__protVer": "1.0", "__srcId": "exec-a", "$high_priority": "", "x-resp": "1"} {
		if v, ok := m.Property(k); !ok || v != want {
			t.Errorf("response %s = %q (present %v), want %q", k, v, ok, want)
		}
	}
	if _, err := aiorpc.ParseTimestamp(property(m, "__ts")); err != nil {
		t.Errorf("response __ts: %v", err)
	}
	for _, k := range []string{"__stMsg", "__apErr", "__propName", "AppErrCode"} {
		if _, ok := m.Property(k); ok {
			t.Errorf("a success carries %s", k)
		}
	}
	if m.QoS != 1 || m.MessageExpiry < 1 || m.MessageExpiry > 5 {
		t.Errorf("response QoS %d expiry %d, want 1 and what is left of 5 s", m.QoS, m.MessageExpiry)
	}

	mu.Lock()
	defer mu.Unlock()
	wantTokens := map[string]string{"executorId": "exec-a", "ex:unit": "u7", "commandName": "grp::act"}
	if got.Topic != "mgmt/exec-a/u7/grp::act" || !maps.Equal(got.TopicTokens, wantTokens) {
		t.Errorf("request topic %q tokens %v, want the topic and %v", got.Topic, got.TopicTokens, wantTokens)
	}
	if string(got.Payload) != `{"setpoint":21}` || got.ContentType != aiorpc.ContentTypeJSON || !got.UTF8Payload {
		t.Errorf("request payload %q %q PFI %v", got.Payload, got.ContentType, got.UTF8Payload)
	}
	if got.Invoker != "inv-a" || got.Timestamp.Node == "" || len(got.CorrelationData) != 16 {
		t.Errorf("invoker %q timestamp %+v correlation %x", got.Invoker, got.Timestamp, got.CorrelationData)
	}
	if want := []mqttclient.UserProperty{{Key: "x-req", Value: "v"}}; !slices.Equal(got.UserProperties, want) {
		t.Errorf("request user properties %v, want only the invoker's own %v", got.UserProperties, want)
	}
}

func TestExecutorOutcomes(t *testing.T) {
	b := mqtttest.Embedded(t)
	inv := newInvoker(t, b, "inv-o", "clients/inv-o/outcome/#")
	tests := []struct {
		name       string
		o          aiorpc.ExecutorOptions
		req        aiorpc.Request
		wantStatus int    // success
		wantErr    string // *RemoteError.Error()
		wantKind   aiorpc.ErrorKind
		wantAppErr *aiorpc.ApplicationError
	}{
		{name: "no content", o: aiorpc.ExecutorOptions{Handle: respond(aiorpc.CommandResponse{ContentType: "ignored"}, nil)}, wantStatus: 204},
		{name: "application error with a payload",
			o: aiorpc.ExecutorOptions{Handle: respond(aiorpc.CommandResponse{Payload: []byte(`{"device":"busy"}`)},
				fmt.Errorf("reset: %w", &aiorpc.ApplicationError{Code: "DeviceBusy", Payload: `{"retryAfter":5}`}))},
			wantStatus: 200, wantAppErr: &aiorpc.ApplicationError{Code: "DeviceBusy", Payload: `{"retryAfter":5}`}},
		{name: "application error alone",
			o:          aiorpc.ExecutorOptions{Handle: respond(aiorpc.CommandResponse{}, &aiorpc.ApplicationError{Code: "NotFound"})},
			wantStatus: 204, wantAppErr: &aiorpc.ApplicationError{Code: "NotFound"}},
		{name: "handler error",
			o:       aiorpc.ExecutorOptions{Handle: respond(aiorpc.CommandResponse{}, errors.New("device said 503"))},
			wantErr: "status 500 execution exception: device said 503", wantKind: aiorpc.KindExecutionException},
		{name: "invalid payload",
			o:       aiorpc.ExecutorOptions{Handle: respond(aiorpc.CommandResponse{}, fmt.Errorf("%w: want an object", aiorpc.ErrInvalidPayload))},
			wantErr: "status 400 payload invalid: invalid request payload: want an object", wantKind: aiorpc.KindPayloadInvalid},
		{name: "reserved response property",
			o:       aiorpc.ExecutorOptions{Handle: respond(aiorpc.CommandResponse{UserProperties: []mqttclient.UserProperty{{Key: "__stat", Value: "200"}}}, nil)},
			wantErr: "status 500 execution exception: response user property __stat is reserved", wantKind: aiorpc.KindExecutionException},
		{name: "application error without code",
			o:       aiorpc.ExecutorOptions{Handle: respond(aiorpc.CommandResponse{}, &aiorpc.ApplicationError{})},
			wantErr: "status 500 execution exception: application error without a code", wantKind: aiorpc.KindExecutionException},
		{name: "unsupported content type",
			o:       aiorpc.ExecutorOptions{ContentTypes: []string{aiorpc.ContentTypeJSON}, Handle: respond(aiorpc.CommandResponse{}, nil)},
			req:     aiorpc.Request{Payload: []byte("21"), ContentType: "text/plain"},
			wantErr: `status 415 unsupported content type (Content Type="text/plain"): content type "text/plain" is not supported`, wantKind: aiorpc.KindUnsupportedContentType},
		{name: "accepted content type",
			o:          aiorpc.ExecutorOptions{ContentTypes: []string{aiorpc.ContentTypeJSON}, Handle: respond(aiorpc.CommandResponse{}, nil)},
			req:        aiorpc.Request{Payload: []byte("21"), ContentType: aiorpc.ContentTypeJSON},
			wantStatus: 204},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.RequestTopic = fmt.Sprintf("outcome/%d", i)
			startExecutor(t, b, fmt.Sprintf("exec-o%d", i), tt.o, zerolog.Nop())
			tt.req.Timeout = 5 * time.Second
			resp, err := inv.InvokeRequest(context.Background(), tt.o.RequestTopic, tt.req)
			if tt.wantErr != "" {
				var re *aiorpc.RemoteError
				if !errors.As(err, &re) || re.Error() != tt.wantErr || re.Kind != tt.wantKind {
					t.Fatalf("error %v, want a remote error %q of kind %q", err, tt.wantErr, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.Status, tt.wantStatus)
			}
			if tt.wantStatus == 204 && (len(resp.Payload) != 0 || resp.ContentType != "") {
				t.Errorf("204 with payload %q content type %q", resp.Payload, resp.ContentType)
			}
			appErr, ok := resp.ApplicationError()
			switch {
			case tt.wantAppErr == nil && ok:
				t.Errorf("application error %+v, want none", appErr)
			case tt.wantAppErr != nil && (!ok || *appErr != *tt.wantAppErr):
				t.Errorf("application error %+v (%v), want %+v", appErr, ok, tt.wantAppErr)
			}
			if _, ok := resp.Message.Property(aiorpc.PropAppErrPayload); ok && tt.wantAppErr != nil && tt.wantAppErr.Payload == "" {
				t.Error("AppErrPayload sent for an empty payload")
			}
		})
	}
}

func TestExecutorTimeoutReachesTheInvoker(t *testing.T) {
	b := mqtttest.Embedded(t)
	startExecutor(t, b, "exec-t", aiorpc.ExecutorOptions{
		RequestTopic: "slow/cmd",
		Timeout:      200 * time.Millisecond,
		Handle: func(ctx context.Context, _ aiorpc.CommandRequest) (aiorpc.CommandResponse, error) {
			<-ctx.Done()
			return aiorpc.CommandResponse{}, ctx.Err()
		},
	}, zerolog.Nop())
	inv := newInvoker(t, b, "inv-t", "clients/inv-t/slow/cmd")
	_, err := inv.Invoke(context.Background(), "slow/cmd", nil, false, 10*time.Second)
	var re *aiorpc.RemoteError
	if !errors.As(err, &re) || re.Status != 408 || re.Kind != aiorpc.KindTimeout || re.PropertyName != "ExecutionTimeout" || re.PropertyValue != "PT0.2S" {
		t.Fatalf("error %v, want 408 with ExecutionTimeout PT0.2S", err)
	}
	if !aiorpc.IsTransient(err) {
		t.Error("an executor timeout is not transient")
	}
}

// rawRequest is a valid request for topic, answered on "clients/raw/<name>".
func rawRequest(topic, name string) *mqttclient.Message {
	return &mqttclient.Message{
		Topic: topic, QoS: 1, MessageExpiry: 10,
		ResponseTopic:   "clients/raw/" + name,
		CorrelationData: []byte("0123456789abcdef"),
		UserProperties: []mqttclient.UserProperty{
			{Key: "__protVer", Value: "1.0"}, {Key: "__srcId", Value: "raw"},
			{Key: "__ts", Value: "001753180800123:00000:raw-node"},
		},
	}
}

func setProperty(m *mqttclient.Message, key, value string) {
	for i, p := range m.UserProperties {
		if p.Key == key {
			m.UserProperties[i].Value = value
			return
		}
	}
	m.UserProperties = append(m.UserProperties, mqttclient.UserProperty{Key: key, Value: value})
}

func TestExecutorMalformedRequests(t *testing.T) {
	b := mqtttest.Embedded(t)
	var calls atomic.Int32
	logs := &logbuf.Buffer{}
	startExecutor(t, b, "exec-m", aiorpc.ExecutorOptions{RequestTopic: "raw/cmd", Handle: func(context.Context, aiorpc.CommandRequest) (aiorpc.CommandResponse, error) {
		calls.Add(1)
		return aiorpc.CommandResponse{}, nil
	}}, zerolog.New(logs))
	raw := b.Connect(t, "raw")
	inbox := mqtttest.Subscribe(t, raw, "clients/raw/#")
	tests := []struct {
		name     string
		mutate   func(*mqttclient.Message)
		want     map[string]string
		wantCorr string
	}{
		{"no correlation data", func(m *mqttclient.Message) { m.CorrelationData = nil },
			map[string]string{"__stat": "400", "__propName": "Correlation Data", "__stMsg": "correlation data missing"}, ""},
		{"short correlation data", func(m *mqttclient.Message) { m.CorrelationData = []byte("abcde") },
			map[string]string{"__stat": "400", "__propName": "Correlation Data", "__propVal": "abcde"}, "abcde"},
		{"no message expiry", func(m *mqttclient.Message) { m.MessageExpiry = 0 },
			map[string]string{"__stat": "400", "__propName": "Message Expiry", "__stMsg": "message expiry missing"}, "0123456789abcdef"},
		{"major version 2", func(m *mqttclient.Message) { setProperty(m, "__protVer", "2.0") },
			map[string]string{"__stat": "505", "__supProtMajVer": "1", "__requestProtVer": "2.0"}, "0123456789abcdef"},
		{"unparsable version", func(m *mqttclient.Message) { setProperty(m, "__protVer", "one") },
			map[string]string{"__stat": "505", "__supProtMajVer": "1", "__requestProtVer": "one"}, "0123456789abcdef"},
		{"bad timestamp", func(m *mqttclient.Message) { setProperty(m, "__ts", "yesterday") },
			map[string]string{"__stat": "400", "__propName": "__ts", "__propVal": "yesterday"}, "0123456789abcdef"},
	}
	for _, tt := range tests {
		m := rawRequest("raw/cmd", strings.ReplaceAll(tt.name, " ", "-"))
		tt.mutate(m)
		if err := raw.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	inbox.Wait(t, len(tests))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inbox.On("clients/raw/" + strings.ReplaceAll(tt.name, " ", "-"))
			if len(got) != 1 {
				t.Fatalf("%d responses, want 1", len(got))
			}
			r := got[0].Message
			for k, v := range tt.want {
				if p := property(r, k); p != v {
					t.Errorf("%s = %q, want %q", k, p, v)
				}
			}
			if property(r, "__apErr") != "false" || string(r.CorrelationData) != tt.wantCorr || r.QoS != 1 || r.MessageExpiry == 0 {
				t.Errorf("__apErr %q correlation %q QoS %d expiry %d; want false, %q, 1, > 0",
					property(r, "__apErr"), r.CorrelationData, r.QoS, r.MessageExpiry, tt.wantCorr)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times for malformed requests", n)
	}
	if n := logs.Count("command request refused"); n != len(tests) {
		t.Errorf("%d refusals logged, want %d", n, len(tests))
	}
}

func TestExecutorDropsRequestsWithoutResponseTopic(t *testing.T) {
	b := mqtttest.Embedded(t)
	logs := &logbuf.Buffer{}
	var calls atomic.Int32
	startExecutor(t, b, "exec-d", aiorpc.ExecutorOptions{RequestTopic: "raw/cmd", Handle: func(context.Context, aiorpc.CommandRequest) (aiorpc.CommandResponse, error) {
		calls.Add(1)
		return aiorpc.CommandResponse{}, nil
	}}, zerolog.New(logs))
	raw := b.Connect(t, "raw")
	inbox := mqtttest.Subscribe(t, raw, "#")
	for _, rt := range []string{"", "clients/raw/+", "clients//x"} {
		m := rawRequest("raw/cmd", "x")
		m.ResponseTopic = rt
		if err := raw.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	const msg = "command request without a valid response topic dropped"
	wait.For(t, "three drops logged", func() bool { return logs.Count(msg) == 3 })
	// A valid request after them is answered; nothing else was published.
	if err := raw.Publish(context.Background(), rawRequest("raw/cmd", "ok")); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the valid request's response", func() bool { return len(inbox.On("clients/raw/ok")) == 1 })
	for _, m := range inbox.All() {
		if m.Topic != "raw/cmd" && m.Topic != "clients/raw/ok" {
			t.Errorf("published on %s", m.Topic)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want once, for the valid request", n)
	}
}

func TestExecutorAnswersDuplicatesFromTheCache(t *testing.T) {
	b := mqtttest.Embedded(t)
	var calls atomic.Int32
	startExecutor(t, b, "exec-c", aiorpc.ExecutorOptions{RequestTopic: "raw/cmd", Handle: func(context.Context, aiorpc.CommandRequest) (aiorpc.CommandResponse, error) {
		n := calls.Add(1)
		return aiorpc.CommandResponse{Payload: fmt.Appendf(nil, "run %d", n)}, nil
	}}, zerolog.Nop())
	raw := b.Connect(t, "raw")
	inbox := mqtttest.Subscribe(t, raw, "clients/raw/#")
	for range 2 {
		if err := raw.Publish(context.Background(), rawRequest("raw/cmd", "dup")); err != nil {
			t.Fatal(err)
		}
	}
	got := inbox.Wait(t, 2)
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times for a request and its duplicate, want once", n)
	}
	a, d := got[0].Message, got[1].Message
	if string(a.Payload) != "run 1" || string(d.Payload) != "run 1" || !slices.Equal(a.UserProperties, d.UserProperties) {
		t.Errorf("responses %q %v and %q %v, want the same twice", a.Payload, a.UserProperties, d.Payload, d.UserProperties)
	}
	// An equivalent request (new correlation data) runs again.
	again := rawRequest("raw/cmd", "dup")
	again.CorrelationData = []byte("fedcba9876543210")
	if err := raw.Publish(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Wait(t, 3); string(got[2].Payload) != "run 2" {
		t.Errorf("equivalent request answered %q, want run 2", got[2].Payload)
	}
}

func TestExecutorSharedSubscription(t *testing.T) {
	b := mqtttest.Embedded(t)
	e := startExecutor(t, b, "exec-s", aiorpc.ExecutorOptions{RequestTopic: "shared/cmd", ShareName: "connectors",
		Handle: respond(aiorpc.CommandResponse{Payload: []byte("hi")}, nil)}, zerolog.Nop())
	if f := e.Filter(); f != "$share/connectors/shared/cmd" {
		t.Errorf("filter %q", f)
	}
	inv := newInvoker(t, b, "inv-s", "clients/inv-s/shared/cmd")
	resp, err := inv.Invoke(context.Background(), "shared/cmd", nil, false, 5*time.Second)
	if err != nil || string(resp.Payload) != "hi" {
		t.Fatalf("response %q, %v; want hi", resp.Payload, err)
	}
}

func TestExecutorCloseUnsubscribes(t *testing.T) {
	b := mqtttest.Embedded(t)
	e, err := aiorpc.NewExecutor(context.Background(), b.Connect(t, "exec-u"), "exec-u", aiorpc.NewClock(),
		aiorpc.ExecutorOptions{RequestTopic: "gone/cmd", CommandName: "c", Handle: respond(aiorpc.CommandResponse{}, nil)}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	inv := newInvoker(t, b, "inv-u", "clients/inv-u/gone/cmd")
	if _, err := inv.Invoke(context.Background(), "gone/cmd", nil, false, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err = inv.Invoke(context.Background(), "gone/cmd", nil, false, 500*time.Millisecond)
	if !errors.Is(err, aiorpc.ErrTimeout) {
		t.Errorf("after Close: %v, want no response", err)
	}
}

func TestNewExecutorRefusesBadOptions(t *testing.T) {
	b := mqtttest.Embedded(t)
	client := b.Connect(t, "exec-bad")
	ok := respond(aiorpc.CommandResponse{}, nil)
	tests := []struct {
		name string
		o    aiorpc.ExecutorOptions
		want string
	}{
		{"no command name", aiorpc.ExecutorOptions{RequestTopic: "a", Handle: ok}, `command executor "": empty command name`},
		{"no handler", aiorpc.ExecutorOptions{RequestTopic: "a", CommandName: "c"}, `command executor "c": no handler`},
		{"bad topic", aiorpc.ExecutorOptions{RequestTopic: "a/#", CommandName: "c", Handle: ok},
			`command executor "c": request topic "a/#": level "#" holds a character not allowed in a topic`},
		{"bad command name in topic", aiorpc.ExecutorOptions{RequestTopic: "a/{commandName}", CommandName: "grp act", Handle: ok},
			`command executor "grp act": request topic "a/{commandName}": value "grp act" of token {commandName} is not a valid topic`},
		{"negative timeout", aiorpc.ExecutorOptions{RequestTopic: "a", CommandName: "c", Handle: ok, Timeout: -time.Second},
			`command executor "c": negative timeout -1s`},
		{"bad share name", aiorpc.ExecutorOptions{RequestTopic: "a", CommandName: "c", Handle: ok, ShareName: "a/b"},
			`command executor "c": share name "a/b" is not a topic level`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := aiorpc.NewExecutor(context.Background(), client, "exec-bad", aiorpc.NewClock(), tt.o, zerolog.Nop())
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if e != nil {
				t.Error("an executor came back with the error")
			}
		})
	}
}
