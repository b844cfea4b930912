package csvlogger

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

func TestLastRows(t *testing.T) {
	l := New(Options{Rows: 3})
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	get := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL + "/export/last.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return string(b)
	}
	header := "# DL-200 s/n 4711 \"Cold store 2\", logging every 1m0s\r\nRecord;Time;Temperature;Humidity;Battery;Door\r\n"
	if got := get(); got != header {
		t.Errorf("nothing logged: %q", got)
	}
	l.Log(9)
	want := header +
		"1007;2025-06-01T00:06:00Z;-17.8;63.6;3.614;closed\r\n" +
		"1008;2025-06-01T00:07:00Z;-17.7;;3.613;closed\r\n" +
		"1009;2025-06-01T00:08:00Z;-17.7;62.7;3.612;closed\r\n"
	if got := get(); got != want {
		t.Errorf("last 3 of 9 rows:\n%s\nwant\n%s", got, want)
	}
	if got := l.Served(); len(got) != 2 || got[0] != 0 || got[1] != 3 {
		t.Errorf("served %v, want [0 3]", got)
	}
}

// The example's configuration against the logger, which repeats its last
// ten rows in every answer: every row logged since the first poll's ten is
// published once, in order, numbers as numbers and an empty cell null;
// the repeats are counted as duplicates.
func TestEveryRowOnce(t *testing.T) {
	l := New(Options{})
	l.Log(15) // the first answer: rows 6 to 15, the first five long gone
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	broker := mqtttest.Embedded(t)
	inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "site/#")
	dir := writeConfig(t, strings.TrimPrefix(srv.URL, "http://"), `"samplingInterval": 60000`, `"samplingInterval": 100`)
	run := startConnector(t, dir, broker.URL(), nil)

	inbox.Wait(t, 10)
	for _, batch := range []int{3, 1, 7} {
		n := len(l.Served())
		wait.For(t, "three more polls of the same rows", func() bool { return len(l.Served()) >= n+3 })
		l.Log(batch)
	}
	n := len(l.Served())
	wait.For(t, "three more polls", func() bool { return len(l.Served()) >= n+3 })
	// Stopped while the next poll waits: every answer was read.
	l.Hold()
	wait.For(t, "a poll on hold", func() bool { return l.Holding() > 0 })
	run.Stop(t)

	rows := l.Rows()[5:]
	msgs := inbox.Wait(t, len(rows))
	if len(msgs) != len(rows) {
		t.Errorf("%d messages, want one per row from record %d: %d", len(msgs), rows[0].Record, len(rows))
	}
	for i, m := range msgs {
		if i < len(rows) {
			checkRow(t, m.Payload, rows[i])
		}
	}
	served := 0
	for _, n := range l.Served() {
		served += n
	}
	stopped := run.Record(t, "stopped")
	if stopped["duplicates"] != float64(served-len(rows)) || stopped["messages"] != float64(len(rows)) || stopped["failed_samples"] != 0.0 {
		t.Errorf("stopped: %v\nwant %d rows served in %d answers, %d published, the rest duplicates", stopped, served, len(l.Served()), len(rows))
	}
	t.Logf("%d answers of up to 10 rows, %d rows served, %d published once each, %v duplicates dropped", len(l.Served()), served, len(msgs), stopped["duplicates"])
}

// With the connector's stateDir, the keys of deduplication survive a
// restart: the rows the logger repeats after it are not published again.
func TestNoRowRepeatedAfterRestart(t *testing.T) {
	l := New(Options{})
	l.Log(12)
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	broker := mqtttest.Embedded(t)
	inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "site/#")
	dir := writeConfig(t, strings.TrimPrefix(srv.URL, "http://"), `"samplingInterval": 60000`, `"samplingInterval": 100`)
	stateDir := t.TempDir()
	withState := func(s *settings.Settings) { s.StateDir = stateDir }

	for run, logged := range []int{0, 2} {
		l.Log(logged)
		l.Release()
		r := startConnector(t, dir, broker.URL(), withState)
		n := len(l.Served())
		wait.For(t, "three polls", func() bool { return len(l.Served()) >= n+3 })
		l.Hold()
		wait.For(t, "a poll on hold", func() bool { return l.Holding() > 0 })
		r.Stop(t)
		wait.For(t, "the poll on hold given up", func() bool { return l.Holding() == 0 })
		if run == 1 {
			if d, _ := r.Record(t, "stopped")["duplicates"].(float64); d < 8*3 {
				t.Errorf("after the restart: %v duplicates, want the 8 rows published before the restart dropped from each of 3 polls at least", d)
			}
		}
	}
	rows := l.Rows()[2:] // the first answer: rows 3 to 12
	msgs := inbox.Wait(t, len(rows))
	if len(msgs) != len(rows) {
		t.Errorf("%d messages, want one per row from record %d: %d", len(msgs), rows[0].Record, len(rows))
	}
	for i, m := range msgs {
		if i < len(rows) {
			checkRow(t, m.Payload, rows[i])
		}
	}
}

// checkRow checks that payload is the message of row r: its values, the
// numbers as JSON numbers with the text the logger wrote, an empty
// humidity null.
func checkRow(t *testing.T, payload []byte, r Row) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", payload, err)
	}
	humidity := any(nil)
	if r.Humidity != "" {
		humidity = json.Number(r.Humidity)
	}
	want := map[string]any{
		"asset": "cold-store-2", "record": json.Number(strconv.Itoa(r.Record)), "time": r.Time.Format(time.RFC3339),
		"temperature": json.Number(num(r.Temperature)), "humidity": humidity, "battery": json.Number(num(r.Battery)), "doorOpen": r.Door == "open",
	}
	if len(m) != len(want) {
		t.Errorf("record %d: %s, want %v", r.Record, payload, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("record %d: %s is %#v, want %#v", r.Record, k, m[k], v)
		}
	}
}
