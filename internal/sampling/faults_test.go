package sampling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/schedule"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/memnet"
)

// faultAsset is the YAML of a device at address and its asset with one
// dataset "data" sampled every interval, published to the topic named after
// the asset.
func faultAsset(name, address string, interval time.Duration) string {
	return fmt.Sprintf(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata:
  name: %[1]s-device
spec:
  endpoints:
    inbound:
      http:
        address: %[2]s
        endpointType: Microsoft.Http
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: %[1]s
spec:
  deviceRef:
    deviceName: %[1]s-device
    endpointName: http
  datasets:
    - name: data
      dataSource: /data
      datasetConfiguration: '{"samplingInterval": %[3]d}'
      destinations:
        - target: Mqtt
          configuration:
            topic: %[1]s
            qos: Qos1
`, name, address, interval.Milliseconds())
}

// faultLoadAssets loads resource files through the one load path.
func faultLoadAssets(t *testing.T, files map[string]string) []*plan.Asset {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	loader, err := config.NewLoader(plan.Defaults{SamplingInterval: time.Second, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loader.LoadDir(fsys, ".", "test")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg.Assets
}

// faultRecorder is a Publisher that keeps every message by topic, and panics on
// the topic "panicky".
type faultRecorder struct {
	mu  sync.Mutex
	got map[string][][]byte
}

func (r *faultRecorder) Publish(_ context.Context, m *mqttclient.Message) error {
	if m.Topic == "panicky" {
		panic("mapping blew up")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string][][]byte{}
	}
	r.got[m.Topic] = append(r.got[m.Topic], m.Payload)
	return nil
}

func (r *faultRecorder) payloads(topic string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got[topic]...)
}

// faultStates records the latest state of every dataset.
type faultStates struct {
	mu    sync.Mutex
	err   map[string]error
	first map[string]error // the first failure reported
	n     map[string]int   // state changes
}

func (s *faultStates) set(asset, _ string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err, s.first, s.n = map[string]error{}, map[string]error{}, map[string]int{}
	}
	s.err[asset] = err
	if _, seen := s.first[asset]; !seen && err != nil {
		s.first[asset] = err
	}
	s.n[asset]++
}

func (s *faultStates) get(asset string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[asset], s.err[asset]
}

// firstFailure is the first failure reported for asset: a later sample of
// a broken device may fail otherwise on a loaded machine (a timeout).
func (s *faultStates) firstFailure(asset string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first[asset]
}

// faultNet is the network in memory the devices of a test serve on: the
// tests run in virtual time (testing/synctest).
type faultNet struct {
	t *testing.T
	memnet.Network
}

// serve serves h at a new address until the test ends and returns its URL.
func (n *faultNet) serve(h http.Handler) string {
	l := n.Listen()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	n.t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return l.URL()
}

// counter serves {"n": 1}, {"n": 2} … : the device that must keep its rhythm.
func (n *faultNet) counter() string {
	var c atomic.Int64
	return n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"n":%d}`, c.Add(1))
	}))
}

// silent accepts connections and never reads or answers.
func (n *faultNet) silent() string {
	l := n.Listen()
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	n.t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.URL()
}

// TestFaultsStayInTheirDataset runs one healthy asset next to sick devices
// and a panicking dataset: each sick dataset reports its own clear error and
// the healthy one keeps its rhythm.
func TestFaultsStayInTheirDataset(t *testing.T) { synctest.Test(t, testFaultsStayInTheirDataset) }

// sickDevice is a device that fails in its own way, and the error its
// dataset must report.
type sickDevice struct{ asset, address, want string }

