package publish

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

func msgOn(topic string, i int) *mqttclient.Message {
	return &mqttclient.Message{Topic: topic, Payload: []byte(strconv.Itoa(i)), QoS: 1}
}

// publishRounds publishes rounds messages to each topic, round by round:
// t0 1, t1 1, … t0 2, t1 2, …
func publishRounds(t *testing.T, p *Publisher, topics []string, rounds int) {
	t.Helper()
	for i := 1; i <= rounds; i++ {
		for _, topic := range topics {
			if err := p.Publish(context.Background(), msgOn(topic, i)); err != nil {
				t.Fatalf("Publish(%s, %d): %v", topic, i, err)
			}
		}
	}
}

func topicNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t/%d", i)
	}
	return out
}

func TestPublishKeepsSeveralInFlight(t *testing.T) {
	tests := []struct {
		name     string
		inflight int
		topics   int
		want     int // attempts under way at once
	}{
		{"many topics fill the bound", 4, 10, 4},
		{"fewer topics than the bound", 8, 3, 3},
		{"one topic is one at a time", 8, 1, 1},
		{"a bound of one", 1, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, bubbled(func(t *testing.T) {
			c := newFake(true)
			c.hold = make(chan struct{}) // no acknowledgement until released
			p, _ := start(t, c, Options{Inflight: tt.inflight})
			topics := topicNames(tt.topics)
			publishRounds(t, p, topics, 3)
			wait.For(t, fmt.Sprintf("%d attempts under way", tt.want), func() bool {
				now, _ := c.underWay()
				return now == tt.want
			})
			if got, want := p.Len(), 3*tt.topics; got != want {
				t.Errorf("Len = %d, want %d (every message unacknowledged)", got, want)
			}
			close(c.hold)
			wait.For(t, "delivery", func() bool { return p.Len() == 0 })
			if _, peak := c.underWay(); peak != tt.want {
				t.Errorf("at most %d attempts under way at once, want %d", peak, tt.want)
			}
			checkTopicOrder(t, c, topics, 3)
		}))
	}
}

// checkTopicOrder checks that each topic's messages 1…rounds were
// acknowledged once each and in order, that no message was attempted
// before an earlier one of its topic was acknowledged, and that no topic
// had two attempts under way at once.
func checkTopicOrder(t *testing.T, c *fakeClient, topics []string, rounds int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.overlaps) > 0 {
		t.Errorf("two attempts of one topic under way at once: %v", c.overlaps[:min(len(c.overlaps), 10)])
	}
	want := seq(1, rounds)
	for _, topic := range topics {
		if got := c.acked[topic]; !slices.Equal(got, want) {
			t.Errorf("%s: acknowledged %v, want %v", topic, got, want)
		}
		tried := c.tried[topic]
		if !slices.IsSortedFunc(tried, func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		}) {
			t.Errorf("%s: attempted %v: a message went before an earlier one of its topic was acknowledged", topic, tried)
		}
	}
}

// TestPublishKeepsTopicOrder delivers interleaved topics through a broker
// that acknowledges after random delays, so that acknowledgements come
// back out of order, with and without the connection dropping under the
// messages in flight.
func TestPublishKeepsTopicOrder(t *testing.T) {
	for _, inflight := range []int{1, 8, 64} {
		for _, reconnect := range []bool{false, true} {
			t.Run(fmt.Sprintf("inflight %d reconnect %v", inflight, reconnect), bubbled(func(t *testing.T) {
				c := newFake(true)
				c.latency = func() time.Duration { return 50*time.Microsecond + rand.N(300*time.Microsecond) }
				if reconnect {
					c.dropAt = 150
				}
				p, logs := start(t, c, Options{Inflight: inflight})
				topics := topicNames(12)
				const rounds = 30
				publishRounds(t, p, topics, rounds)
				if reconnect {
					wait.For(t, "the outage", func() bool { return logs.Count("broker unreachable; queueing QoS 1 messages") == 1 })
					c.set(true)
				}
				wait.For(t, "delivery", func() bool { return p.Len() == 0 })
				checkTopicOrder(t, c, topics, rounds)
				if got, want := p.Counters().Delivered.Load(), int64(len(topics)*rounds); got != want {
					t.Errorf("Delivered = %d, want %d", got, want)
				}
				if _, peak := c.underWay(); peak > inflight {
					t.Errorf("%d attempts under way at once, above the bound %d", peak, inflight)
				}
				if !reconnect {
					return
				}
				if got := logs.Count("publish backlog delivered"); got != 1 {
					t.Errorf("backlog delivery logged %d times, want 1", got)
				}
			}))
		}
	}
}

