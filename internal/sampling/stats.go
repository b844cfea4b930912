package sampling

import (
	"sync/atomic"
	"time"

	"github.com/http-connector/http-connector/internal/fetch"
)

// Stats are one dataset's totals and last moments since its sampler
// started: what the status page and the metrics read, at their own pace.
type Stats struct {
	Samples, Failures, Messages, Suppressed, Filtered, Duplicates, SkippedTicks, BytesIn int64
	// BytesOut is the payload bytes of the messages published (properties
	// not counted).
	BytesOut int64
	// Responses are the device's answers with a 2xx status, one per
	// request (a dataset may make several per sample: data points with
	// their own paths, pages).
	Responses int64
	Started   time.Time // when the sampler was made: the totals' start
	// FailuresByKind counts the failures by the step that failed, indexed
	// by the position of their kind in FailureKinds.
	FailuresByKind [len(failureKinds)]int64
	LastSample     time.Time // zero: never sampled
	LastPublish    time.Time // zero: nothing published yet
	LastMessage    []byte    // the payload last published; never modified
	LastError      error     // while the dataset is failing
	BackingOff     bool      // its device keeps failing, and ticks are skipped
}

// failureKinds are the kinds of FailuresByKind, in order.
var failureKinds = [...]FailureKind{FailRequest, FailAuth, FailParse, FailMapping, FailPublish, FailInternal}

// FailureKinds are the kinds of failure, in the order of
// Stats.FailuresByKind.
func FailureKinds() []FailureKind { return failureKinds[:] }

// stats are a sampler's own totals, beside the connector-wide Counters:
// atomics written by its samples, read by Stats.
type stats struct {
	samples, failures, messages, suppressed, filtered, duplicates, skipped, bytesIn, bytesOut, responses atomic.Int64
	byKind                                                                                               [len(failureKinds)]atomic.Int64
	lastSample, lastPublish                                                                              atomic.Int64 // Unix nanoseconds
	lastMessage                                                                                          atomic.Pointer[[]byte]
}

func (st *stats) failed(err error) {
	st.failures.Add(1)
	k := Kind(err)
	for i, kind := range failureKinds {
		if kind == k {
			st.byKind[i].Add(1)
			return
		}
	}
}

// Stats are the dataset's totals so far.
func (s *Sampler) Stats() Stats {
	st := &s.st
	out := Stats{
		Samples: st.samples.Load(), Failures: st.failures.Load(), Messages: st.messages.Load(),
		Suppressed: st.suppressed.Load(), Filtered: st.filtered.Load(), Duplicates: st.duplicates.Load(),
		SkippedTicks: st.skipped.Load(), BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(), Responses: st.responses.Load(), Started: s.started,
		LastError: s.Failing(),
	}
	for i := range out.FailuresByKind {
		out.FailuresByKind[i] = st.byKind[i].Load()
	}
	if t := st.lastSample.Load(); t != 0 {
		out.LastSample = time.Unix(0, t)
	}
	if t := st.lastPublish.Load(); t != 0 {
		out.LastPublish = time.Unix(0, t)
	}
	if m := st.lastMessage.Load(); m != nil {
		out.LastMessage = *m
	}
	if s.skips != nil {
		out.BackingOff = s.skips.backingOff()
	}
	return out
}

// observe counts an answered request's bytes and tells its latency.
func (s *Sampler) observe(r *fetch.Response) {
	if r == nil {
		return
	}
	s.st.bytesIn.Add(int64(len(r.Body)))
	if r.Status >= 200 && r.Status <= 299 {
		s.st.responses.Add(1)
	}
	if s.opts.Latency != nil {
		s.opts.Latency.Observe(r.Elapsed)
	}
}
