package publish

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// MQTT control packet types the proxy looks at.
const (
	packetPublish = 3
	packetPuback  = 4
)

// wireProxy relays MQTT between a client and a broker on loopback. It holds
// back what the broker sends by delay (a slow-acknowledging broker), counts
// the QoS 1 PUBLISH packets the client has sent whose PUBACK it has not yet
// received, and cuts the connection after the cutAfter-th PUBLISH.
type wireProxy struct {
	t        *testing.T
	ln       net.Listener
	target   string
	delay    time.Duration
	cutAfter int
	wg       sync.WaitGroup

	mu        sync.Mutex
	conns     []net.Conn
	gen       int // connections accepted; counts belong to the latest
	unacked   int // QoS 1 PUBLISH sent on the current connection, not yet acknowledged
	peak      int // the most unacked at once
	publishes int // QoS 1 PUBLISH packets relayed, over all connections
	resent    int // of which sent again by the client's session (DUP set)
	cuts      int
}

func newWireProxy(t *testing.T, target string, delay time.Duration, cutAfter int) *wireProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireProxy{t: t, ln: ln, target: target, delay: delay, cutAfter: cutAfter}
	w.wg.Add(1)
	go w.accept()
	t.Cleanup(w.close)
	return w
}

// url is the proxy's mqtt:// address.
func (w *wireProxy) url() string { return "mqtt://" + w.ln.Addr().String() }

func (w *wireProxy) close() {
	_ = w.ln.Close()
	w.mu.Lock()
	for _, c := range w.conns {
		_ = c.Close()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *wireProxy) stats() (peak, publishes, resent, cuts int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.publishes, w.resent, w.cuts
}

func (w *wireProxy) accept() {
	defer w.wg.Done()
	for {
		client, err := w.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", w.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		w.mu.Lock()
		w.gen++
		gen := w.gen
		w.unacked = 0
		w.conns = append(w.conns, client, server)
		w.mu.Unlock()
		w.wg.Add(2)
		go w.upstream(gen, client, server)
		go w.downstream(gen, server, client)
	}
}

// upstream relays client → broker, counting PUBLISH packets.
func (w *wireProxy) upstream(gen int, client, server net.Conn) {
	defer w.wg.Done()
	defer server.Close()
	r := bufio.NewReader(client)
	for {
		pkt, err := readPacket(r)
		if err != nil {
			return
		}
		if _, err := server.Write(pkt); err != nil {
			return
		}
		if pkt[0]>>4 != packetPublish || pkt[0]&0x06 == 0 {
			continue
		}
		w.mu.Lock()
		cut := false
		if gen == w.gen {
			w.unacked++
			w.peak = max(w.peak, w.unacked)
			w.publishes++
			if pkt[0]&0x08 != 0 {
				w.resent++
			}
			if w.publishes == w.cutAfter {
				cut = true
				w.cuts++
			}
		}
		w.mu.Unlock()
		if cut {
			_ = client.Close()
			return
		}
	}
}

// downstream relays broker → client, each packet delay after it came.
func (w *wireProxy) downstream(gen int, server, client net.Conn) {
	defer w.wg.Done()
	type held struct {
		pkt []byte
		at  time.Time
	}
	ch := make(chan held, 4096)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(ch)
		r := bufio.NewReader(server)
		for {
			pkt, err := readPacket(r)
			if err != nil {
				return
			}
			ch <- held{pkt, time.Now()}
		}
	}()
	defer client.Close()
	defer server.Close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for h := range ch {
		if d := time.Until(h.at.Add(w.delay)); d > 0 {
			timer.Reset(d)
			<-timer.C
		}
		if h.pkt[0]>>4 == packetPuback {
			// Counted before the client can see it and send the next.
			w.mu.Lock()
			if gen == w.gen {
				w.unacked--
			}
			w.mu.Unlock()
		}
		if _, err := client.Write(h.pkt); err != nil {
			return
		}
	}
}

// readPacket reads one MQTT control packet: fixed header, then the
// remaining length.
func readPacket(r *bufio.Reader) ([]byte, error) {
	b0, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	hdr := []byte{b0}
	n := 0
	for shift := 0; ; shift += 7 {
		if shift > 21 {
			return nil, errors.New("malformed remaining length")
		}
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		hdr = append(hdr, b)
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
	}
	pkt := make([]byte, len(hdr)+n)
	copy(pkt, hdr)
	if _, err := io.ReadFull(r, pkt[len(hdr):]); err != nil {
		return nil, err
	}
	return pkt, nil
}

// topicSubscriber records, by topic, the numbers it receives.
type topicSubscriber struct{ in *mqtttest.Inbox }

