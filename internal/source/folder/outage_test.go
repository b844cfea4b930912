package folder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/publish"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
)

// These tests kill a real Mosquitto with SIGKILL while the connector runs
// and check, by the sequence numbers a device serves, what reached a
// subscriber. Mosquitto keeps the subscriber's session across the restart
// (persistence, saved every second), so that whatever the connector
// delivers after the restart reaches the subscriber even before it is back.

const outageInterval = 50 * time.Millisecond

// killableBroker is a Mosquitto process on a fixed loopback port.
type killableBroker struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	log  *os.File
}

// startKillableBroker starts Mosquitto on a free port. Without the binary the
// test is skipped, unless CI is "true": there it fails.
func startKillableBroker(t *testing.T) *killableBroker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto is not installed (apt-get install -y mosquitto); CI must run this test")
		}
		t.Skip("mosquitto is not installed (apt-get install -y mosquitto)")
	}
	// Mosquitto runs as the user "mosquitto" when started as root, unless
	// told otherwise: it must write its database here.
	dir, err := os.MkdirTemp("", "mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nautosave_interval 1\nautosave_on_changes true\nmax_queued_messages 100000\n", port, dir)
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &killableBroker{t: t, bin: bin, dir: dir, port: port}
	logf, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	m.log = logf
	t.Cleanup(func() {
		m.kill()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("mosquitto output:\n%s", b)
		}
	})
	m.start()
	return m
}

func (m *killableBroker) url() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", m.port) }

// start runs Mosquitto and waits until it accepts connections.
func (m *killableBroker) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", filepath.Join(m.dir, "mosquitto.conf"))
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto does not listen on %d: %v", m.port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// saved waits until Mosquitto has saved its database since t.
func (m *killableBroker) saved(t time.Time) {
	m.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := os.Stat(filepath.Join(m.dir, "mosquitto.db")); err == nil && st.ModTime().After(t) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatal("mosquitto did not save its database")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops Mosquitto the hard way: no goodbye, no final save.
func (m *killableBroker) kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.cmd = nil
}

// seqDevice serves {"seq": 1}, {"seq": 2} … and remembers the last one.
type seqDevice struct {
	srv  *httptest.Server
	last atomic.Int64
}

