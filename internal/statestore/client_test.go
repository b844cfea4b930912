package statestore_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/statestore"
	"github.com/http-connector/http-connector/internal/testing/statestorefake"
)

// clock is the fake's test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rig is a broker with the fake and a client.
type rig struct {
	fake   *statestorefake.Fake
	clock  *clock
	client *statestore.Client
	mqtt   *mqttclient.Client // the client's connection
	u      *url.URL
	cs     *clients
}

// clients closes the MQTT clients of a test after its broker: mochi v2.7.9
// can deadlock in Close when a client disconnects at the same moment, so the
// broker goes first while the clients are idle.
type clients struct {
	mu   sync.Mutex
	list []*mqttclient.Client
}

func (cs *clients) connect(t *testing.T, u *url.URL, id string) *mqttclient.Client {
	t.Helper()
	up := make(chan struct{})
	var once sync.Once
	c, err := mqttclient.Connect(context.Background(), mqttclient.Options{
		Servers: []*url.URL{u}, ClientID: id, KeepAlive: 30, CleanStart: true, Logger: zerolog.Nop(),
		OnConnectionUp: func(context.Context, bool) { once.Do(func() { close(up) }) },
	})
	if err != nil {
		t.Fatal(err)
	}
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	select {
	case <-up:
	case <-time.After(5 * time.Second):
		t.Fatalf("client %s did not connect", id)
	}
	return c
}