// TestPublishBoundWithSeveralInFlight: the bound is on waiting messages;
// the ones in flight come on top, at most Inflight of them.
func TestPublishBoundWithSeveralInFlight(t *testing.T) {
	for _, policy := range []Overflow{DropOldest, DropNewest} {
		t.Run(string(policy), bubbled(func(t *testing.T) {
			c := newFake(true)
			c.hold = make(chan struct{})
			p, logs := start(t, c, Options{Inflight: 4, QueueSize: 10, Overflow: policy})
			topics := topicNames(100)
			publishRounds(t, p, topics[:4], 1)
			wait.For(t, "4 attempts under way", func() bool {
				now, _ := c.underWay()
				return now == 4
			})
			publishRounds(t, p, topics[4:], 1)
			if got := p.Len(); got != 14 {
				t.Errorf("Len = %d, want the bound 10 plus 4 in flight", got)
			}
			if got := p.Counters().Dropped.Load(); got != 86 {
				t.Errorf("Dropped = %d, want 86", got)
			}
			close(c.hold)
			wait.For(t, "delivery", func() bool { return p.Len() == 0 })
			if got := len(c.delivered()); got != 14 {
				t.Errorf("%d delivered, want 14", got)
			}
			if got := logs.Count("publish queue full; dropping messages"); got != 1 {
				t.Errorf("overflow logged %d times, want once", got)
			}
		}))
	}
}

// TestPublishBoundCountsParkedMessages: messages waiting behind one of
// their topic in flight are under the bound too, and dropped oldest first.
func TestPublishBoundCountsParkedMessages(t *testing.T) {
	synctest.Test(t, testPublishBoundCountsParkedMessages)
}

func testPublishBoundCountsParkedMessages(t *testing.T) {
	c := newFake(true)
	c.hold = make(chan struct{})
	p, _ := start(t, c, Options{Inflight: 8, QueueSize: 10})
	publishAll(t, p, 1, 1)
	wait.For(t, "one attempt under way", func() bool {
		now, _ := c.underWay()
		return now == 1
	})
	publishAll(t, p, 2, 100)
	if got := p.Len(); got != 11 {
		t.Errorf("Len = %d, want the bound 10 plus 1 in flight", got)
	}
	close(c.hold)
	wait.For(t, "delivery", func() bool { return p.Len() == 0 })
	got := c.delivered()
	if want := append([]string{"1"}, seq(91, 100)...); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v: the one in flight, then the newest 10", got, want)
	}
}

// TestPublishRetriesWithinItsTopic: a refused message holds back only the
// messages of its topic.
func TestPublishRetriesWithinItsTopic(t *testing.T) {
	synctest.Test(t, testPublishRetriesWithinItsTopic)
}

func testPublishRetriesWithinItsTopic(t *testing.T) {
	c := newFake(true)
	refused := make(chan struct{})
	c.fail = func(m *mqttclient.Message) error {
		select {
		case <-refused:
			return nil
		default:
		}
		if m.Topic == "t/0" && string(m.Payload) == "2" {
			return fmt.Errorf("broker refused with reason code 0x97")
		}
		return nil
	}
	p, _ := start(t, c, Options{Inflight: 4})
	topics := topicNames(3)
	publishRounds(t, p, topics, 5)
	wait.For(t, "the other topics", func() bool { return p.Counters().Delivered.Load() == 11 })
	if got := p.Len(); got != 4 {
		t.Errorf("Len = %d, want t/0's messages 2…5", got)
	}
	close(refused)
	wait.For(t, "delivery", func() bool { return p.Len() == 0 })
	checkTopicOrder(t, c, topics, 5)
}

// TestSpoolKeepsMessagesInFlight stops a publisher whose broker never
// acknowledges two topics: their messages in flight and behind them stay
// in the spool, and the next run replays them in queue order.
func TestSpoolKeepsMessagesInFlight(t *testing.T) { synctest.Test(t, testSpoolKeepsMessagesInFlight) }

func testSpoolKeepsMessagesInFlight(t *testing.T) {
	dir := t.TempDir()
	c := newFake(true)
	c.stall = func(m *mqttclient.Message) bool { return m.Topic == "c" || m.Topic == "d" }
	p, err := Start(context.Background(), c, Options{SpoolDir: dir, Inflight: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		for _, topic := range []string{"a", "b", "c", "d"} {
			m := msgOn(topic, i)
			m.Payload = []byte(topic + strconv.Itoa(i))
			if err := p.Publish(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	wait.For(t, "a and b delivered, c and d in flight", func() bool {
		now, _ := c.underWay()
		return p.Counters().Delivered.Load() == 6 && now == 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = p.Close(ctx)
	if want := "6 QoS 1 messages not delivered before the shutdown deadline; kept in the spool"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Close: %v, want %q…", err, want)
	}

	c2 := newFake(true)
	p2, _ := start(t, c2, Options{SpoolDir: dir, Inflight: 1})
	wait.For(t, "replay", func() bool { return p2.Len() == 0 })
	if got, want := c2.delivered(), []string{"c1", "d1", "c2", "d2", "c3", "d3"}; !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	if got := p2.Counters().Replayed.Load(); got != 6 {
		t.Errorf("Replayed = %d, want 6", got)
	}
}

// TestCloseFlushesSeveralInFlight: Close waits for every sender.
func TestCloseFlushesSeveralInFlight(t *testing.T) { synctest.Test(t, testCloseFlushesSeveralInFlight) }

func testCloseFlushesSeveralInFlight(t *testing.T) {
	c := newFake(true)
	c.latency = func() time.Duration { return time.Millisecond }
	p, err := Start(context.Background(), c, Options{Inflight: 8})
	if err != nil {
		t.Fatal(err)
	}
	topics := topicNames(20)
	publishRounds(t, p, topics, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := p.Counters().Delivered.Load(); got != 200 {
		t.Errorf("Delivered = %d after Close, want 200", got)
	}
	checkTopicOrder(t, c, topics, 10)
}