func newSeqDevice(t *testing.T) *seqDevice {
	d := &seqDevice{}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"seq":%d}`, d.last.Add(1))
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func outageConfig(device string) fstest.MapFS {
	return fstest.MapFS{
		"device.yaml": {Data: []byte(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata:
  name: counter
spec:
  endpoints:
    inbound:
      http:
        address: ` + device + `
        endpointType: Microsoft.Http
`)},
		"asset.yaml": {Data: []byte(fmt.Sprintf(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: counter
spec:
  deviceRef:
    deviceName: counter
    endpointName: http
  datasets:
    - name: seq
      dataSource: /seq
      datasetConfiguration: '{"samplingInterval": %d}'
      destinations:
        - target: Mqtt
          configuration:
            topic: outage/seq
            qos: Qos1
`, outageInterval.Milliseconds()))},
	}
}

// seqSubscriber records the sequence numbers it receives, in order. Its
// session outlives disconnections.
type seqSubscriber struct {
	mu  sync.Mutex
	got []int
}

func subscribeSeq(t *testing.T, brokerURL, clientID string) *seqSubscriber {
	t.Helper()
	u, _ := url.Parse(brokerURL)
	s := &seqSubscriber{}
	c, err := mqttclient.Connect(context.Background(), mqttclient.Options{
		// Mosquitto 2.0 does not save the session of a client that
		// connected with clean start, whatever its expiry: the broker is
		// new, so there is no old session to clean anyway.
		Servers: []*url.URL{u}, ClientID: clientID, KeepAlive: 5, SessionExpiry: 600, CleanStart: false,
		MaxBackoff: 250 * time.Millisecond, Logger: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.AwaitConnection(ctx); err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	err = c.Subscribe(ctx, "outage/#", 1, func(m mqttclient.Message) {
		var v struct{ Seq int }
		if json.Unmarshal(m.Payload, &v) != nil {
			return
		}
		s.mu.Lock()
		s.got = append(s.got, v.Seq)
		s.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return s
}

func (s *seqSubscriber) seqs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.got...)
}

// waitSeq waits until a sequence number of at least n arrived.
func (s *seqSubscriber) waitSeq(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, v := range s.seqs() {
			if v >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sequence number %d or above within %v (got %v)", n, timeout, s.seqs())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// analyse checks the order of first arrivals and returns the sequence
// numbers missing up to the highest one received.
func analyse(t *testing.T, got []int) (missing []int, highest int) {
	t.Helper()
	seen := map[int]bool{}
	prev := 0
	for _, v := range got {
		if seen[v] {
			continue // QoS 1 is at least once: a duplicate is allowed
		}
		seen[v] = true
		if v < prev {
			t.Errorf("sequence number %d arrived after %d: out of order", v, prev)
		}
		prev = v
		highest = max(highest, v)
	}
	for i := 1; i <= highest; i++ {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	return missing, highest
}

// outageRun is a connector run with its logs.
type outageRun struct {
	logs *logLines
	done chan error
	stop context.CancelFunc
	over bool // finish has seen Run return
}

func startOutageRun(t *testing.T, s *settings.Settings, cfg fstest.MapFS) *outageRun {
	t.Helper()
	r := &outageRun{logs: &logLines{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	ready := make(chan struct{})
	go func() {
		log := zerolog.New(r.logs)
		opts := connector.FromSettings(s, log)
		opts.Ready = func(string) { close(ready) }
		r.done <- connector.Run(ctx, folder.New(folder.Options{Settings: s, Config: cfg, Display: "outage", Logger: log}), opts)
	}()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("the connector did not start")
	}
	t.Cleanup(func() {
		cancel()
		if !r.over {
			<-r.done
		}
	})
	return r
}

// finish stops the run (as SIGTERM does) and returns its "publisher
// stopped" totals.
func (r *outageRun) finish(t *testing.T) map[string]any {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.over = true
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("connector logs:\n%s", r.logs.text())
		}
	})
	st := r.logs.find("publisher stopped")
	if st == nil {
		t.Fatalf("no publisher totals in the logs:\n%s", r.logs.text())
	}
	return st
}

func outageSettings(brokerURL, clientID string) *settings.Settings {
	s := settings.Defaults()
	s.Broker = brokerURL
	s.ClientID = clientID
	return &s
}

// TestBrokerOutage kills Mosquitto mid-run for 30 sampling intervals and
// restarts it on the same port: within the queue bound nothing is lost;
// beyond it exactly the messages the publisher reports dropped are
// missing, in one run, the oldest or the newest of the outage.
func TestBrokerOutage(t *testing.T) {
	tests := []struct {
		name     string
		bound    int
		overflow publish.Overflow
	}{
		{"within the bound", 1000, "dropOldest"},
		{"beyond the bound, drop oldest", 5, "dropOldest"},
		{"beyond the bound, drop newest", 5, "dropNewest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			broker := startKillableBroker(t)
			device := newSeqDevice(t)
			sub := subscribeSeq(t, broker.url(), "outage-sub")
			subscribed := time.Now()
			s := outageSettings(broker.url(), "outage-connector")
			s.PublishQueueSize, s.PublishOverflow = tt.bound, tt.overflow
			run := startOutageRun(t, s, outageConfig(device.srv.URL))

			sub.waitSeq(t, 10, 5*time.Second)
			// The subscriber's session must survive the kill.
			broker.saved(subscribed)
			broker.kill()
			killedAt := device.last.Load()
			time.Sleep(30 * outageInterval)
			// What the subscriber had when the broker died: the messages
			// after it are the outage's.
			_, delivered := analyse(t, sub.seqs())
			broker.start()
			restartedAt := device.last.Load()
			if produced := restartedAt - killedAt; produced < 15 {
				t.Fatalf("only %d samples during the outage", produced)
			}
			// Fresh messages after the restart: the backlog is through.
			sub.waitSeq(t, int(restartedAt)+10, 10*time.Second)
			totals := run.finish(t)

			missing, highest := analyse(t, sub.seqs())
			dropped := int(totals["dropped"].(float64))
			if len(missing) != dropped {
				t.Errorf("%d sequence numbers missing up to %d (%v), but the publisher reports %d dropped", len(missing), highest, missing, dropped)
			}
			if tt.bound >= 1000 {
				if dropped != 0 {
					t.Errorf("%d messages dropped within the bound", dropped)
				}
				return
			}
			if dropped == 0 || len(missing) == 0 {
				t.Fatal("nothing dropped beyond the bound")
			}
			// One run of the outage's messages is lost: with drop oldest
			// its first ones (but one that may be in flight), with drop
			// newest all but the first the queue holds. The run's end may
			// be ragged: while the backlog drains after the reconnect, the
			// queue is at its bound, and a message a sender holds in flight
			// is neither dropped nor counted (seen on two busy cores: drop
			// newest lost 16…45, kept 46, lost 47…49; drop oldest lost
			// 11…40, kept 41, lost 42 and 43).
			first, last := missing[0], missing[len(missing)-1]
			n := 1
			for n < len(missing) && missing[n] == missing[n-1]+1 {
				n++
			}
			lost := missing[:n]
			if last-lost[n-1] > 2*tt.bound {
				t.Errorf("missing %v: drops go on well after the run %d…%d", missing, lost[0], lost[n-1])
			}
			if last >= highest {
				t.Errorf("missing %v: lost after the newest message delivered (%d), not inside the outage", missing, highest)
			}
			switch kept := first - 1 - delivered; tt.overflow {
			case "dropOldest":
				if kept > 1 {
					t.Errorf("drop oldest lost %v, but kept %d older messages of the outage (after %d)", missing, kept, delivered)
				}
			case "dropNewest":
				if kept < tt.bound || kept > tt.bound+1 {
					t.Errorf("drop newest lost %v after keeping %d messages of the outage (after %d), want the bound %d", missing, kept, delivered, tt.bound)
				}
			}
			if n := run.logs.count("publish queue full; dropping messages"); n != 1 {
				t.Errorf("queue overflow logged %d times in one outage, want 1", n)
			}
		})
	}
}

// TestShutdownFlushesTheQueue stops the connector (as SIGTERM does) while
// the broker is down: it keeps trying until the broker is back and
// delivers every queued message before it returns.
func TestShutdownFlushesTheQueue(t *testing.T) {
	broker := startKillableBroker(t)
	device := newSeqDevice(t)
	sub := subscribeSeq(t, broker.url(), "flush-sub")
	subscribed := time.Now()
	s := outageSettings(broker.url(), "flush-connector")
	s.ShutdownTimeout = 10 * time.Second
	run := startOutageRun(t, s, outageConfig(device.srv.URL))
	sub.waitSeq(t, 5, 5*time.Second)
	broker.saved(subscribed)
	broker.kill()
	time.Sleep(10 * outageInterval)
	run.stop() // as SIGTERM does: the samplers stop and the flush begins
	time.Sleep(300 * time.Millisecond)
	broker.start()
	totals := run.finish(t)
	queued, delivered, left := int(totals["queued"].(float64)), int(totals["delivered"].(float64)), int(totals["left"].(float64))
	if left != 0 || delivered != queued {
		t.Fatalf("after shutdown: %d queued, %d delivered, %d left; want all delivered", queued, delivered, left)
	}
	sub.waitSeq(t, queued, 5*time.Second)
	if missing, _ := analyse(t, sub.seqs()); len(missing) != 0 {
		t.Errorf("missing %v after a flushed shutdown", missing)
	}
}

// TestSpoolKeepsMessagesAcrossRestarts stops the connector while the broker
// is down with a short shutdown deadline: the queued messages stay in the
// spool, and the next run delivers them before the new ones.
func TestSpoolKeepsMessagesAcrossRestarts(t *testing.T) {
	broker := startKillableBroker(t)
	device := newSeqDevice(t)
	spool := t.TempDir()
	sub := subscribeSeq(t, broker.url(), "spool-sub")
	subscribed := time.Now()
	s := outageSettings(broker.url(), "spool-connector")
	s.SpoolDir = spool
	s.ShutdownTimeout = 200 * time.Millisecond
	first := startOutageRun(t, s, outageConfig(device.srv.URL))
	sub.waitSeq(t, 5, 5*time.Second)
	broker.saved(subscribed)
	broker.kill()
	time.Sleep(10 * outageInterval)
	totals := first.finish(t)
	left := int(totals["left"].(float64))
	if left < 5 {
		t.Fatalf("%d messages left in the queue after the outage, want several", left)
	}
	if n := first.logs.count("publish queue not flushed"); n != 1 {
		t.Errorf("unflushed queue logged %d times, want 1:\n%s", n, first.logs.text())
	}

	broker.start()
	stoppedAt := device.last.Load()
	second := startOutageRun(t, s, outageConfig(device.srv.URL))
	sub.waitSeq(t, int(stoppedAt)+5, 10*time.Second)
	totals = second.finish(t)
	if replayed := int(totals["replayed"].(float64)); replayed != left {
		t.Errorf("the second run replayed %d messages, want the %d left by the first", replayed, left)
	}
	missing, highest := analyse(t, sub.seqs())
	// The first run's last sample may have been cut short by the stop:
	// its number was served but never published.
	if len(missing) > 1 || (len(missing) == 1 && missing[0] != int(stoppedAt)) {
		t.Errorf("missing %v of 1..%d across a connector restart", missing, highest)
	}
	ents, err := os.ReadDir(spool)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".seg") {
			t.Errorf("spool segment %s left after everything was delivered", e.Name())
		}
	}
}

// logLines collects JSON log lines.
type logLines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logLines) records() []map[string]any {
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(l.text()))
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err == io.EOF || err != nil {
			return out
		}
		out = append(out, rec)
	}
}

func (l *logLines) find(msg string) map[string]any {
	for _, r := range l.records() {
		if r["message"] == msg {
			return r
		}
	}
	return nil
}

func (l *logLines) count(msg string) int {
	n := 0
	for _, r := range l.records() {
		if r["message"] == msg {
			n++
		}
	}
	return n
}
