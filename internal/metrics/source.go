package metrics

import "time"

// Source is what the runtime gives the metrics. It is read at each
// collection, a Prometheus scrape or an OTLP export, and never between them:
// the runtime keeps its running totals (atomic counters it needs anyway) and
// this package reads them only when somebody asks.
//
// Both methods may be called from several goroutines at once (two scrapes,
// or a scrape and an export).
type Source interface {
	// Datasets calls f once for each running dataset, with its totals so
	// far, and returns when it has called f for the last one. A walk over
	// 10,000 datasets takes a while, so Datasets should not hold a lock
	// that the samplers need while it calls f: walk a copy of the list of
	// datasets.
	Datasets(f func(DatasetTotals))
	// Connector is the connector-wide totals.
	Connector() ConnectorTotals
}

// FailureKind says where a sample failed. Its String is the value of the
// error label of aio_rest_connector_errors.
type FailureKind int

// The failure kinds, in the order a sample meets them.
const (
	// FailureRequest: the HTTP request failed: the device could not be
	// reached, the request timed out, or it answered with a status that is
	// not 2xx (other than 401 and 403).
	FailureRequest FailureKind = iota
	// FailureAuth: the device refused the credentials (401, 403), or the
	// credentials could not be had (token endpoint, secret file).
	FailureAuth
	// FailureParse: the response body could not be decoded in its format
	// (JSON, XML, CSV, ...) or was over the size limit.
	FailureParse
	// FailureMapping: the jq mapping failed, timed out, or produced a value
	// that is not a message.
	FailureMapping
	// FailurePublish: the MQTT publisher refused the message (closed, or
	// its queue full under the reject policy).
	FailurePublish
	// FailureInternal: a bug in the connector (a recovered panic).
	FailureInternal

	// NumFailureKinds is the number of kinds, the length of
	// DatasetTotals.Failures.
	NumFailureKinds
)

// String is the kind's label value: request, auth, parse, mapping, publish
// or internal.
func (k FailureKind) String() string {
	switch k {
	case FailureRequest:
		return "request"
	case FailureAuth:
		return "auth"
	case FailureParse:
		return "parse"
	case FailureMapping:
		return "mapping"
	case FailurePublish:
		return "publish"
	case FailureInternal:
		return "internal"
	}
	return "unknown"
}

// DatasetTotals are one dataset's totals since Started. Counters only grow;
// when a dataset is restarted (its asset was updated) the runtime may start
// them again from zero with a new Started, which Prometheus reads as a
// counter reset and OTLP as a new start time, after adding the old totals
// to ConnectorTotals.Stopped.
type DatasetTotals struct {
	Asset, Dataset string
	// Started is when the totals were zero; the zero time means
	// ConnectorTotals.Started.
	Started time.Time

	// Samples is the number of responses received: requests the device
	// answered with a 2xx status whose body was read.
	Samples int64
	// BytesIn is the size of those response bodies, headers not included.
	BytesIn int64
	// Messages is the number of MQTT messages the publisher accepted for
	// the dataset: queued for QoS 1, sent for QoS 0.
	Messages int64
	// BytesOut is the size of those messages' payloads, properties (the
	// CloudEvents ones included) not counted.
	BytesOut int64
	// Suppressed is the number of samples that report by exception did not
	// publish because the value had not changed.
	Suppressed int64
	// Filtered is the number of samples whose mapping produced no message.
	Filtered int64
	// Duplicates is the number of messages deduplication dropped.
	Duplicates int64
	// MissedTicks is the number of ticks that passed while the previous
	// sample was still running.
	MissedTicks int64
	// SkippedTicks is the number of ticks not sampled because the dataset
	// is backing off after failures.
	SkippedTicks int64
	// Failures are the failed samples by kind (index: FailureKind).
	Failures [NumFailureKinds]int64

	// Latency is the dataset's request latency; nil if it keeps none.
	Latency *Histogram
	// Failing is whether the dataset is failing now (its last sample
	// failed, and the runtime reports it as failed).
	Failing bool
}

// QoSTotals are the publisher's totals for one MQTT QoS.
type QoSTotals struct {
	// Queued is the number of messages accepted into the QoS 1 queue.
	// QoS 0 has no queue: it is not exported for QoS 0.
	Queued int64
	// Delivered is, for QoS 1, the number of messages the broker
	// acknowledged; for QoS 0, the number written to the connection (no
	// acknowledgement exists).
	Delivered int64
	// Dropped is, for QoS 1, the number of messages the overflow policy
	// dropped from a full queue; for QoS 0, the number dropped because the
	// client was not connected.
	Dropped int64
	// Expired is the number of QoS 1 messages whose message expiry ran out
	// while they waited in the queue. Not exported for QoS 0.
	Expired int64
}

// ConnectorTotals are the connector-wide totals and state.
type ConnectorTotals struct {
	// Version, Commit and GoVersion say which build runs.
	Version, Commit, GoVersion string
	// Started is when the connector started.
	Started time.Time
	// Assets is the number of running assets.
	Assets int
	// Stopped are the sums of the final totals of the datasets that have
	// stopped or restarted from zero, their latencies merged into
	// Stopped.Latency (Histogram.Merge; Asset, Dataset, Started and Failing
	// unused), so that the connector-wide sums exported without
	// Options.PerDataset never go down: a sum that drops reads as a counter
	// reset, and a rate over it as a burst.
	Stopped DatasetTotals

	// ByQoS are the publisher's totals, index 0 for QoS 0, 1 for QoS 1.
	ByQoS [2]QoSTotals
	// QueueDepth is the number of QoS 1 messages waiting now, in memory and
	// in the spool.
	QueueDepth int
	// SpoolBytes is the size of the spool on disk now.
	SpoolBytes int64

	// MQTTConnected is whether the MQTT client is connected now.
	MQTTConnected bool
	// MQTTReconnects is the number of times the client connected again
	// after losing its connection.
	MQTTReconnects int64
}

// Add adds o's counters to d (not its Latency, Started or Failing): what
// the runtime does with the final totals of a dataset that stops, into
// ConnectorTotals.Stopped.
func (d *DatasetTotals) Add(o *DatasetTotals) { d.add(o) }