func subscribeTopics(t *testing.T, brokerURL, filter string) *topicSubscriber {
	t.Helper()
	return &topicSubscriber{mqtttest.Listen(t, brokerURL, "wire-sub", filter)}
}

// firstArrivals returns each topic's numbers without repeats (QoS 1 is at
// least once), in the order they first arrived.
func (s *topicSubscriber) firstArrivals() map[string][]int {
	out := map[string][]int{}
	for _, m := range s.in.All() {
		n, err := strconv.Atoi(string(m.Payload))
		if err == nil && !slices.Contains(out[m.Topic], n) {
			out[m.Topic] = append(out[m.Topic], n)
		}
	}
	return out
}

// TestPipelineOverTheWire publishes through a proxy that delays the
// broker's acknowledgements by 20 ms and cuts the connection in the middle
// of the run: on the wire several QoS 1 messages await their PUBACK at
// once (at most Inflight), and a subscriber still gets every topic's
// messages in order, none missing.
func TestPipelineOverTheWire(t *testing.T) {
	br, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = br.Close() })
	const (
		inflight = 16
		topics   = 20
		rounds   = 20
	)
	proxy := newWireProxy(t, br.Address(), 20*time.Millisecond, topics*rounds/3)
	sub := subscribeTopics(t, br.URL(), "wire/#")

	// The session outlives the cut: no clean start, an expiry of a minute.
	client := mqtttest.Connect(t, proxy.url(), "wire-pub", func(o *mqttclient.Options) {
		o.SessionExpiry, o.CleanStart, o.MaxBackoff = 60, false, 100*time.Millisecond
	})
	p, _ := start(t, client, Options{Inflight: inflight})
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("wire/%d", i)
	}
	publishRounds(t, p, names, rounds)

	wait.Until(t, "delivery of every message", func() error {
		n := 0
		for _, got := range sub.firstArrivals() {
			n += len(got)
		}
		if p.Len() == 0 && n == topics*rounds {
			return nil
		}
		return fmt.Errorf("%d unacknowledged, %d of %d arrived", p.Len(), n, topics*rounds)
	})
	arrived := sub.firstArrivals()
	for _, topic := range names {
		got := arrived[topic]
		ok := len(got) == rounds
		for i, n := range got {
			ok = ok && n == i+1
		}
		if !ok {
			t.Errorf("%s: first arrivals %v, want 1…%d in order", topic, got, rounds)
		}
	}
	peak, publishes, resent, cuts := proxy.stats()
	if cuts != 1 {
		t.Errorf("the proxy cut %d connections, want 1", cuts)
	}
	// The broker kept the session: what was in flight at the cut is sent
	// again from the client's session store, marked as a duplicate.
	if resent == 0 {
		t.Error("no PUBLISH sent again after the reconnect into the same session")
	}
	if peak < inflight/2 || peak > inflight {
		t.Errorf("at most %d QoS 1 messages awaited their PUBACK at once on the wire, want several, at most %d", peak, inflight)
	}
	if got := p.Counters().Delivered.Load(); got != topics*rounds {
		t.Errorf("Delivered = %d, want %d", got, topics*rounds)
	}
	t.Logf("%d PUBLISH packets on the wire for %d messages (%d sent again); at most %d unacknowledged at once", publishes, topics*rounds, resent, peak)
}

// BenchmarkPublishThroughput delivers QoS 1 messages on 1000 topics to the
// embedded broker (in this process: its work counts too) and reports the
// messages acknowledged per second, with one message in flight (the old
// design) and with several.
func BenchmarkPublishThroughput(b *testing.B) {
	br, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	ctx := context.Background()
	client := mqtttest.Connect(b, br.URL(), "bench-publisher")
	msgs := make([]*mqttclient.Message, 1000)
	for i := range msgs {
		msgs[i] = &mqttclient.Message{
			Topic:         fmt.Sprintf("bench/thermostat/%d/status", i),
			Payload:       []byte(`{"currentTemperature":71.3,"desiredTemperature":72.5}`),
			QoS:           1,
			MessageExpiry: 60,
			ContentType:   "application/json",
			UTF8Payload:   true,
		}
	}
	for _, inflight := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			p, err := Start(ctx, client, Options{Inflight: inflight, QueueSize: max(b.N, 1), Logger: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(ctx)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := p.Publish(ctx, msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
			}
			for p.Len() > 0 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if got := p.Counters().Delivered.Load(); got != int64(b.N) {
				b.Fatalf("Delivered = %d, want %d", got, b.N)
			}
		})
	}
}
