package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// fakeClient is a broker connection the test switches up and down. It is
// called by several senders at once and records what they do.
type fakeClient struct {
	mu       sync.Mutex
	up       bool
	upCh     chan struct{} // closed while up
	downCh   chan struct{} // closed while down
	got      []string      // payloads acknowledged, in order
	attempts int
	// fail, if set, makes an attempt fail while up.
	fail func(m *mqttclient.Message) error
	// hold, if set, blocks every attempt until closed or ctx ends.
	hold chan struct{}
	// stall, if set, blocks the attempts it picks until ctx ends.
	stall func(m *mqttclient.Message) bool
	// latency, if set, is how long an acknowledgement takes; the
	// connection going down meanwhile fails the attempt.
	latency func() time.Duration
	// dropAt, if set, takes the connection down during that attempt.
	dropAt int

	cur, peak int                 // attempts under way, now and at most
	busy      map[string]bool     // topics of the attempts under way
	overlaps  []string            // topics attempted twice at once
	tried     map[string][]string // payloads attempted, by topic
	acked     map[string][]string // payloads acknowledged, by topic
}

func newFake(up bool) *fakeClient {
	f := &fakeClient{
		upCh: make(chan struct{}), downCh: make(chan struct{}),
		busy: map[string]bool{}, tried: map[string][]string{}, acked: map[string][]string{},
	}
	if up {
		f.up = true
		close(f.upCh)
	} else {
		close(f.downCh)
	}
	return f
}

func (f *fakeClient) set(up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(up)
}

func (f *fakeClient) setLocked(up bool) {
	if up == f.up {
		return
	}
	f.up = up
	if up {
		close(f.upCh)
		f.downCh = make(chan struct{})
	} else {
		f.upCh = make(chan struct{})
		close(f.downCh)
	}
}

func (f *fakeClient) Connected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up
}

