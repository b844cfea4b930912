package akrimount_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/akrimount"
)

func TestScanAssignmentsFixture(t *testing.T) {
	got, err := akrimount.ScanAssignments(context.Background(), mountFixtures+"/adr-resources")
	if err != nil {
		t.Fatal(err)
	}
	want := akrimount.Assignments{
		{Device: "SomeDeviceName", Endpoint: "SomeInboundEndpointName"}: {"SomeAssetName1", "SomeAssetName2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestScanAssignments(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"thermostat_rest":            "b\n\na\r\n  c  \na\n",
		"thermostat_ep_with_under":   "x",
		"empty_ep":                   "",
		"noUnderscore":               "ignored",
		"_noDevice":                  "ignored",
		"noEndpoint_":                "ignored",
		"..data":                     "ignored",
		"..2025_07_22_10_00_00.1234": "ignored",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), []byte(content))
	}
	if err := os.MkdirAll(filepath.Join(dir, "dir_ep"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A dangling link, as left for a moment by an atomic update, is skipped.
	mustSymlink(t, "..data/gone_ep", filepath.Join(dir, "gone_ep"))

	got, err := akrimount.ScanAssignments(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := akrimount.Assignments{
		{Device: "thermostat", Endpoint: "rest"}:          {"a", "b", "c"},
		{Device: "thermostat", Endpoint: "ep_with_under"}: {"x"},
		{Device: "empty", Endpoint: "ep"}:                 {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if refs := fmt.Sprint(got.Endpoints()); refs != "[empty_ep thermostat_ep_with_under thermostat_rest]" {
		t.Errorf("Endpoints = %s", refs)
	}

	if _, err := akrimount.ScanAssignments(context.Background(), filepath.Join(dir, "missing")); err == nil {
		t.Error("scan of a missing folder succeeded")
	}
}

func TestAssignmentsEqual(t *testing.T) {
	a := akrimount.Assignments{{Device: "d", Endpoint: "e"}: {"x"}}
	tests := []struct {
		name string
		b    akrimount.Assignments
		want bool
	}{
		{"same", akrimount.Assignments{{Device: "d", Endpoint: "e"}: {"x"}}, true},
		{"other asset", akrimount.Assignments{{Device: "d", Endpoint: "e"}: {"y"}}, false},
		{"other endpoint", akrimount.Assignments{{Device: "d", Endpoint: "f"}: {"x"}}, false},
		{"extra endpoint", akrimount.Assignments{{Device: "d", Endpoint: "e"}: {"x"}, {Device: "d", Endpoint: "f"}: {}}, false},
		{"empty", akrimount.Assignments{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Equal(tt.b); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
}

// configMapDir lays out a folder like a Kubernetes ConfigMap volume: the
// files live in a timestamped folder, ..data links to it and each top-level
// name links into ..data. update swaps all of it atomically.
type configMapDir struct {
	t   *testing.T
	dir string
	gen int
	old map[string]bool
}

func (c *configMapDir) update(files map[string]string) {
	c.t.Helper()
	c.gen++
	ts := fmt.Sprintf("..2025_07_22_10_00_%02d.%d", c.gen, c.gen)
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		c.t.Fatal(err)
	}
	for name, content := range files {
		writeFile(c.t, filepath.Join(c.dir, ts, name), []byte(content))
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	mustSymlink(c.t, ts, tmp)
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	for name := range files {
		if !c.old[name] {
			mustSymlink(c.t, "..data/"+name, filepath.Join(c.dir, name))
		}
	}
	for name := range c.old {
		if _, ok := files[name]; !ok {
			if err := os.Remove(filepath.Join(c.dir, name)); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	if c.gen > 1 {
		prev := fmt.Sprintf("..2025_07_22_10_00_%02d.%d", c.gen-1, c.gen-1)
		if err := os.RemoveAll(filepath.Join(c.dir, prev)); err != nil {
			c.t.Fatal(err)
		}
	}
	c.old = map[string]bool{}
	for name := range files {
		c.old[name] = true
	}
}

func watch(t *testing.T, dir string, period time.Duration) <-chan akrimount.Assignments {
	t.Helper()
	ch := make(chan akrimount.Assignments, 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- akrimount.WatchAssignments(ctx, dir, period, func(a akrimount.Assignments) { ch <- a }, zerolog.Nop())
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchAssignments returned %v", err)
		}
	})
	return ch
}

func next(t *testing.T, ch <-chan akrimount.Assignments, want akrimount.Assignments) {
	t.Helper()
	select {
	case got := <-ch:
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("assignments\n got %v\nwant %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no assignments delivered, want %v", want)
	}
}

func none(t *testing.T, ch <-chan akrimount.Assignments, within time.Duration) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("unexpected delivery %v", got)
	case <-time.After(within):
	}
}

func TestWatchAssignmentsConfigMapSwap(t *testing.T) {
	cm := &configMapDir{t: t, dir: t.TempDir()}
	cm.update(map[string]string{"thermostat_rest": "asset1\n"})
	ch := watch(t, cm.dir, time.Hour)
	ref := akrimount.EndpointRef{Device: "thermostat", Endpoint: "rest"}
	other := akrimount.EndpointRef{Device: "boiler", Endpoint: "http_ep"}

	next(t, ch, akrimount.Assignments{ref: {"asset1"}})

	cm.update(map[string]string{"thermostat_rest": "asset1\nasset2\n", "boiler_http_ep": ""})
	next(t, ch, akrimount.Assignments{ref: {"asset1", "asset2"}, other: {}})

	cm.update(map[string]string{"boiler_http_ep": "b1"})
	next(t, ch, akrimount.Assignments{other: {"b1"}})

	// A swap that changes nothing is not delivered.
	cm.update(map[string]string{"boiler_http_ep": "b1\n"})
	none(t, ch, 300*time.Millisecond)
}

func TestWatchAssignmentsPeriodicRescan(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "d_e"), []byte("a"))
	ch := watch(t, dir, 20*time.Millisecond)
	next(t, ch, akrimount.Assignments{{Device: "d", Endpoint: "e"}: {"a"}})
	// Periodic rescans of an unchanged folder deliver nothing.
	none(t, ch, 200*time.Millisecond)
	// Replace the file atomically, as the operator's volume does; an
	// in-place rewrite could be scanned half-written.
	writeFile(t, filepath.Join(dir, "..tmp"), []byte("a\nb"))
	if err := os.Rename(filepath.Join(dir, "..tmp"), filepath.Join(dir, "d_e")); err != nil {
		t.Fatal(err)
	}
	next(t, ch, akrimount.Assignments{{Device: "d", Endpoint: "e"}: {"a", "b"}})
}

func TestWatchAssignmentsErrors(t *testing.T) {
	ctx := context.Background()
	noop := func(akrimount.Assignments) { t.Error("onChange called") }
	if err := akrimount.WatchAssignments(ctx, t.TempDir(), 0, noop, zerolog.Nop()); err == nil ||
		err.Error() != "watch assignments: period must be positive, got 0s" {
		t.Errorf("zero period: err = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if err := akrimount.WatchAssignments(ctx, missing, time.Second, noop, zerolog.Nop()); err == nil {
		t.Error("missing folder: no error")
	}
}
