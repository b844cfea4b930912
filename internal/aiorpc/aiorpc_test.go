package aiorpc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
)

func TestClock(t *testing.T) {
	now := time.UnixMilli(1753180800123)
	clock := aiorpc.NewClockAt("node:1", func() time.Time { return now })
	steps := []struct {
		now  time.Time
		want string
	}{
		{time.UnixMilli(1753180800123), "001753180800123:00000:node-1"},
		{time.UnixMilli(1753180800123), "001753180800123:00001:node-1"},
		{time.UnixMilli(1753180800124), "001753180800124:00000:node-1"},
		{time.UnixMilli(1753180800000), "001753180800124:00001:node-1"}, // wall clock went back
		{time.UnixMilli(1753180800125), "001753180800125:00000:node-1"},
	}
	for i, s := range steps {
		now = s.now
		if got := clock.Now(); got != s.want {
			t.Errorf("step %d: Now = %s, want %s", i, got, s.want)
		}
	}
}

func TestClockCounterOverflow(t *testing.T) {
	clock := aiorpc.NewClockAt("n", func() time.Time { return time.UnixMilli(5) })
	var last string
	for range 100001 {
		last = clock.Now()
	}
	if last != "000000000000006:00000:n" {
		t.Errorf("after 100001 stamps in one ms: %s, want the next ms with counter 0", last)
	}
}