func (f *fakeClient) AwaitConnection(ctx context.Context) error {
	f.mu.Lock()
	ch := f.upCh
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeClient) Publish(ctx context.Context, m *mqttclient.Message) error {
	payload := string(m.Payload)
	f.mu.Lock()
	f.attempts++
	if f.busy[m.Topic] {
		f.overlaps = append(f.overlaps, m.Topic)
	}
	f.busy[m.Topic] = true
	f.cur++
	f.peak = max(f.peak, f.cur)
	f.tried[m.Topic] = append(f.tried[m.Topic], payload)
	dropped := f.attempts == f.dropAt
	if dropped {
		f.setLocked(false)
	}
	hold, fail, up, down := f.hold, f.fail, f.up, f.downCh
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.cur--
		delete(f.busy, m.Topic)
		f.mu.Unlock()
	}()
	if dropped {
		return mqttclient.ErrNotConnected
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.stall != nil && f.stall(m) {
		<-ctx.Done()
		return ctx.Err()
	}
	if !up {
		return mqttclient.ErrNotConnected
	}
	if f.latency != nil {
		t := time.NewTimer(f.latency())
		defer t.Stop()
		select {
		case <-t.C:
		case <-down:
			return mqttclient.ErrNotConnected
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(m); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, payload)
	f.acked[m.Topic] = append(f.acked[m.Topic], payload)
	return nil
}

// underWay returns the attempts under way now and at most so far.
func (f *fakeClient) underWay() (now, peak int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur, f.peak
}

func (f *fakeClient) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func msg(i int, qos byte) *mqttclient.Message {
	return &mqttclient.Message{Topic: "t", Payload: []byte(fmt.Sprint(i)), QoS: qos}
}

func start(t *testing.T, c Client, opts Options) (*Publisher, *logbuf.Buffer) {
	t.Helper()
	logs := &logbuf.Buffer{}
	opts.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
	p, err := Start(context.Background(), c, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p, logs
}

func publishAll(t *testing.T, p *Publisher, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := p.Publish(context.Background(), msg(i, 1)); err != nil {
			t.Fatalf("Publish(%d): %v", i, err)
		}
	}
}

func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

func TestPublishDeliversInOrderAfterReconnect(t *testing.T) {
	synctest.Test(t, testPublishDeliversInOrderAfterReconnect)
}

func testPublishDeliversInOrderAfterReconnect(t *testing.T) {
	c := newFake(false)
	p, logs := start(t, c, Options{QueueSize: 100})
	publishAll(t, p, 1, 50)
	if got := p.Len(); got != 50 {
		t.Fatalf("Len while down = %d, want 50", got)
	}
	wait.For(t, "the outage log", func() bool { return logs.Count("broker unreachable; queueing QoS 1 messages") == 1 })
	c.set(true)
	wait.For(t, "delivery", func() bool { return p.Len() == 0 })
	if got, want := c.delivered(), seq(1, 50); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if got := p.Counters().Delivered.Load(); got != 50 {
		t.Errorf("Delivered = %d, want 50", got)
	}
	if got := logs.Count("broker unreachable; queueing QoS 1 messages"); got != 1 {
		t.Errorf("outage logged %d times, want 1", got)
	}
	if got := logs.Count("publish backlog delivered"); got != 1 {
		t.Errorf("backlog delivery logged %d times, want 1", got)
	}
}

func TestPublishOverflow(t *testing.T) {
	tests := []struct {
		name   string
		policy Overflow
		want   []string
	}{
		{"drop oldest keeps the newest", DropOldest, seq(8, 10)},
		{"drop newest keeps the oldest", DropNewest, seq(1, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, bubbled(func(t *testing.T) {
			c := newFake(false)
			p, logs := start(t, c, Options{QueueSize: 3, Overflow: tt.policy})
			publishAll(t, p, 1, 10)
			if got := p.Counters().Dropped.Load(); got != 7 {
				t.Errorf("Dropped = %d, want 7", got)
			}
			if got := p.Len(); got != 3 {
				t.Errorf("Len = %d, want the bound 3", got)
			}
			c.set(true)
			wait.For(t, "delivery", func() bool { return p.Len() == 0 })
			if got := c.delivered(); !slices.Equal(got, tt.want) {
				t.Errorf("delivered %v, want %v", got, tt.want)
			}
			if got := logs.Count("publish queue full; dropping messages"); got != 1 {
				t.Errorf("overflow start logged %d times, want once per episode", got)
			}
			if got := logs.Count("publish queue below its bound again"); got != 1 {
				t.Errorf("overflow end logged %d times, want once per episode", got)
			}
			// A second episode is logged again.
			c.set(false)
			publishAll(t, p, 11, 14)
			if got := logs.Count("publish queue full; dropping messages"); got != 2 {
				t.Errorf("second episode: overflow start logged %d times in all, want 2", got)
			}
		}))
	}
}

func TestPublishQoS0(t *testing.T) { synctest.Test(t, testPublishQoS0) }

func testPublishQoS0(t *testing.T) {
	c := newFake(false)
	p, logs := start(t, c, Options{})
	for i := range 3 {
		if err := p.Publish(context.Background(), msg(i, 0)); err != nil {
			t.Fatalf("Publish QoS 0 while down: %v, want nil (dropped and counted)", err)
		}
	}
	if got := p.Counters().DroppedQoS0.Load(); got != 3 {
		t.Errorf("DroppedQoS0 = %d, want 3", got)
	}
	if got := logs.Count("broker unreachable; dropping QoS 0 messages until it is back"); got != 1 {
		t.Errorf("QoS 0 drop logged %d times, want 1", got)
	}
	if got := p.Len(); got != 0 {
		t.Errorf("Len = %d: QoS 0 must not be queued", got)
	}
	c.set(true)
	if err := p.Publish(context.Background(), msg(7, 0)); err != nil {
		t.Fatalf("Publish QoS 0 while up: %v", err)
	}
	if got, want := c.delivered(), []string{"7"}; !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if got := p.Counters().Sent.Load(); got != 1 {
		t.Errorf("Sent = %d, want 1", got)
	}
}

func TestPublishRetriesUntilAcknowledged(t *testing.T) {
	synctest.Test(t, testPublishRetriesUntilAcknowledged)
}

func testPublishRetriesUntilAcknowledged(t *testing.T) {
	c := newFake(true)
	failures := 3
	c.fail = func(m *mqttclient.Message) error {
		if string(m.Payload) == "2" && failures > 0 {
			failures--
			return errors.New("broker refused with reason code 0x97")
		}
		return nil
	}
	p, logs := start(t, c, Options{})
	publishAll(t, p, 1, 3)
	wait.For(t, "delivery", func() bool { return p.Len() == 0 })
	if got, want := c.delivered(), seq(1, 3); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v (in order, each once)", got, want)
	}
	if got := p.Counters().Retries.Load(); got != 3 {
		t.Errorf("Retries = %d, want 3", got)
	}
	if got := logs.Count("publish failed; retrying until the broker acknowledges"); got != 1 {
		t.Errorf("retry logged %d times, want once per message", got)
	}
}

func TestPublishNeverBlocksTheCaller(t *testing.T) { synctest.Test(t, testPublishNeverBlocksTheCaller) }

func testPublishNeverBlocksTheCaller(t *testing.T) {
	c := newFake(true)
	c.hold = make(chan struct{}) // the broker never acknowledges
	p, _ := start(t, c, Options{QueueSize: 10})
	begin := time.Now()
	publishAll(t, p, 1, 1000)
	if d := time.Since(begin); d > time.Second {
		t.Errorf("1000 Publish calls took %v with a stuck broker", d)
	}
	dropped, held := p.Counters().Dropped.Load(), p.Len()
	if held > 11 || dropped+int64(held) != 1000 {
		t.Errorf("Dropped = %d and Len = %d, want Len at most the bound 10 plus the one in flight and the rest dropped", dropped, held)
	}
	close(c.hold)
}

func TestPublishExpiredMessagesAreNotSent(t *testing.T) {
	synctest.Test(t, testPublishExpiredMessagesAreNotSent)
}

func testPublishExpiredMessagesAreNotSent(t *testing.T) {
	e := entry{at: time.Now().Add(-3 * time.Second), msg: &mqttclient.Message{MessageExpiry: 10}}
	m, ok := expiry(e, time.Now())
	if !ok || m.MessageExpiry != 7 {
		t.Errorf("after 3 s of 10: got expiry %d, %v; want 7, true", m.MessageExpiry, ok)
	}
	if e.msg.MessageExpiry != 10 {
		t.Errorf("the queued message was changed")
	}
	e.at = time.Now().Add(-10 * time.Second)
	if _, ok := expiry(e, time.Now()); ok {
		t.Errorf("after 10 s of 10: still live")
	}
	e.msg.MessageExpiry = 0
	if _, ok := expiry(e, time.Now()); !ok {
		t.Errorf("no expiry interval: not live")
	}
}

func TestCloseFlushesWithinTheDeadline(t *testing.T) {
	synctest.Test(t, testCloseFlushesWithinTheDeadline)
}

func testCloseFlushesWithinTheDeadline(t *testing.T) {
	c := newFake(false)
	p, err := Start(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, p, 1, 5)
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.set(true)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := c.delivered(), seq(1, 5); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if err := p.Publish(context.Background(), msg(6, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

func TestCloseReportsWhatIsLeft(t *testing.T) {
	tests := []struct {
		name  string
		spool bool
		want  string
	}{
		{"memory", false, "4 QoS 1 messages not delivered before the shutdown deadline; lost (no spool folder is set)"},
		{"spool", true, "4 QoS 1 messages not delivered before the shutdown deadline; kept in the spool "},
	}
	for _, tt := range tests {
		t.Run(tt.name, bubbled(func(t *testing.T) {
			opts := Options{}
			if tt.spool {
				opts.SpoolDir = t.TempDir()
			}
			p, err := Start(context.Background(), newFake(false), opts)
			if err != nil {
				t.Fatal(err)
			}
			publishAll(t, p, 1, 4)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			begin := time.Now()
			err = p.Close(ctx)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Close: %v, want %q…", err, tt.want)
			}
			if d := time.Since(begin); d > time.Second {
				t.Errorf("Close took %v past a 30 ms deadline", d)
			}
		}))
	}
}

func TestSpoolSurvivesARestart(t *testing.T) { synctest.Test(t, testSpoolSurvivesARestart) }

func testSpoolSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	down := newFake(false)
	p, err := Start(context.Background(), down, Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, p, 1, 5)
	m := &mqttclient.Message{
		Topic: "a/b", Payload: []byte("6"), QoS: 1, Retain: true, MessageExpiry: 3600,
		ContentType: "application/json", UTF8Payload: true, ResponseTopic: "r", CorrelationData: []byte{1, 2},
		UserProperties: []mqttclient.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}},
	}
	if err := p.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)

	// Two connectors must not share a spool.
	held, err := Start(context.Background(), down, Options{SpoolDir: dir})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if _, err := Start(context.Background(), down, Options{SpoolDir: dir}); err == nil || !strings.Contains(err.Error(), "in use by another connector") {
		t.Errorf("second publisher on one spool: %v, want in use", err)
	}
	ctx3, cancel3 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel3()
	_ = held.Close(ctx3)

	up := &recorder{fakeClient: newFake(true)}
	// One in flight: the delivery order is the replay order, across topics.
	p2, logs := start(t, up, Options{SpoolDir: dir, Inflight: 1})
	wait.For(t, "replay", func() bool { return p2.Len() == 0 })
	if got, want := up.delivered(), seq(1, 6); !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	if got := p2.Counters().Replayed.Load(); got != 6 {
		t.Errorf("Replayed = %d, want 6", got)
	}
	if got := logs.Count("replaying spooled messages"); got != 1 {
		t.Errorf("replay logged %d times, want 1", got)
	}
	last := up.last()
	if last.Topic != m.Topic || !last.Retain || last.ContentType != m.ContentType || !last.UTF8Payload ||
		last.ResponseTopic != m.ResponseTopic || !bytes.Equal(last.CorrelationData, m.CorrelationData) ||
		!slices.Equal(last.UserProperties, m.UserProperties) || last.MessageExpiry == 0 || last.MessageExpiry > 3600 {
		t.Errorf("replayed message %+v, want %+v", last, m)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if err := p2.Close(ctx2); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left := segmentFiles(t, dir); len(left) != 0 {
		t.Errorf("spool still holds %v after every message was acknowledged", left)
	}
}

