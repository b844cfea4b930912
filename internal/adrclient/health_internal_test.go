package adrclient

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
)

// The runtime-health cache in virtual time: what is sent at once, what is
// only cached, the resends every period with a fresh lastUpdateTime, and
// silence after Pause until the next report.
func TestHealthCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type sent struct {
			at      time.Duration
			reports map[string]adr.RuntimeHealth
		}
		var mu sync.Mutex
		var got []sent
		start := time.Now()
		h := &healthCache{
			period: 10 * time.Second, now: time.Now, log: zerolog.Nop(), entries: map[string]adr.RuntimeHealth{},
			send: func(_ context.Context, r map[string]adr.RuntimeHealth) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, sent{time.Since(start), maps.Clone(r)})
				return nil
			},
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); h.run(ctx) }()
		at := func(d time.Duration) { time.Sleep(d - time.Since(start)); synctest.Wait() }
		ok := adr.RuntimeHealth{Version: 2, Status: adr.HealthAvailable}
		bad := adr.RuntimeHealth{Version: 2, Status: adr.HealthUnavailable, Message: "503", ReasonCode: "SampleFailed"}
		report := func(key string, rh adr.RuntimeHealth) {
			t.Helper()
			if err := h.report(ctx, key, rh); err != nil {
				t.Fatal(err)
			}
		}

		report("a", ok)  // 0 s: sent
		at(time.Second)  //
		report("a", ok)  // 1 s: the same, cached
		report("b", bad) // 1 s: sent
		at(2 * time.Second)
		report("a", adr.RuntimeHealth{Version: 1, Status: adr.HealthUnavailable}) // older version: dropped
		report("a", bad)                                                          // 2 s: a change, sent
		at(25 * time.Second)                                                      // resends at 10 s and 20 s
		h.pause()
		at(45 * time.Second) // nothing at 30 s and 40 s
		report("b", bad)     // 45 s: new again after Pause, sent
		at(51 * time.Second) // 50 s: resent
		cancel()
		<-done

		var when []time.Duration
		var keys [][]string
		for _, s := range got {
			when = append(when, s.at)
			keys = append(keys, slices.Sorted(maps.Keys(s.reports)))
		}
		wantWhen := []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second, 20 * time.Second, 45 * time.Second, 50 * time.Second}
		wantKeys := [][]string{{"a"}, {"b"}, {"a"}, {"a", "b"}, {"a", "b"}, {"b"}, {"b"}}
		if !slices.Equal(when, wantWhen) || !slices.EqualFunc(keys, wantKeys, slices.Equal[[]string]) {
			t.Fatalf("sent at %v: %v\nwant at %v: %v", when, keys, wantWhen, wantKeys)
		}
		if s := got[3].reports["a"]; s.Status != adr.HealthUnavailable || !s.LastUpdateTime.Equal(start.Add(10*time.Second)) {
			t.Errorf("the resend at 10 s has %+v, want the last report with lastUpdateTime 10 s", s)
		}
	})
}