// sickDevices serve on n: slow, silent, cut short, endless, nested too deep,
// an HTML error page, HTML sent as JSON, binary, and a panicking dataset.
func sickDevices(n *faultNet, maxBody int, hugeWritten *atomic.Int64) []sickDevice {
	return []sickDevice{
		{"slow", n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		})), "GET http://127.0.0.1:*/data: no complete response in time: context deadline exceeded"},
		{"silent", n.silent(), "GET http://127.0.0.1:*/data: no complete response in time: context deadline exceeded"},
		{"midbody", n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"temperature": 2`)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		})), "GET http://127.0.0.1:*/data: reading body: unexpected EOF"},
		{"huge", n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 32<<10)
			for r.Context().Err() == nil {
				n, err := w.Write(chunk)
				hugeWritten.Add(int64(n))
				if err != nil {
					return
				}
			}
		})), fmt.Sprintf("GET http://127.0.0.1:*/data: response body too large: more than %d bytes", maxBody)},
		{"nested", n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.Repeat("[", 20000)+strings.Repeat("]", 20000))
		})), "GET http://127.0.0.1:*/data: JSON at line 1, column 10001: invalid character '[' exceeded max depth"},
		{"html", n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>\n<head><title>502 Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1></body>\n</html>")
		})), "GET http://127.0.0.1:*/data: HTTP 502 Bad Gateway: <html> <head><title>502 Bad Gateway</title></head> <body><h1>Bad Gateway</h1></body> </html>"},
		{"notjson", n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "<html><body>Please log in</body></html>")
		})), "GET http://127.0.0.1:*/data: JSON at line 1, column 1: invalid character '<' looking for beginning of value"},
		{"binary", n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("temp=\xff\xfe\x00"))
		})), "GET http://127.0.0.1:*/data: neither JSON nor UTF-8 text: invalid UTF-8 at line 1, column 6"},
		{"panicky", n.counter(), "internal error: mapping blew up"},
	}
}

func testFaultsStayInTheirDataset(t *testing.T) {
	n := &faultNet{t: t}
	const interval = 100 * time.Millisecond
	const maxBody = 64 << 10
	var hugeWritten atomic.Int64
	sick := sickDevices(n, maxBody, &hugeWritten)
	files := map[string]string{"steady.yaml": faultAsset("steady", n.counter(), interval)}
	for _, s := range sick {
		files[s.asset+".yaml"] = faultAsset(s.asset, s.address, interval)
	}
	assets := faultLoadAssets(t, files)

	pub := &faultRecorder{}
	st := &faultStates{}
	start := time.Now()
	conn := startSamplers(t, assets, pub, fetch.Options{MaxResponseBytes: maxBody, Dial: n.Dial}, st.set, zerolog.Nop())
	const window = 1497 * time.Millisecond
	time.Sleep(window)
	synctest.Wait()

	for _, s := range sick {
		err := st.firstFailure(s.asset)
		if err == nil {
			t.Errorf("asset %s: no failure reported", s.asset)
			continue
		}
		got := err.Error()
		if s.address != "" {
			got = strings.ReplaceAll(got, strings.TrimPrefix(s.address, "http://"), "127.0.0.1:*")
		}
		if got != s.want {
			t.Errorf("asset %s failed with\n%s\nwant\n%s", s.asset, got, s.want)
		}
	}
	if changes, err := st.get("steady"); changes != 0 {
		t.Errorf("the healthy asset changed state %d times (last: %v)", changes, err)
	}
	got := pub.payloads("steady")
	if want := len(ticks("steady/data", interval, start, start.Add(window))); len(got) != want {
		t.Errorf("the healthy asset published %d messages in %v, want one every tick: %d", len(got), window, want)
	}
	for i, p := range got {
		var v struct{ N int }
		if err := json.Unmarshal(p, &v); err != nil || v.N != i+1 {
			t.Errorf("healthy message %d is %s, want n=%d", i, p, i+1)
			break
		}
	}
	if n := conn.Counters().Panics.Load(); n < 5 {
		t.Errorf("%d panics recovered: the panicking dataset must run again on every tick", n)
	}
	// The size limit stops reading: the huge device cannot push much more
	// than the limit plus what loopback sockets buffer.
	if w, samples := hugeWritten.Load(), int64(window/interval); w > samples*(maxBody+16<<20) {
		t.Errorf("the huge device wrote %d bytes in %d samples: the size limit did not stop the reads", w, samples)
	}
}

// TestFailingDeviceIsPolledLessOften checks the backoff of a device that
// keeps failing and the prompt return to its rhythm when it recovers.
func TestFailingDeviceIsPolledLessOften(t *testing.T) {
	synctest.Test(t, testFailingDeviceIsPolledLessOften)
}

func testFailingDeviceIsPolledLessOften(t *testing.T) {
	n := &faultNet{t: t}
	const interval = 50 * time.Millisecond
	var sick atomic.Bool
	var requests atomic.Int64
	sick.Store(true)
	addr := n.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if sick.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	assets := faultLoadAssets(t, map[string]string{"a.yaml": faultAsset("flaky", addr, interval)})
	var logs logbuf.Buffer
	pub := &faultRecorder{}
	start := time.Now()
	conn := startSamplers(t, assets, pub, fetch.Options{Dial: n.Dial}, nil, zerolog.New(&logs))
	const failing = 1197 * time.Millisecond // 24 ticks
	time.Sleep(failing)
	synctest.Wait()
	// Virtual time: the ticks are known, and so is the backoff over them:
	// after the second failure in a row 1 tick is skipped, then 2, 4, 8 …
	var wantSamples, wantSkipped int64
	fails, skip := 0, 0
	for range ticks("flaky/data", interval, start, start.Add(failing)) {
		if skip > 0 {
			skip--
			wantSkipped++
			continue
		}
		wantSamples++
		if fails++; fails >= 2 {
			skip = 1 << (fails - 2)
		}
	}
	c := conn.Counters()
	if samples, skipped := c.Samples.Load(), c.Skipped.Load(); samples != wantSamples || skipped != wantSkipped {
		t.Errorf("while failing: %d samples and %d skipped ticks, want %d and %d (1, 2, 4, 8 ticks apart)", samples, skipped, wantSamples, wantSkipped)
	}
	sick.Store(false)
	recovered := time.Now()
	for len(pub.payloads("flaky")) == 0 {
		if time.Since(recovered) > 2*time.Second {
			t.Fatal("no message 2 s after the device recovered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	firstOK := time.Since(recovered)
	time.Sleep(500 * time.Millisecond) // 10 ticks
	synctest.Wait()
	if n := len(pub.payloads("flaky")); n != 11 {
		t.Errorf("%d messages in the 10 ticks after the first success and with it, want the normal rhythm: 11", n)
	}
	if firstOK > time.Duration(1<<(fails-2)+1)*interval {
		t.Errorf("first message %v after recovery, want within the last backoff of %d ticks", firstOK, 1<<(fails-2))
	}
	for msg, want := range map[string]int{
		"device keeps failing; polling it less often":        1,
		"device answers again; polling at the normal rhythm": 1,
		"dataset sampling failed":                            1,
	} {
		if got := logs.Count(msg); got != want {
			t.Errorf("%q logged %d times, want %d", msg, got, want)
		}
	}
}

// ticks is when the scheduler ticks a job of this key and interval added at
// start, before end.
func ticks(key string, interval time.Duration, start, end time.Time) []time.Time {
	next := start.Truncate(interval).Add(schedule.Phase(key, interval))
	if !next.After(start) {
		next = next.Add(interval)
	}
	var out []time.Time
	for ; next.Before(end); next = next.Add(interval) {
		out = append(out, next)
	}
	return out
}

// samplerSet samples assets as the runtime does, without MQTT: one
// scheduler, one client per endpoint, one sampler per dataset.
type samplerSet struct {
	counters sampling.Counters
}

func (s *samplerSet) Counters() *sampling.Counters { return &s.counters }

// startSamplers samples assets until the test ends.
func startSamplers(t *testing.T, assets []*plan.Asset, pub sampling.Publisher, fo fetch.Options, onState func(asset, dataset string, err error), log zerolog.Logger) *samplerSet {
	t.Helper()
	set := &samplerSet{}
	sched := schedule.New(nil)
	for _, a := range assets {
		client := fetch.New(fo)
		t.Cleanup(client.Close)
		for _, d := range a.Datasets {
			opts := sampling.Options{Logger: log, Counters: &set.counters, Go: sched.Go}
			if onState != nil {
				asset, dataset := a.Name, d.Name
				opts.OnStateChange = func(err error) { onState(asset, dataset, err) }
			}
			s, err := sampling.New(d, client, pub, opts)
			if err != nil {
				t.Fatal(err)
			}
			sched.Add(a.Name+"/"+d.Name, d.Interval, s.Sample)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sched.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return set
}