func TestClockRealTimeIncreases(t *testing.T) {
	clock := aiorpc.NewClock()
	if strings.Contains(clock.Node(), ":") || len(clock.Node()) != 36 {
		t.Errorf("node id %q, want a UUID", clock.Node())
	}
	prev, err := aiorpc.ParseTimestamp(clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		ts, err := aiorpc.ParseTimestamp(clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ts.Time.Before(prev.Time) || (ts.Time.Equal(prev.Time) && ts.Counter <= prev.Counter) {
			t.Fatalf("%v not after %v", ts, prev)
		}
		prev = ts
	}
}

func TestParseTimestamp(t *testing.T) {
	ts, err := aiorpc.ParseTimestamp("001753180800123:00007:0190f1b2-7c4e")
	if err != nil || !ts.Time.Equal(time.UnixMilli(1753180800123)) || ts.Counter != 7 || ts.Node != "0190f1b2-7c4e" {
		t.Errorf("got %+v, %v", ts, err)
	}
	for _, bad := range []string{"", "1:2", "1:2:3:4", "x:0:n", "1:y:n", "1:0:", "-1:0:n"} {
		if _, err := aiorpc.ParseTimestamp(bad); err == nil {
			t.Errorf("ParseTimestamp(%q) succeeded", bad)
		}
	}
}

func TestInvokeRequestProperties(t *testing.T) {
	b := mqtttest.Embedded(t)
	ex := newExecutor(t, b, "svc/+/cmd", func(int, mqttclient.Message) *mqttclient.Message {
		return reply(`{"ok":true}`, "__stat", "200", "__protVer", "1.0")
	})
	inv := newInvoker(t, b, "conn-1", "clients/conn-1/svc/+/cmd")
	ctx := context.Background()

	resp, err := inv.Invoke(ctx, "svc/a/cmd", []byte(`{"x":1}`), true, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Payload) != `{"ok":true}` {
		t.Errorf("response %d %s", resp.Status, resp.Payload)
	}
	if _, err := inv.Invoke(ctx, "svc/b/cmd", nil, false, 0); err != nil {
		t.Fatal(err)
	}

	reqs := ex.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	withBody, noBody := reqs[0], reqs[1]
	if withBody.Topic != "svc/a/cmd" || withBody.ResponseTopic != "clients/conn-1/svc/a/cmd" || withBody.QoS != 1 || withBody.Retain {
		t.Errorf("topic %q response topic %q qos %d retain %v", withBody.Topic, withBody.ResponseTopic, withBody.QoS, withBody.Retain)
	}
	if withBody.MessageExpiry != 2 || noBody.MessageExpiry != 10 {
		t.Errorf("expiry %d and %d, want 2 (1.5 s rounded up) and 10 (default)", withBody.MessageExpiry, noBody.MessageExpiry)
	}
	if len(withBody.CorrelationData) != 16 || len(noBody.CorrelationData) != 16 || string(withBody.CorrelationData) == string(noBody.CorrelationData) {
		t.Errorf("correlation data %x and %x, want 16 distinct bytes each", withBody.CorrelationData, noBody.CorrelationData)
	}
	if withBody.ContentType != "application/json" || !withBody.UTF8Payload || string(withBody.Payload) != `{"x":1}` {
		t.Errorf("with body: content type %q PFI %v payload %s", withBody.ContentType, withBody.UTF8Payload, withBody.Payload)
	}
	if noBody.ContentType != "" || noBody.UTF8Payload || len(noBody.Payload) != 0 {
		t.Errorf("without body: content type %q PFI %v payload %q, want none", noBody.ContentType, noBody.UTF8Payload, noBody.Payload)
	}
	var keys []string
	for _, p := range withBody.UserProperties {
		keys = append(keys, p.Key)
		switch p.Key {
		case "__protVer":
			if p.Value != "1.0" {
				t.Errorf("__protVer = %q", p.Value)
			}
		case "__srcId", "$partition", "__invId":
			if p.Value != "conn-1" {
				t.Errorf("%s = %q, want conn-1", p.Key, p.Value)
			}
		case "$high_priority":
			if p.Value != "" {
				t.Errorf("$high_priority = %q, want empty", p.Value)
			}
		case "__ts":
			if _, err := aiorpc.ParseTimestamp(p.Value); err != nil {
				t.Error(err)
			}
		}
	}
	if got := strings.Join(keys, ","); got != "__protVer,__srcId,__ts,$partition,$high_priority,__invId" {
		t.Errorf("user properties %s", got)
	}
}

func TestInvokeStatusMapping(t *testing.T) {
	tests := []struct {
		name      string
		props     []string
		want      error // nil for success
		transient bool
	}{
		{name: "200", props: []string{"__stat", "200"}},
		{name: "204", props: []string{"__stat", "204"}},
		{name: "no protocol version", props: []string{"__stat", "200"}},
		{name: "protocol 1.5", props: []string{"__stat", "200", "__protVer", "1.5"}},
		{name: "missing status", props: nil,
			want: &aiorpc.RemoteError{Kind: aiorpc.KindHeaderMissing, PropertyName: "__stat"}},
		{name: "non-integer status", props: []string{"__stat", "OK"},
			want: &aiorpc.RemoteError{Kind: aiorpc.KindHeaderInvalid, PropertyName: "__stat", PropertyValue: "OK"}},
		{name: "400 header missing", props: []string{"__stat", "400", "__stMsg", "No message expiry interval present.", "__propName", "Message Expiry"},
			want: &aiorpc.RemoteError{Status: 400, Kind: aiorpc.KindHeaderMissing, Message: "No message expiry interval present.", PropertyName: "Message Expiry"}},
		{name: "400 header invalid", props: []string{"__stat", "400", "__propName", "Correlation Data", "__propVal", "abc"},
			want: &aiorpc.RemoteError{Status: 400, Kind: aiorpc.KindHeaderInvalid, PropertyName: "Correlation Data", PropertyValue: "abc"}},
		{name: "400 payload", props: []string{"__stat", "400"},
			want: &aiorpc.RemoteError{Status: 400, Kind: aiorpc.KindPayloadInvalid}},
		{name: "408", props: []string{"__stat", "408", "__propName", "ExecutionTimeout", "__propVal", "PT10S"},
			want: &aiorpc.RemoteError{Status: 408, Kind: aiorpc.KindTimeout, PropertyName: "ExecutionTimeout", PropertyValue: "PT10S"}, transient: true},
		{name: "415", props: []string{"__stat", "415"},
			want: &aiorpc.RemoteError{Status: 415, Kind: aiorpc.KindUnsupportedContentType}},
		{name: "500 application", props: []string{"__stat", "500", "__apErr", "true", "__stMsg", "boom"},
			want: &aiorpc.RemoteError{Status: 500, Kind: aiorpc.KindExecutionException, Message: "boom", ApplicationError: true}},
		{name: "500 internal logic", props: []string{"__stat", "500", "__propName", "x"},
			want: &aiorpc.RemoteError{Status: 500, Kind: aiorpc.KindInternalLogicError, PropertyName: "x"}, transient: true},
		{name: "500 unknown", props: []string{"__stat", "500", "__apErr", "false"},
			want: &aiorpc.RemoteError{Status: 500, Kind: aiorpc.KindUnknownError}, transient: true},
		{name: "503", props: []string{"__stat", "503"},
			want: &aiorpc.RemoteError{Status: 503, Kind: aiorpc.KindInvalidState}, transient: true},
		{name: "505", props: []string{"__stat", "505", "__supProtMajVer", "2 3", "__requestProtVer", "1.0"},
			want: &aiorpc.RemoteError{Status: 505, Kind: aiorpc.KindUnsupportedVersion, SupportedMajorVersions: "2 3", RequestProtocolVersion: "1.0"}},
		{name: "418", props: []string{"__stat", "418"},
			want: &aiorpc.RemoteError{Status: 418, Kind: aiorpc.KindUnknownError}},
		{name: "response protocol 2.0", props: []string{"__stat", "200", "__protVer", "2.0"},
			want: errors.New(`invoke svc/x/cmd: response protocol version "2.0" is not supported (want major version 1)`)},
	}
	b := mqtttest.Embedded(t)
	var mu sync.Mutex
	props := map[string][]string{}
	newExecutor(t, b, "svc/+/cmd", func(_ int, req mqttclient.Message) *mqttclient.Message {
		mu.Lock()
		defer mu.Unlock()
		return reply("{}", props[string(req.Payload)]...)
	})
	inv := newInvoker(t, b, "conn-2", "clients/conn-2/svc/+/cmd")
	for _, tt := range tests {
		mu.Lock()
		props[tt.name] = tt.props
		mu.Unlock()
		t.Run(tt.name, func(t *testing.T) {
			resp, err := inv.Invoke(context.Background(), "svc/x/cmd", []byte(tt.name), true, 5*time.Second)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status == 0 || string(resp.Payload) != "{}" {
					t.Errorf("response %+v", resp)
				}
				return
			}
			if err == nil {
				t.Fatalf("success, want %v", tt.want)
			}
			var want *aiorpc.RemoteError
			if errors.As(tt.want, &want) {
				var got *aiorpc.RemoteError
				if !errors.As(err, &got) {
					t.Fatalf("error %v is not a *RemoteError", err)
				}
				if *got != *want {
					t.Errorf("got  %+v\nwant %+v", *got, *want)
				}
			} else if err.Error() != tt.want.Error() {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if aiorpc.IsTransient(err) != tt.transient {
				t.Errorf("IsTransient = %v, want %v", !tt.transient, tt.transient)
			}
		})
	}
}

func TestRemoteErrorMessage(t *testing.T) {
	e := &aiorpc.RemoteError{Status: 400, Kind: aiorpc.KindHeaderInvalid, PropertyName: "Correlation Data", PropertyValue: "abc", Message: "bad"}
	if want := `status 400 header invalid (Correlation Data="abc"): bad`; e.Error() != want {
		t.Errorf("Error = %q, want %q", e.Error(), want)
	}
}

func TestInvokeTimeout(t *testing.T) {
	b := mqtttest.Embedded(t)
	newExecutor(t, b, "svc/+/cmd", func(int, mqttclient.Message) *mqttclient.Message { return nil })
	inv := newInvoker(t, b, "conn-3", "clients/conn-3/svc/+/cmd")
	start := time.Now()
	_, err := inv.Invoke(context.Background(), "svc/x/cmd", nil, false, 300*time.Millisecond)
	if !errors.Is(err, aiorpc.ErrTimeout) || !aiorpc.IsTransient(err) {
		t.Fatalf("error %v, want a transient ErrTimeout", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("timed out after %s, before the 300ms timeout", d)
	}
	if want := "invoke svc/x/cmd: no response before the command timeout (300ms)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	// Cancelling the caller's context is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = inv.Invoke(ctx, "svc/x/cmd", nil, false, 5*time.Second)
	if !errors.Is(err, context.Canceled) || errors.Is(err, aiorpc.ErrTimeout) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestInvokeWithoutPrepare(t *testing.T) {
	b := mqtttest.Embedded(t)
	inv := aiorpc.NewInvoker(b.Connect(t, "conn-4"), "conn-4", aiorpc.NewClock(), zeroLog())
	_, err := inv.Invoke(context.Background(), "svc/x/cmd", nil, false, time.Second)
	want := "invoke svc/x/cmd: no subscription for response topic clients/conn-4/svc/x/cmd (call Prepare first)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestInvokeConcurrentMatchesByCorrelation(t *testing.T) {
	b := mqtttest.Embedded(t)
	newExecutor(t, b, "svc/+/cmd", func(n int, req mqttclient.Message) *mqttclient.Message {
		// Answer out of order.
		time.Sleep(time.Duration(20-n%20) * time.Millisecond)
		return reply(string(req.Payload), "__stat", "200")
	})
	inv := newInvoker(t, b, "conn-5", "clients/conn-5/svc/+/cmd")
	// A second Prepare of the same filter does not subscribe twice.
	if err := inv.Prepare(context.Background(), "clients/conn-5/svc/+/cmd"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf(`{"n":%d}`, i)
			resp, err := inv.Invoke(context.Background(), "svc/x/cmd", []byte(want), true, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			if string(resp.Payload) != want {
				errs <- fmt.Errorf("got %s, want %s", resp.Payload, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestInvokeWithRetry(t *testing.T) {
	policy := aiorpc.RetryPolicy{MaxRetries: 2, MaxDelay: 5 * time.Millisecond}
	tests := []struct {
		name     string
		statuses []string // per attempt
		attempts int
		wantErr  string
	}{
		{name: "recovers from 503", statuses: []string{"503", "500", "200"}, attempts: 3},
		{name: "gives up", statuses: []string{"503", "503", "503", "200"}, attempts: 3,
			wantErr: "after 3 attempts: invoke svc/x/cmd: status 503 invalid state"},
		{name: "application error is final", statuses: []string{"500 app", "200"}, attempts: 1,
			wantErr: "invoke svc/x/cmd: status 500 execution exception"},
		{name: "bad request is final", statuses: []string{"400", "200"}, attempts: 1,
			wantErr: "invoke svc/x/cmd: status 400 payload invalid"},
		{name: "timeout is retried", statuses: []string{"drop", "200"}, attempts: 2},
	}
	b := mqtttest.Embedded(t)
	var mu sync.Mutex
	counts := map[string]int{}
	statuses := map[string][]string{}
	newExecutor(t, b, "svc/+/cmd", func(_ int, req mqttclient.Message) *mqttclient.Message {
		mu.Lock()
		defer mu.Unlock()
		name := string(req.Payload)
		st := statuses[name][counts[name]]
		counts[name]++
		switch st {
		case "drop":
			return nil
		case "500 app":
			return reply("", "__stat", "500", "__apErr", "true")
		}
		return reply("", "__stat", st)
	})
	inv := newInvoker(t, b, "conn-6", "clients/conn-6/svc/+/cmd")
	for _, tt := range tests {
		mu.Lock()
		statuses[tt.name] = tt.statuses
		mu.Unlock()
		t.Run(tt.name, func(t *testing.T) {
			_, err := inv.InvokeWithRetry(context.Background(), "svc/x/cmd", []byte(tt.name), true, 200*time.Millisecond, policy)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if counts[tt.name] != tt.attempts {
				t.Errorf("%d attempts, want %d", counts[tt.name], tt.attempts)
			}
		})
	}
}

func TestRetryPolicyDelay(t *testing.T) {
	p := aiorpc.DefaultRetryPolicy()
	if p.MaxRetries != 10 || p.MaxDelay != 5*time.Second {
		t.Errorf("default policy %+v", p)
	}
	noJitter := aiorpc.RetryPolicy{MaxRetries: 10, MaxDelay: 5 * time.Second}
	want := []time.Duration{128, 256, 512, 1024, 2048, 4096, 5000, 5000}
	for i, w := range want {
		if got := noJitter.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
	if got := noJitter.Delay(100); got != 5*time.Second {
		t.Errorf("Delay(100) = %s", got)
	}
	for range 100 {
		if d := p.Delay(1); d < 121600*time.Microsecond || d > 134400*time.Microsecond {
			t.Fatalf("Delay(1) with jitter = %s, want 128ms ±5%%", d)
		}
	}
}

func TestSendTelemetry(t *testing.T) {
	b := mqtttest.Embedded(t)
	got := make(chan mqttclient.Message, 1)
	rx := b.Connect(t, "telemetry-rx")
	if err := rx.Subscribe(context.Background(), "tel/#", 1, func(m mqttclient.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	s := aiorpc.NewTelemetrySender(b.Connect(t, "conn-7"), "conn-7", aiorpc.NewClock())
	if err := s.Send(context.Background(), "tel/a", []byte(`{"v":1}`), 1, 2500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Payload) != `{"v":1}` || m.ContentType != "application/json" || !m.UTF8Payload || m.MessageExpiry != 3 || m.QoS != 1 {
			t.Errorf("payload %s content type %q PFI %v expiry %d qos %d", m.Payload, m.ContentType, m.UTF8Payload, m.MessageExpiry, m.QoS)
		}
		var keys []string
		for _, p := range m.UserProperties {
			keys = append(keys, p.Key+"="+p.Value)
		}
		joined := strings.Join(keys, ",")
		if !strings.HasPrefix(joined, "__ts=") || !strings.HasSuffix(joined, ",__protVer=1.0,__srcId=conn-7") {
			t.Errorf("user properties %s", joined)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no telemetry received")
	}
}
