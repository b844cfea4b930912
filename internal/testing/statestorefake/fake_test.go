package statestorefake_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/statestore"
	"github.com/http-connector/http-connector/internal/statestore/resp3"
	"github.com/http-connector/http-connector/internal/testing/statestorefake"
)

// rig is the fake plus a raw MQTT client that sends hand-made requests.
type rig struct {
	fake  *statestorefake.Fake
	raw   *mqttclient.Client
	resps chan mqttclient.Message

	mu  sync.Mutex
	now time.Time // the fake's clock
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var list []*mqttclient.Client
	// The broker closes before the clients: mochi v2.7.9 can deadlock in
	// Close when a client disconnects at the same moment.
	t.Cleanup(func() {
		_ = b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range list {
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	connect := func(id string) *mqttclient.Client {
		up := make(chan struct{})
		var once sync.Once
		c, err := mqttclient.Connect(context.Background(), mqttclient.Options{
			Servers: []*url.URL{u}, ClientID: id, KeepAlive: 30, CleanStart: true, Logger: zerolog.Nop(),
			OnConnectionUp: func(context.Context, bool) { once.Do(func() { close(up) }) },
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		list = append(list, c)
		mu.Unlock()
		select {
		case <-up:
		case <-time.After(5 * time.Second):
			t.Fatalf("client %s did not connect", id)
		}
		return c
	}
	r := &rig{raw: connect("tester"), resps: make(chan mqttclient.Message, 10), now: time.Now()}
	fake, err := statestorefake.Start(context.Background(), connect("statestore"), statestorefake.Options{
		Now: r.clock, Logger: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	r.fake = fake
	if err := r.raw.Subscribe(context.Background(), "clients/tester/#", 1, func(m mqttclient.Message) { r.resps <- m }); err != nil {
		t.Fatal(err)
	}
	return r
}

var requests atomic.Uint64

// request is a well-formed request from client "tester", with correlation
// data of its own (the fake replays the answer to a repeated one).
func request(payload string) *mqttclient.Message {
	corr := []byte(fmt.Sprintf("%016d", requests.Add(1)))
	return &mqttclient.Message{
		Topic: statestore.RequestTopic, QoS: 1, MessageExpiry: 10, Payload: []byte(payload),
		ResponseTopic: "clients/tester/" + statestore.RequestTopic, CorrelationData: corr,
		UserProperties: []mqttclient.UserProperty{
			{Key: "__protVer", Value: "1.0"}, {Key: "__srcId", Value: "tester"},
			{Key: "__ts", Value: stamp(time.Now())}, {Key: "$high_priority", Value: ""},
		},
	}
}

func stamp(t time.Time) string {
	return aiorpc.NewClockAt("tester", func() time.Time { return t }).Now()
}

func cmd(args ...string) string {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return string(resp3.Command(b...))
}

// with replaces or, for an empty value "-", removes a user property.
func with(m *mqttclient.Message, key, value string) *mqttclient.Message {
	var props []mqttclient.UserProperty
	found := false
	for _, p := range m.UserProperties {
		if p.Key == key {
			found = true
			if value == "-" {
				continue
			}
			p.Value = value
		}
		props = append(props, p)
	}
	if !found && value != "-" {
		props = append(props, mqttclient.UserProperty{Key: key, Value: value})
	}
	m.UserProperties = props
	return m
}

// send publishes m and returns the response, or false when none came in
// time (only waited for when wantNone).
func (r *rig) send(t *testing.T, m *mqttclient.Message, wantNone bool) (mqttclient.Message, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	before := len(r.fake.Calls(""))
	if err := r.raw.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	if wantNone {
		// The fake records the call before it would answer.
		if err := r.fake.Wait(ctx, func() bool { return len(r.fake.Calls("")) > before }); err != nil {
			t.Fatal(err)
		}
		select {
		case resp := <-r.resps:
			return resp, true
		default:
			return mqttclient.Message{}, false
		}
	}
	select {
	case resp := <-r.resps:
		return resp, true
	case <-ctx.Done():
		return mqttclient.Message{}, false
	}
}

func TestRequestValidation(t *testing.T) {
	get := cmd("GET", "k")
	tests := []struct {
		name    string
		req     func() *mqttclient.Message
		status  int    // 0: no response
		payload string // for 200
		props   []string
	}{
		{name: "valid", req: func() *mqttclient.Message { return request(get) }, status: 200, payload: "$-1\r\n"},
		{name: "no message expiry", req: func() *mqttclient.Message { m := request(get); m.MessageExpiry = 0; return m },
			status: 400, props: []string{"__propName", "Message Expiry", "__stMsg", "No message expiry interval present."}},
		{name: "short correlation data", req: func() *mqttclient.Message { m := request(get); m.CorrelationData = []byte("abc"); return m },
			status: 400, props: []string{"__propName", "Correlation Data"}},
		{name: "protocol version 2", req: func() *mqttclient.Message { return with(request(get), "__protVer", "2.0") },
			status: 505, props: []string{"__supProtMajVer", "1", "__requestProtVer", "2.0"}},
		{name: "no protocol version means 1.0", req: func() *mqttclient.Message { return with(request(get), "__protVer", "-") },
			status: 200, payload: "$-1\r\n"},
		{name: "json content type", req: func() *mqttclient.Message { m := request(get); m.ContentType = "application/json"; return m },
			status: 415, props: []string{"__propName", "Content Type", "__propVal", "application/json"}},
		{name: "octet-stream content type", req: func() *mqttclient.Message { m := request(get); m.ContentType = "application/octet-stream"; return m },
			status: 200, payload: "$-1\r\n"},
		{name: "no response topic", req: func() *mqttclient.Message { m := request(get); m.ResponseTopic = ""; return m }},
		{name: "response topic on the command topic", req: func() *mqttclient.Message {
			m := request(get)
			m.ResponseTopic = statestore.RequestTopic + "/x"
			return m
		}},
		{name: "response topic on the notification topics", req: func() *mqttclient.Message {
			m := request(get)
			m.ResponseTopic = statestore.NotifyTopicPrefix + "x"
			return m
		}},
	}
	r := newRig(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req()
			resp, ok := r.send(t, req, tt.status == 0)
			if tt.status == 0 {
				if ok {
					t.Fatalf("got a response %+v, want none", resp)
				}
				if c := r.fake.Calls(""); c[len(c)-1].Status != 0 {
					t.Errorf("call recorded with status %d, want none", c[len(c)-1].Status)
				}
				return
			}
			if !ok {
				t.Fatal("no response")
			}
			if st, _ := resp.Property("__stat"); st != strconv.Itoa(tt.status) {
				t.Fatalf("__stat %s, want %d", st, tt.status)
			}
			if tt.status == 200 && string(resp.Payload) != tt.payload {
				t.Errorf("payload %q, want %q", resp.Payload, tt.payload)
			}
			for i := 0; i+1 < len(tt.props); i += 2 {
				if v, _ := resp.Property(tt.props[i]); v != tt.props[i+1] {
					t.Errorf("%s = %q, want %q", tt.props[i], v, tt.props[i+1])
				}
			}
			if string(resp.CorrelationData) != string(req.CorrelationData) || resp.Topic != req.ResponseTopic || resp.QoS != 1 {
				t.Errorf("correlation %q topic %q qos %d", resp.CorrelationData, resp.Topic, resp.QoS)
			}
			if req.MessageExpiry > 0 && (resp.MessageExpiry == 0 || resp.MessageExpiry > req.MessageExpiry) {
				t.Errorf("response expiry %d, want 1..%d", resp.MessageExpiry, req.MessageExpiry)
			}
			if resp.ContentType != "" || resp.UTF8Payload {
				t.Errorf("content type %q PFI %v, want neither", resp.ContentType, resp.UTF8Payload)
			}
			for _, p := range []string{"__ts", "__protVer", "$high_priority"} {
				if _, ok := resp.Property(p); !ok {
					t.Errorf("no %s", p)
				}
			}
		})
	}
	// The dropped requests, and the one without __protVer (tolerated).
	if v := r.fake.Violations(); len(v) != 4 || strings.Count(strings.Join(v, "\n"), "request dropped") != 3 || !strings.HasSuffix(v[0], "no __protVer user property") {
		t.Errorf("violations %q, want the missing __protVer and 3 dropped requests", v)
	}
}

func TestCommandErrors(t *testing.T) {
	future := stamp(time.Now().Add(2 * time.Minute))
	tests := []struct {
		name    string
		payload string
		props   []string // user properties to set ("-" removes)
		want    string
	}{
		{name: "not RESP3", payload: "GET k", want: "-ERR syntax error\r\n"},
		{name: "empty payload", payload: "", want: "-ERR syntax error\r\n"},
		{name: "empty array", payload: "*0\r\n", want: "-ERR syntax error\r\n"},
		{name: "not blob strings", payload: "*2\r\n$3\r\nGET\r\n:1\r\n", want: "-ERR syntax error\r\n"},
		{name: "unknown command", payload: cmd("PING"), want: "-ERR unknown command\r\n"},
		{name: "GET without key", payload: cmd("GET"), want: "-ERR wrong number of arguments\r\n"},
		{name: "GET with two keys", payload: cmd("GET", "a", "b"), want: "-ERR wrong number of arguments\r\n"},
		{name: "DEL with two keys", payload: cmd("DEL", "a", "b"), want: "-ERR wrong number of arguments\r\n"},
		{name: "VDEL without value", payload: cmd("VDEL", "a"), want: "-ERR wrong number of arguments\r\n"},
		{name: "SET without value", payload: cmd("SET", "a"), want: "-ERR wrong number of arguments\r\n"},
		{name: "empty key", payload: cmd("SET", "", "v"), want: "-ERR the key length is zero\r\n"},
		{name: "SET unknown option", payload: cmd("SET", "k", "v", "XX"), want: "-ERR syntax error\r\n"},
		{name: "SET PX without value", payload: cmd("SET", "k", "v", "PX"), want: "-ERR syntax error\r\n"},
		{name: "SET PX 0", payload: cmd("SET", "k", "v", "PX", "0"), want: "-ERR syntax error\r\n"},
		{name: "SET PX not a number", payload: cmd("SET", "k", "v", "PX", "1s"), want: "-ERR syntax error\r\n"},
		{name: "SET PX twice", payload: cmd("SET", "k", "v", "PX", "10", "PX", "10"), want: "-ERR syntax error\r\n"},
		{name: "SET NX and NEX", payload: cmd("SET", "k", "v", "NX", "NEX"), want: "-ERR syntax error\r\n"},
		{name: "KEYNOTIFY bad option", payload: cmd("KEYNOTIFY", "k", "START"), want: "-ERR syntax error\r\n"},
		{name: "missing timestamp", payload: cmd("GET", "k"), props: []string{"__ts", "-"}, want: "-ERR missing timestamp\r\n"},
		{name: "malformed timestamp", payload: cmd("GET", "k"), props: []string{"__ts", "yesterday"}, want: "-ERR malformed timestamp\r\n"},
		{name: "timestamp in the future", payload: cmd("GET", "k"), props: []string{"__ts", future},
			want: "-ERR " + statestore.MsgTimestampSkew + "\r\n"},
		{name: "malformed fencing token", payload: cmd("SET", "k", "v"), props: []string{"__ft", "1:2"}, want: "-ERR malformed timestamp\r\n"},
		{name: "fencing token in the future", payload: cmd("SET", "k", "v"), props: []string{"__ft", future},
			want: "-ERR " + statestore.MsgFencingTokenSkew + "\r\n"},
		{name: "lower-case command and options", payload: cmd("set", "k", "v", "nx", "px", "10"), want: "+OK\r\n"},
	}
	r := newRig(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := request(tt.payload)
			for j := 0; j+1 < len(tt.props); j += 2 {
				with(m, tt.props[j], tt.props[j+1])
			}
			resp, ok := r.send(t, m, false)
			if !ok {
				t.Fatal("no response")
			}
			if st, _ := resp.Property("__stat"); st != "200" || string(resp.Payload) != tt.want {
				t.Errorf("__stat %s payload %q, want 200 %q", st, resp.Payload, tt.want)
			}
		})
	}
}

func TestDuplicateRequestIsReplayed(t *testing.T) {
	r := newRig(t)
	first := request(cmd("SET", "k", "v", "NX"))
	var got []string
	for range 2 {
		again := *first
		resp, ok := r.send(t, &again, false)
		if !ok {
			t.Fatal("no response")
		}
		got = append(got, string(resp.Payload))
	}
	if got[0] != "+OK\r\n" || got[1] != "+OK\r\n" {
		t.Errorf("answers %q, want +OK twice (the second replayed, not run again)", got)
	}
	resp, _ := r.send(t, request(cmd("SET", "k", "v", "NX")), false)
	if string(resp.Payload) != ":-1\r\n" {
		t.Errorf("new correlation data: %q, want :-1 (the key exists)", resp.Payload)
	}
	if n := len(r.fake.Calls("SET")); n != 3 {
		t.Errorf("%d SET calls recorded, want 3", n)
	}
}

func TestFaults(t *testing.T) {
	r := newRig(t)
	r.fake.Inject("GET", statestorefake.Fault{Times: 2, Status: 503, Message: "busy"})
	r.fake.Inject("", statestorefake.Fault{Times: 1, Error: "not authorized"})
	steps := []struct {
		payload string
		status  string
		want    string
	}{
		{cmd("SET", "k", "v"), "200", "-ERR not authorized\r\n"}, // the any-command fault
		{cmd("GET", "k"), "503", ""},
		{cmd("GET", "k"), "503", ""},
		{cmd("GET", "k"), "200", "$-1\r\n"}, // the SET did not run
		{cmd("SET", "k", "v"), "200", "+OK\r\n"},
	}
	for i, s := range steps {
		m := request(s.payload)
		resp, ok := r.send(t, m, false)
		if !ok {
			t.Fatalf("step %d: no response", i)
		}
		st, _ := resp.Property("__stat")
		if st != s.status || string(resp.Payload) != s.want {
			t.Errorf("step %d: __stat %s payload %q, want %s %q", i, st, resp.Payload, s.status, s.want)
		}
		if s.status == "503" {
			if msg, _ := resp.Property("__stMsg"); msg != "busy" {
				t.Errorf("step %d: __stMsg %q", i, msg)
			}
		}
	}
	calls := r.fake.Calls("")
	if len(calls) != len(steps) || calls[1].Status != 503 || calls[1].Command != "GET" || string(calls[0].Args[0]) != "k" {
		t.Errorf("calls %+v", calls)
	}

	r.fake.Inject("GET", statestorefake.Fault{Times: 1, Drop: true})
	if resp, ok := r.send(t, request(cmd("GET", "k")), true); ok {
		t.Errorf("dropped request answered: %+v", resp)
	}
	if c := r.fake.Calls("GET"); c[len(c)-1].Status != 0 {
		t.Errorf("dropped call recorded with status %d", c[len(c)-1].Status)
	}
}

func TestExpiryFollowsTheClock(t *testing.T) {
	r := newRig(t)
	r.fake.Put([]byte("k"), []byte("v"), time.Second)
	if v, ok := r.fake.Value([]byte("k")); !ok || string(v) != "v" {
		t.Fatalf("Value = %q, %v", v, ok)
	}
	r.advance(time.Second)
	if _, ok := r.fake.Value([]byte("k")); ok {
		t.Error("key still there after its expiry")
	}
	resp, _ := r.send(t, request(cmd("GET", "k")), false)
	if string(resp.Payload) != "$-1\r\n" {
		t.Errorf("GET after expiry: %q", resp.Payload)
	}
}

func TestViolationsOfConventions(t *testing.T) {
	r := newRig(t)
	m := with(with(request(cmd("GET", "k")), "__srcId", "-"), "$high_priority", "-")
	m.UTF8Payload = true
	if _, ok := r.send(t, m, false); !ok {
		t.Fatal("no response")
	}
	want := []string{
		"statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke: no __srcId user property",
		"statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke: $high_priority user property missing or not empty",
		"statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke: payload format indicator 1 on a raw RESP3 payload (DTDL raw/0)",
	}
	if got := r.fake.Violations(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations\n got  %q\n want %q", got, want)
	}
}