// recorder keeps the last message as well.
type recorder struct {
	*fakeClient
	mu sync.Mutex
	m  *mqttclient.Message
}

func (r *recorder) Publish(ctx context.Context, m *mqttclient.Message) error {
	err := r.fakeClient.Publish(ctx, m)
	if err == nil {
		r.mu.Lock()
		r.m = m
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) last() mqttclient.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *r.m
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != "LOCK" {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestSpoolReplaysOnlyWhatWasNotAcknowledged(t *testing.T) {
	synctest.Test(t, testSpoolReplaysOnlyWhatWasNotAcknowledged)
}

func testSpoolReplaysOnlyWhatWasNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	c := newFake(true)
	c.fail = func(m *mqttclient.Message) error {
		if string(m.Payload) >= "4" {
			return errors.New("no acknowledgement")
		}
		return nil
	}
	p, err := Start(context.Background(), c, Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, p, 1, 6)
	wait.For(t, "3 acknowledged", func() bool { return p.Counters().Delivered.Load() == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)

	c2 := newFake(false)
	p2, _ := start(t, c2, Options{SpoolDir: dir})
	checkSpoolBytes(t, p2, dir) // what the last run left
	c2.set(true)
	wait.For(t, "replay", func() bool { return p2.Len() == 0 })
	if got, want := c2.delivered(), seq(4, 6); !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
}

func TestSpoolSkipsADamagedTail(t *testing.T) { synctest.Test(t, testSpoolSkipsADamagedTail) }

func testSpoolSkipsADamagedTail(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(context.Background(), newFake(false), Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, p, 1, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)
	segs := segmentFiles(t, dir)
	if len(segs) != 1 {
		t.Fatalf("spool files %v, want one segment", segs)
	}
	// A crash in the middle of the third record.
	name := filepath.Join(dir, segs[0])
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b[:len(b)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	c := newFake(true)
	p2, logs := start(t, c, Options{SpoolDir: dir})
	wait.For(t, "replay", func() bool { return p2.Len() == 0 })
	if got, want := c.delivered(), seq(1, 2); !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	if got := logs.Count("spool segment damaged; its remaining records are skipped"); got != 1 {
		t.Errorf("damage logged %d times, want 1", got)
	}
	// New messages get new sequence numbers after the damaged ones.
	publishAll(t, p2, 10, 10)
	wait.For(t, "delivery", func() bool { return p2.Len() == 0 })
}

func TestSpoolRotatesAndRemovesSegments(t *testing.T) {
	synctest.Test(t, testSpoolRotatesAndRemovesSegments)
}

func testSpoolRotatesAndRemovesSegments(t *testing.T) {
	dir := t.TempDir()
	c := newFake(false)
	p, _ := start(t, c, Options{SpoolDir: dir, QueueSize: 3 * segmentRecords})
	publishAll(t, p, 1, 2*segmentRecords+10)
	if got := len(segmentFiles(t, dir)); got != 3 {
		t.Errorf("%d spool files for %d records, want 3 segments", got, 2*segmentRecords+10)
	}
	checkSpoolBytes(t, p, dir)
	c.set(true)
	wait.For(t, "delivery", func() bool { return p.Len() == 0 })
	// Finished segments go as soon as they are delivered; the active one
	// stays until Close.
	if got := segmentFiles(t, dir); len(got) > 2 {
		t.Errorf("spool files after delivery: %v, want only the active segment and its done file", got)
	}
	checkSpoolBytes(t, p, dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, dir); len(got) != 0 {
		t.Errorf("spool files after Close: %v, want none", got)
	}
}

// checkSpoolBytes checks that SpoolBytes is the size of the spool's files.
func checkSpoolBytes(t *testing.T, p *Publisher, dir string) {
	t.Helper()
	var size int64
	for _, name := range segmentFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	if got := p.SpoolBytes(); got != size || size == 0 {
		t.Errorf("SpoolBytes %d, the files hold %d", got, size)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"policy", Options{Overflow: "dropAll"}, `publish: overflow policy "dropAll" is not dropOldest or dropNewest`},
		{"size", Options{QueueSize: -1}, "publish: queue size -1 is negative"},
		{"in flight", Options{Inflight: -1}, "publish: in-flight bound -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, bubbled(func(t *testing.T) {
			_, err := Start(context.Background(), newFake(true), tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Start: %v, want %q", err, tt.want)
			}
		}))
	}
}

