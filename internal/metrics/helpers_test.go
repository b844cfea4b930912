package metrics

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// fakeSource is a Source over fixed totals that counts how often it is read.
type fakeSource struct {
	mu        sync.Mutex
	datasets  []DatasetTotals
	connector ConnectorTotals

	datasetCalls, connectorCalls atomic.Int64
}

func (f *fakeSource) Datasets(fn func(DatasetTotals)) {
	f.datasetCalls.Add(1)
	f.mu.Lock()
	ds := slices.Clone(f.datasets)
	f.mu.Unlock()
	for _, d := range ds {
		fn(d)
	}
}

func (f *fakeSource) Connector() ConnectorTotals {
	f.connectorCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connector
}

// calls is how often each method was called.
func (f *fakeSource) calls() (datasets, connector int64) {
	return f.datasetCalls.Load(), f.connectorCalls.Load()
}

// testNow is the clock of the tests; the connector started 95 s before, so
// the heartbeat is 3.
var testNow = time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)

func testClock() time.Time { return testNow }

// newTestSource is two datasets, one with every counter set and a latency
// histogram, one with few counters and no histogram, and a connector.
func newTestSource() *fakeSource {
	lat := &Histogram{}
	for _, d := range []time.Duration{3 * time.Millisecond, 3 * time.Millisecond, 40 * time.Millisecond, 20 * time.Second} {
		lat.Observe(d)
	}
	started := testNow.Add(-95 * time.Second)
	return &fakeSource{
		datasets: []DatasetTotals{
			{
				Asset: "boiler", Dataset: "temps",
				Samples: 10, BytesIn: 1000, Messages: 9, BytesOut: 900,
				Suppressed: 1, Filtered: 2, Duplicates: 3, MissedTicks: 4, SkippedTicks: 5,
				Failures: [NumFailureKinds]int64{1, 2, 3, 4, 5, 6},
				Latency:  lat,
				Failing:  true,
			},
			{
				Asset: "pump", Dataset: "flow", Started: testNow.Add(-10 * time.Second),
				Samples: 5, BytesIn: 50, Messages: 5, BytesOut: 40,
			},
		},
		connector: ConnectorTotals{
			Version: "1.2.3", Commit: "abc123", GoVersion: "go1.26.8",
			Started: started,
			Assets:  2,
			ByQoS: [2]QoSTotals{
				{Queued: 99, Delivered: 7, Dropped: 1, Expired: 99}, // QoS 0: queued and expired are not exported
				{Queued: 20, Delivered: 15, Dropped: 2, Expired: 1},
			},
			QueueDepth: 2, SpoolBytes: 4096,
			MQTTConnected: true, MQTTReconnects: 3,
		},
	}
}

// manyDatasets is a source of n datasets with histograms, for benchmarks.
func manyDatasets(n int) *fakeSource {
	src := &fakeSource{connector: ConnectorTotals{Version: "1", Started: testNow.Add(-time.Hour), Assets: n / 10}}
	for i := range n {
		h := &Histogram{}
		for j := range 50 {
			h.Observe(time.Duration(j*j) * time.Millisecond)
		}
		src.datasets = append(src.datasets, DatasetTotals{
			Asset: fmt.Sprintf("asset-%04d", i/10), Dataset: fmt.Sprintf("dataset-%d", i%10),
			Samples: int64(i) * 100, BytesIn: int64(i) * 10000, Messages: int64(i) * 99, BytesOut: int64(i) * 5000,
			Failures: [NumFailureKinds]int64{int64(i % 3), 0, 1},
			Latency:  h,
		})
	}
	return src
}