func newRig(t *testing.T, timeout time.Duration) *rig {
	t.Helper()
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cs := &clients{}
	t.Cleanup(func() {
		_ = b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs.mu.Lock()
		defer cs.mu.Unlock()
		for _, c := range cs.list {
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	fake, err := statestorefake.Start(context.Background(), cs.connect(t, u, "statestore"), statestorefake.Options{Now: clk.Now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	r := &rig{fake: fake, clock: clk, u: u, cs: cs}
	r.mqtt = cs.connect(t, u, "conn-1")
	r.client = statestore.New(aiorpc.NewInvoker(r.mqtt, "conn-1", aiorpc.NewClock(), zerolog.Nop()), statestore.Options{Timeout: timeout})
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// step is one command of a scenario and its expected answer.
type step struct {
	op        string // set, get, del, vdel
	key, val  string
	opts      statestore.SetOptions
	advance   time.Duration // moves the fake's clock before the command
	wantOK    bool          // set: written; get: found
	wantValue string        // get
	wantN     int           // del, vdel
}

func (r *rig) run(t *testing.T, steps []step) {
	t.Helper()
	ctx := ctxT(t)
	for i, s := range steps {
		r.clock.Advance(s.advance)
		switch s.op {
		case "set":
			got, err := r.client.Set(ctx, []byte(s.key), []byte(s.val), s.opts)
			if err != nil {
				t.Fatalf("step %d: Set(%q, %q, %+v): %v", i, s.key, s.val, s.opts, err)
			}
			if got != s.wantOK {
				t.Errorf("step %d: Set(%q, %q, %+v) = %v, want %v", i, s.key, s.val, s.opts, got, s.wantOK)
			}
		case "get":
			got, found, err := r.client.Get(ctx, []byte(s.key))
			if err != nil {
				t.Fatalf("step %d: Get(%q): %v", i, s.key, err)
			}
			if found != s.wantOK || string(got) != s.wantValue {
				t.Errorf("step %d: Get(%q) = %q, %v; want %q, %v", i, s.key, got, found, s.wantValue, s.wantOK)
			}
			if found && got == nil {
				t.Errorf("step %d: Get(%q) found a nil value, want non-nil", i, s.key)
			}
		case "del":
			n, err := r.client.Del(ctx, []byte(s.key))
			if err != nil {
				t.Fatalf("step %d: Del(%q): %v", i, s.key, err)
			}
			if n != s.wantN {
				t.Errorf("step %d: Del(%q) = %d, want %d", i, s.key, n, s.wantN)
			}
		case "vdel":
			n, err := r.client.VDel(ctx, []byte(s.key), []byte(s.val))
			if err != nil {
				t.Fatalf("step %d: VDel(%q, %q): %v", i, s.key, s.val, err)
			}
			if n != s.wantN {
				t.Errorf("step %d: VDel(%q, %q) = %d, want %d", i, s.key, s.val, n, s.wantN)
			}
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
	}
}

func TestClientCommands(t *testing.T) {
	nx := statestore.SetOptions{Condition: statestore.OnlyIfNotExists}
	nex := statestore.SetOptions{Condition: statestore.OnlyIfEqualOrNotExists}
	tests := []struct {
		name  string
		steps []step
	}{
		{"set get del", []step{
			{op: "get", key: "k"},
			{op: "set", key: "k", val: "v1", wantOK: true},
			{op: "get", key: "k", wantOK: true, wantValue: "v1"},
			{op: "set", key: "k", val: "v2", wantOK: true},
			{op: "get", key: "k", wantOK: true, wantValue: "v2"},
			{op: "del", key: "k", wantN: 1},
			{op: "del", key: "k", wantN: 0},
			{op: "get", key: "k"},
		}},
		{"empty value is found", []step{
			{op: "set", key: "k", val: "", wantOK: true},
			{op: "get", key: "k", wantOK: true, wantValue: ""},
		}},
		{"binary key and value with CRLF", []step{
			{op: "set", key: "\x00k\r\n$3\r\n", val: "*1\r\n\xff\x00\r\n", wantOK: true},
			{op: "get", key: "\x00k\r\n$3\r\n", wantOK: true, wantValue: "*1\r\n\xff\x00\r\n"},
			{op: "get", key: "\x00k"},
			{op: "vdel", key: "\x00k\r\n$3\r\n", val: "*1\r\n\xff\x00\r\n", wantN: 1},
		}},
		{"NX", []step{
			{op: "set", key: "k", val: "a", opts: nx, wantOK: true},
			{op: "set", key: "k", val: "a", opts: nx, wantOK: false},
			{op: "set", key: "k", val: "b", opts: nx, wantOK: false},
			{op: "get", key: "k", wantOK: true, wantValue: "a"},
		}},
		{"NEX", []step{
			{op: "set", key: "k", val: "a", opts: nex, wantOK: true},
			{op: "set", key: "k", val: "a", opts: nex, wantOK: true},
			{op: "set", key: "k", val: "b", opts: nex, wantOK: false},
			{op: "get", key: "k", wantOK: true, wantValue: "a"},
			{op: "set", key: "k", val: "b", wantOK: true},
			{op: "set", key: "k", val: "a", opts: nex, wantOK: false},
		}},
		{"VDEL", []step{
			{op: "vdel", key: "k", val: "a", wantN: 0},
			{op: "set", key: "k", val: "a", wantOK: true},
			{op: "vdel", key: "k", val: "b", wantN: -1},
			{op: "get", key: "k", wantOK: true, wantValue: "a"},
			{op: "vdel", key: "k", val: "a", wantN: 1},
			{op: "vdel", key: "k", val: "a", wantN: 0},
		}},
		{"expiry", []step{
			{op: "set", key: "k", val: "a", opts: statestore.SetOptions{ExpiresIn: 10 * time.Second}, wantOK: true},
			{op: "get", key: "k", advance: 9999 * time.Millisecond, wantOK: true, wantValue: "a"},
			{op: "get", key: "k", advance: time.Millisecond},
			{op: "set", key: "k", val: "a", opts: nx, wantOK: true},
		}},
		{"NEX renews the expiry (a lease)", []step{
			{op: "set", key: "lock", val: "me", opts: statestore.SetOptions{Condition: statestore.OnlyIfEqualOrNotExists, ExpiresIn: time.Second}, wantOK: true},
			{op: "set", key: "lock", val: "me", opts: statestore.SetOptions{Condition: statestore.OnlyIfEqualOrNotExists, ExpiresIn: time.Second}, advance: 900 * time.Millisecond, wantOK: true},
			{op: "set", key: "lock", val: "you", opts: statestore.SetOptions{Condition: statestore.OnlyIfEqualOrNotExists, ExpiresIn: time.Second}, advance: 900 * time.Millisecond, wantOK: false},
			{op: "set", key: "lock", val: "you", opts: statestore.SetOptions{Condition: statestore.OnlyIfEqualOrNotExists, ExpiresIn: time.Second}, advance: 100 * time.Millisecond, wantOK: true},
		}},
		{"set without expiry clears it", []step{
			{op: "set", key: "k", val: "a", opts: statestore.SetOptions{ExpiresIn: time.Second}, wantOK: true},
			{op: "set", key: "k", val: "b", wantOK: true},
			{op: "get", key: "k", advance: time.Hour, wantOK: true, wantValue: "b"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 5*time.Second)
			r.run(t, tt.steps)
			if v := r.fake.Violations(); len(v) != 0 {
				t.Errorf("violations: %q", v)
			}
		})
	}
}

// TestClientWire checks what the client puts on the wire, as the fake
// received it.
func TestClientWire(t *testing.T) {
	tests := []struct {
		name        string
		call        func(ctx context.Context, c *statestore.Client) error
		wantPayload string
		wantFT      string
	}{
		{"set", func(ctx context.Context, c *statestore.Client) error {
			_, err := c.Set(ctx, []byte("key"), []byte("value"), statestore.SetOptions{})
			return err
		}, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", ""},
		{"set NX with expiry rounded up to ms", func(ctx context.Context, c *statestore.Client) error {
			_, err := c.Set(ctx, []byte("k"), []byte("v"), statestore.SetOptions{Condition: statestore.OnlyIfNotExists, ExpiresIn: 1500 * time.Microsecond})
			return err
		}, "*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nPX\r\n$1\r\n2\r\n", ""},
		{"set NEX with fencing token", func(ctx context.Context, c *statestore.Client) error {
			_, err := c.Set(ctx, []byte("f"), []byte("v"), statestore.SetOptions{Condition: statestore.OnlyIfEqualOrNotExists, ExpiresIn: 10 * time.Second, FencingToken: "000000000000005:00001:n"})
			return err
		}, "*6\r\n$3\r\nSET\r\n$1\r\nf\r\n$1\r\nv\r\n$3\r\nNEX\r\n$2\r\nPX\r\n$5\r\n10000\r\n", "000000000000005:00001:n"},
		{"get binary", func(ctx context.Context, c *statestore.Client) error {
			_, _, err := c.Get(ctx, []byte("a\r\nb"))
			return err
		}, "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", ""},
		{"del", func(ctx context.Context, c *statestore.Client) error {
			_, err := c.Del(ctx, []byte("k"))
			return err
		}, "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n", ""},
		{"vdel", func(ctx context.Context, c *statestore.Client) error {
			_, err := c.VDel(ctx, []byte("k"), []byte("v"))
			return err
		}, "*3\r\n$4\r\nVDEL\r\n$1\r\nk\r\n$1\r\nv\r\n", ""},
		{"keynotify", func(ctx context.Context, c *statestore.Client) error {
			return c.KeyNotify(ctx, []byte("k"))
		}, "*2\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n", ""},
		{"keynotify stop", func(ctx context.Context, c *statestore.Client) error {
			return c.KeyNotifyStop(ctx, []byte("k"))
		}, "*3\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n$4\r\nSTOP\r\n", ""},
	}
	r := newRig(t, 2500*time.Millisecond)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.fake.Calls(""))
			if err := tt.call(ctxT(t), r.client); err != nil {
				t.Fatal(err)
			}
			calls := r.fake.Calls("")
			if len(calls) != before+1 {
				t.Fatalf("%d new calls, want 1", len(calls)-before)
			}
			m := calls[len(calls)-1].Request
			if string(m.Payload) != tt.wantPayload {
				t.Errorf("payload %q, want %q", m.Payload, tt.wantPayload)
			}
			if m.ContentType != "" || m.UTF8Payload {
				t.Errorf("content type %q, payload format indicator %v; want neither", m.ContentType, m.UTF8Payload)
			}
			if m.Topic != statestore.RequestTopic || m.QoS != 1 || m.Retain {
				t.Errorf("topic %q qos %d retain %v", m.Topic, m.QoS, m.Retain)
			}
			if want := "clients/conn-1/" + statestore.RequestTopic; m.ResponseTopic != want {
				t.Errorf("response topic %q, want %q", m.ResponseTopic, want)
			}
			if m.MessageExpiry != 3 || len(m.CorrelationData) != 16 {
				t.Errorf("message expiry %d, correlation data %x; want 3 and 16 bytes", m.MessageExpiry, m.CorrelationData)
			}
			var keys []string
			for _, p := range m.UserProperties {
				keys = append(keys, p.Key)
			}
			want := "__protVer,__srcId,__ts,$partition,$high_priority,__invId"
			if tt.wantFT != "" {
				want += ",__ft"
			}
			if got := strings.Join(keys, ","); got != want {
				t.Errorf("user properties %s, want %s", got, want)
			}
			if ft, _ := m.Property("__ft"); ft != tt.wantFT {
				t.Errorf("__ft = %q, want %q", ft, tt.wantFT)
			}
		})
	}
	if v := r.fake.Violations(); len(v) != 0 {
		t.Errorf("violations: %q", v)
	}
}

func TestClientErrors(t *testing.T) {
	r := newRig(t, time.Second)
	set := func(ctx context.Context) error {
		_, err := r.client.Set(ctx, []byte("k"), []byte("v"), statestore.SetOptions{})
		return err
	}
	get := func(ctx context.Context) error {
		_, _, err := r.client.Get(ctx, []byte("k"))
		return err
	}
	tests := []struct {
		name      string
		command   string // of the fault; "" for none
		fault     statestorefake.Fault
		call      func(ctx context.Context) error
		want      string
		transient bool
		service   string // the ServiceError message, if one
	}{
		{name: "-ERR is a service error", command: "SET", fault: statestorefake.Fault{Times: 1, Error: statestore.MsgQuotaExceeded}, call: set,
			want: "state store SET: the quota has been exceeded", service: statestore.MsgQuotaExceeded},
		{name: "-ERR on get", command: "GET", fault: statestorefake.Fault{Times: 1, Error: statestore.MsgNotAuthorized}, call: get,
			want: "state store GET: not authorized", service: statestore.MsgNotAuthorized},
		{name: "503 is transient", command: "SET", fault: statestorefake.Fault{Times: 1, Status: 503, Message: "not ready"}, call: set,
			want: "state store SET: invoke " + statestore.RequestTopic + ": status 503 invalid state: not ready", transient: true},
		{name: "400 is permanent", command: "", fault: statestorefake.Fault{Times: 1, Status: 400}, call: get,
			want: "state store GET: invoke " + statestore.RequestTopic + ": status 400 payload invalid"},
		{name: "dropped request times out", command: "GET", fault: statestorefake.Fault{Times: 1, Drop: true}, call: get,
			want: "state store GET: invoke " + statestore.RequestTopic + ": no response before the command timeout (1s)", transient: true},
		{name: "empty key", call: func(ctx context.Context) error {
			_, err := r.client.Del(ctx, nil)
			return err
		}, want: "state store DEL: empty key"},
		{name: "negative expiry", call: func(ctx context.Context) error {
			_, err := r.client.Set(ctx, []byte("k"), nil, statestore.SetOptions{ExpiresIn: -time.Second})
			return err
		}, want: "state store SET: negative expiry -1s"},
		{name: "unknown condition", call: func(ctx context.Context) error {
			_, err := r.client.Set(ctx, []byte("k"), nil, statestore.SetOptions{Condition: "XX"})
			return err
		}, want: `state store SET: unknown condition "XX"`},
		{name: "malformed fencing token", call: func(ctx context.Context) error {
			_, err := r.client.Set(ctx, []byte("k"), nil, statestore.SetOptions{FencingToken: "12"})
			return err
		}, want: `state store SET: fencing token: timestamp "12": want <ms>:<counter>:<node>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault.Times > 0 {
				r.fake.Inject(tt.command, tt.fault)
			}
			before := len(r.fake.Calls(""))
			err := tt.call(ctxT(t))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if aiorpc.IsTransient(err) != tt.transient {
				t.Errorf("IsTransient = %v, want %v", !tt.transient, tt.transient)
			}
			var se *statestore.ServiceError
			if errors.As(err, &se) != (tt.service != "") || (se != nil && se.Message != tt.service) {
				t.Errorf("service error %+v, want message %q", se, tt.service)
			}
			if tt.fault.Times == 0 && len(r.fake.Calls("")) != before {
				t.Errorf("an invalid call was sent")
			}
		})
	}
	// After the faults the fake answers normally again.
	if err := set(ctxT(t)); err != nil {
		t.Errorf("set after the faults: %v", err)
	}
}

func TestClientServiceErrorsFromTheFake(t *testing.T) {
	r := newRig(t, 5*time.Second)
	ctx := ctxT(t)
	lockOpts := statestore.SetOptions{Condition: statestore.OnlyIfEqualOrNotExists, ExpiresIn: 10 * time.Second}
	set, token, err := r.client.SetWithVersion(ctx, []byte("lock"), []byte("me"), lockOpts)
	if err != nil || !set {
		t.Fatalf("take the lock: %v, %v", set, err)
	}
	if _, err := aiorpc.ParseTimestamp(token); err != nil {
		t.Fatalf("version %q: %v", token, err)
	}
	// Renew: a newer token.
	r.clock.Advance(time.Second)
	_, newer, err := r.client.SetWithVersion(ctx, []byte("lock"), []byte("me"), lockOpts)
	if err != nil || newer == "" || newer == token {
		t.Fatalf("renew: version %q (was %q), %v", newer, token, err)
	}
	// Not set: no version.
	if set, v, err := r.client.SetWithVersion(ctx, []byte("lock"), []byte("you"), lockOpts); err != nil || set || v != "" {
		t.Fatalf("other campaigner: set %v version %q err %v, want false, \"\", nil", set, v, err)
	}

	tests := []struct {
		name  string
		token string
		want  string // service error message; "" for success
	}{
		{"first fenced write", newer, ""},
		{"same token again", newer, ""},
		{"no token", "", statestore.MsgMissingFencingToken},
		{"older token", token, statestore.MsgFencingTokenLowerVersion},
		{"token from the future", "999999999999999:00000:x", statestore.MsgFencingTokenSkew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.client.Set(ctx, []byte("shared"), []byte(tt.name), statestore.SetOptions{FencingToken: tt.token})
			var se *statestore.ServiceError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v, want success", err)
			case tt.want != "" && (!errors.As(err, &se) || se.Message != tt.want || se.Command != "SET"):
				t.Fatalf("error %v, want the service error %q", err, tt.want)
			}
		})
	}
	if v, _ := r.fake.Value([]byte("shared")); string(v) != "same token again" {
		t.Errorf("shared = %q, want the last fenced write", v)
	}
}

func TestClientNotifications(t *testing.T) {
	r := newRig(t, 5*time.Second)
	ctx := ctxT(t)
	got := make(chan statestore.Notification, 10)
	if err := r.mqtt.Subscribe(ctx, statestore.NotifyFilter("conn-1"), 1, func(m mqttclient.Message) {
		n, err := statestore.ParseNotification(m)
		if err != nil {
			t.Errorf("notification: %v", err)
			return
		}
		got <- n
	}); err != nil {
		t.Fatal(err)
	}
	key := []byte("ke\r\ny")
	if err := r.client.KeyNotify(ctx, key); err != nil {
		t.Fatal(err)
	}
	// Another client changes the key.
	other := statestore.New(aiorpc.NewInvoker(r.cs.connect(t, r.u, "conn-2"), "conn-2", aiorpc.NewClock(), zerolog.Nop()), statestore.Options{})
	if _, err := other.Set(ctx, key, []byte("v\x00"), statestore.SetOptions{ExpiresIn: time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Set(ctx, []byte("unwatched"), []byte("x"), statestore.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Second)
	if err := r.fake.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	want := []statestore.Notification{
		{Key: key, Operation: statestore.OperationSet, Value: []byte("v\x00")},
		{Key: key, Operation: statestore.OperationDelete},
	}
	for i, w := range want {
		select {
		case n := <-got:
			if !bytes.Equal(n.Key, w.Key) || n.Operation != w.Operation || !bytes.Equal(n.Value, w.Value) {
				t.Errorf("notification %d: %q %s %q, want %q %s %q", i, n.Key, n.Operation, n.Value, w.Key, w.Operation, w.Value)
			}
			if _, err := aiorpc.ParseTimestamp(n.Version); err != nil {
				t.Errorf("notification %d version: %v", i, err)
			}
		case <-ctx.Done():
			t.Fatalf("notification %d not received", i)
		}
	}
	if err := r.client.KeyNotifyStop(ctx, key); err != nil {
		t.Fatal(err)
	}
	sent := len(r.fake.Notifications())
	if _, err := other.Set(ctx, key, []byte("again"), statestore.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Del(ctx, key); err != nil {
		t.Fatal(err)
	}
	// The fake publishes notifications before it answers.
	if n := len(r.fake.Notifications()); n != sent {
		t.Errorf("%d notifications after KEYNOTIFY STOP, want none", n-sent)
	}
	select {
	case n := <-got:
		t.Errorf("notification after KEYNOTIFY STOP: %+v", n)
	default:
	}
}

// answer is what a hand-made executor sends back.
type answer struct {
	payload     string
	contentType string
	noTimestamp bool
}

// newResponder starts an executor on the rig's broker (in place of the
// fake, which the test must not start) that answers each request with the
// next answer from the channel.
func newResponder(t *testing.T, r *rig, answers <-chan answer) {
	t.Helper()
	c := r.cs.connect(t, r.u, "responder")
	err := c.Subscribe(context.Background(), statestore.RequestTopic, 1, func(m mqttclient.Message) {
		a := <-answers
		resp := &mqttclient.Message{
			Topic: m.ResponseTopic, CorrelationData: m.CorrelationData, QoS: 1, MessageExpiry: 5,
			Payload: []byte(a.payload), ContentType: a.contentType,
			UserProperties: []mqttclient.UserProperty{{Key: "__stat", Value: "200"}},
		}
		if !a.noTimestamp {
			resp.UserProperties = append(resp.UserProperties, mqttclient.UserProperty{Key: "__ts", Value: "001753180800123:00000:dss"})
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.Publish(ctx, resp); err != nil {
				t.Errorf("responder: %v", err)
			}
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// responseCase is a call of the client on the key "k" (and the value
// "v"), its results as one comparable value; the answer the executor sends
// back; and what the call must return.
type responseCase struct {
	name    string
	call    func(context.Context, *statestore.Client) (any, error)
	answer  answer
	want    any
	wantErr string
}

// responseCases are the answers the client accepts, with what it makes of
// them, and those it refuses, with the error.
func responseCases() []responseCase {
	set := func(ctx context.Context, c *statestore.Client) (any, error) {
		return c.Set(ctx, []byte("k"), []byte("v"), statestore.SetOptions{})
	}
	setVersion := func(ctx context.Context, c *statestore.Client) (any, error) {
		ok, v, err := c.SetWithVersion(ctx, []byte("k"), []byte("v"), statestore.SetOptions{})
		return [2]any{ok, v}, err
	}
	get := func(ctx context.Context, c *statestore.Client) (any, error) {
		v, found, err := c.Get(ctx, []byte("k"))
		return [2]any{string(v), found}, err
	}
	del := func(ctx context.Context, c *statestore.Client) (any, error) { return c.Del(ctx, []byte("k")) }
	vdel := func(ctx context.Context, c *statestore.Client) (any, error) {
		return c.VDel(ctx, []byte("k"), []byte("v"))
	}
	notify := func(ctx context.Context, c *statestore.Client) (any, error) {
		return nil, c.KeyNotify(ctx, []byte("k"))
	}
	return []responseCase{
		{name: "set +OK", call: set, answer: answer{payload: "+OK\r\n"}, want: true},
		{name: "set :-1", call: set, answer: answer{payload: ":-1\r\n"}, want: false},
		{name: "set $-1", call: set, answer: answer{payload: "$-1\r\n"}, want: false},
		{name: "set _", call: set, answer: answer{payload: "_\r\n"}, want: false},
		{name: "set octet-stream content type", call: set, answer: answer{payload: "+OK\r\n", contentType: "application/octet-stream"}, want: true},
		{name: "set octet-stream with parameter", call: set, answer: answer{payload: "+OK\r\n", contentType: "application/octet-stream; x=1"}, want: true},
		{name: "set json content type", call: set, answer: answer{payload: "+OK\r\n", contentType: "application/json"},
			wantErr: `state store SET: unexpected response: content type "application/json"`},
		{name: "set octet-streamx content type", call: set, answer: answer{payload: "+OK\r\n", contentType: "application/octet-streamx"},
			wantErr: `state store SET: unexpected response: content type "application/octet-streamx"`},
		{name: "set :0", call: set, answer: answer{payload: ":0\r\n"}, wantErr: "state store SET: unexpected response: integer 0"},
		{name: "set +QUEUED", call: set, answer: answer{payload: "+QUEUED\r\n"}, wantErr: `state store SET: unexpected response: simple string "QUEUED"`},
		{name: "set not RESP3", call: set, answer: answer{payload: "OK"},
			wantErr: "state store SET: unexpected response: resp3: unsupported type byte 'O' at offset 0"},
		{name: "set empty payload", call: set, answer: answer{payload: ""},
			wantErr: "state store SET: unexpected response: resp3: unexpected end of payload at offset 0"},
		{name: "error without ERR prefix", call: set, answer: answer{payload: "-WRONGTYPE nope\r\n"}, wantErr: "state store SET: WRONGTYPE nope"},
		{name: "set with version", call: setVersion, answer: answer{payload: "+OK\r\n"}, want: [2]any{true, "001753180800123:00000:dss"}},
		{name: "set with version, not set", call: setVersion, answer: answer{payload: ":-1\r\n"}, want: [2]any{false, ""}},
		{name: "set with version, no __ts", call: setVersion, answer: answer{payload: "+OK\r\n", noTimestamp: true},
			wantErr: "state store SET: unexpected response: no __ts user property"},
		{name: "get value", call: get, answer: answer{payload: "$3\r\n\r\n\x00\r\n"}, want: [2]any{"\r\n\x00", true}},
		{name: "get _", call: get, answer: answer{payload: "_\r\n"}, want: [2]any{"", false}},
		{name: "get integer", call: get, answer: answer{payload: ":1\r\n"}, wantErr: "state store GET: unexpected response: integer 1"},
		{name: "get array", call: get, answer: answer{payload: "*0\r\n"}, wantErr: "state store GET: unexpected response: array"},
		{name: "get trailing bytes", call: get, answer: answer{payload: "$1\r\na\r\nb"},
			wantErr: "state store GET: unexpected response: resp3: 1 bytes after the value at offset 7"},
		{name: "del :1", call: del, answer: answer{payload: ":1\r\n"}, want: 1},
		{name: "del :-1", call: del, answer: answer{payload: ":-1\r\n"}, wantErr: "state store DEL: unexpected response: integer -1"},
		{name: "del +OK", call: del, answer: answer{payload: "+OK\r\n"}, wantErr: `state store DEL: unexpected response: simple string "OK"`},
		{name: "del huge", call: del, answer: answer{payload: ":99999999999\r\n"}, wantErr: "state store DEL: unexpected response: integer 99999999999"},
		{name: "vdel :-1", call: vdel, answer: answer{payload: ":-1\r\n"}, want: -1},
		{name: "vdel :-2", call: vdel, answer: answer{payload: ":-2\r\n"}, wantErr: "state store VDEL: unexpected response: integer -2"},
		{name: "keynotify +OK", call: notify, answer: answer{payload: "+OK\r\n"}},
		{name: "keynotify :0", call: notify, answer: answer{payload: ":0\r\n"}},
		{name: "keynotify :1", call: notify, answer: answer{payload: ":1\r\n"}, wantErr: "state store KEYNOTIFY: unexpected response: integer 1"},
	}
}

// newRespondedClient starts a broker with a responder, not the fake, and
// returns a client of it and the channel of the responder's answers.
func newRespondedClient(t *testing.T) (*statestore.Client, chan<- answer) {
	t.Helper()
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cs := &clients{}
	t.Cleanup(func() {
		_ = b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, c := range cs.list {
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{u: u, cs: cs}
	answers := make(chan answer, 1)
	newResponder(t, r, answers)
	client := statestore.New(aiorpc.NewInvoker(cs.connect(t, u, "conn-1"), "conn-1", aiorpc.NewClock(), zerolog.Nop()), statestore.Options{Timeout: 5 * time.Second})
	return client, answers
}

func TestClientResponses(t *testing.T) {
	client, answers := newRespondedClient(t)
	for _, tt := range responseCases() {
		t.Run(tt.name, func(t *testing.T) {
			answers <- tt.answer
			got, err := tt.call(ctxT(t), client)
			if tt.wantErr != "" {
				checkResponseError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// checkResponseError checks that err is wantErr, a ServiceError or
// ErrUnexpectedResponse, and not transient.
func checkResponseError(t *testing.T, err error, wantErr string) {
	t.Helper()
	if err == nil || err.Error() != wantErr {
		t.Fatalf("error %v, want %q", err, wantErr)
	}
	var se *statestore.ServiceError
	if !errors.As(err, &se) && !errors.Is(err, statestore.ErrUnexpectedResponse) {
		t.Errorf("error %v is neither a ServiceError nor ErrUnexpectedResponse", err)
	}
	if aiorpc.IsTransient(err) {
		t.Errorf("error %v is transient", err)
	}
}