func TestRecordRoundTrip(t *testing.T) { synctest.Test(t, testRecordRoundTrip) }

func testRecordRoundTrip(t *testing.T) {
	e := entry{seq: 42, at: time.Unix(0, 1234567890), msg: &mqttclient.Message{Topic: "x", Payload: []byte("{}"), QoS: 1}}
	b := encodeRecord(nil, e)
	got, n, err := decodeRecord(b)
	if err != nil || n != len(b) || got.seq != 42 || !got.at.Equal(e.at) || got.msg.Topic != "x" || string(got.msg.Payload) != "{}" {
		t.Errorf("decode(encode) = %+v, %d, %v", got, n, err)
	}
	for cut := range len(b) {
		if _, _, err := decodeRecord(b[:cut]); err == nil {
			t.Errorf("a record cut to %d of %d bytes decoded", cut, len(b))
		}
	}
	b[len(b)-1] ^= 0xff
	if _, _, err := decodeRecord(b); err == nil || err.Error() != "record checksum mismatch" {
		t.Errorf("flipped byte: %v, want checksum mismatch", err)
	}
}

// bubbled runs a subtest in a synctest bubble: in virtual time.
func bubbled(f func(*testing.T)) func(*testing.T) {
	return func(t *testing.T) { synctest.Test(t, f) }
}
