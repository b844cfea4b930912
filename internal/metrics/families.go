package metrics

import (
	"strconv"
	"time"
)

// Where the names come from. Microsoft's are those its own connector for
// REST/HTTP documents, used with the same meaning so that dashboards and
// alerts written for it work here: the table "REST connector metrics" in
// MicrosoftDocs/azure-docs, articles/iot-operations/reference/
// observability-metrics-akri-connectors.md (ms.date 03/30/2026). They are
// written as documented, without a _total suffix: the OpenTelemetry
// collector that AIO's observability guide deploys exports them to
// Prometheus with add_metric_suffixes: false. Where Microsoft has no
// metric, the name is ours, under http_connector_, in the Prometheus
// conventions (_total on counters, base units).

// family is one metric: a name and the series under it.
type family int

const (
	// Per dataset: with asset and dataset labels when Options.PerDataset,
	// summed over the datasets otherwise.
	famReceived family = iota
	famForwarded
	famFailed
	famErrors
	famBytesIn
	famBytesOut
	famSuppressed
	famFiltered
	famDuplicates
	famTicksMissed
	famTicksSkipped
	famDatasetsFailing
	famRequestDuration

	// Connector-wide.
	famHeartbeat
	famBuildInfo
	famStartTime
	famAssets
	famDatasets
	famMQTTQueued
	famMQTTDelivered
	famMQTTDropped
	famMQTTExpired
	famMQTTQueue
	famMQTTSpool
	famMQTTConnected
	famMQTTReconnects

	numFamilies
)

type kind int

const (
	counter kind = iota
	gauge
	histogram
)

// spec describes a family. The help text is the Prometheus HELP and the
// OTLP description; unit is the OTLP unit (UCUM).
type spec struct {
	name, help, unit string
	kind             kind
	// perDataset families have the asset and dataset labels first, when
	// Options.PerDataset.
	perDataset bool
	// labels are the family's other labels.
	labels []string
}

// Label names.
const (
	labelAsset   = "asset"
	labelDataset = "dataset"
	labelError   = "error"
	labelQoS     = "qos"
)

// heartbeatEvery is the period of aio_rest_connector_heartbeat.
const heartbeatEvery = 30 * time.Second

func (f family) spec() spec {
	switch f {
	// Microsoft's REST connector metrics (see the top of this file).
	case famReceived:
		return spec{name: "aio_rest_connector_messages_received", kind: counter, perDataset: true, unit: "{message}",
			help: "Number of messages received from REST sources: device responses with a 2xx status whose body was read."}
	case famForwarded:
		return spec{name: "aio_rest_connector_messages_forwarded", kind: counter, perDataset: true, unit: "{message}",
			help: "Number of messages successfully forwarded: accepted by the MQTT publisher (queued for QoS 1, sent for QoS 0)."}
	case famFailed:
		return spec{name: "aio_rest_connector_messages_failed", kind: counter, perDataset: true, unit: "{message}",
			help: "Number of messages that failed to process: received responses that failed to parse, map or publish."}
	case famErrors:
		return spec{name: "aio_rest_connector_errors", kind: counter, perDataset: true, unit: "{error}", labels: []string{labelError},
			help: "Number of errors that occurred, by kind: request, auth, parse, mapping, publish, internal."}
	case famBytesIn:
		return spec{name: "aio_rest_connector_bytes_in", kind: counter, perDataset: true, unit: "By",
			help: "Sum of bytes received in each REST GET response payload. Doesn't include headers."}
	case famBytesOut:
		return spec{name: "aio_rest_connector_bytes_out", kind: counter, perDataset: true, unit: "By",
			help: "Sum of all bytes in the payload of each message forwarded. Doesn't include headers or cloud events."}
	case famHeartbeat:
		return spec{name: "aio_rest_connector_heartbeat", kind: counter, unit: "{heartbeat}",
			help: "Liveness counter incremented every 30 seconds."}

	// Ours.
	case famSuppressed:
		return spec{name: "http_connector_samples_suppressed_total", kind: counter, perDataset: true, unit: "{sample}",
			help: "Samples that report by exception did not publish because the value had not changed."}
	case famFiltered:
		return spec{name: "http_connector_samples_filtered_total", kind: counter, perDataset: true, unit: "{sample}",
			help: "Samples whose mapping produced no message."}
	case famDuplicates:
		return spec{name: "http_connector_duplicates_dropped_total", kind: counter, perDataset: true, unit: "{message}",
			help: "Messages that deduplication dropped."}
	case famTicksMissed:
		return spec{name: "http_connector_ticks_missed_total", kind: counter, perDataset: true, unit: "{tick}",
			help: "Sampling ticks that passed while the previous sample was still running."}
	case famTicksSkipped:
		return spec{name: "http_connector_ticks_skipped_total", kind: counter, perDataset: true, unit: "{tick}",
			help: "Sampling ticks not sampled because the dataset is backing off after failures."}
	case famDatasetsFailing:
		return spec{name: "http_connector_datasets_failing", kind: gauge, perDataset: true, unit: "{dataset}",
			help: "Datasets failing now (per dataset: 1 if it is failing, else 0)."}
	case famRequestDuration:
		return spec{name: "http_connector_request_duration_seconds", kind: histogram, perDataset: true, unit: "s",
			help: "Duration of the HTTP requests to the devices, from sending the request to reading the whole body."}
	case famBuildInfo:
		return spec{name: "http_connector_build_info", kind: gauge, unit: "1", labels: []string{"version", "commit", "go_version"},
			help: "The build that runs: always 1, with its version, commit and Go version as labels."}
	case famStartTime:
		return spec{name: "http_connector_start_time_seconds", kind: gauge, unit: "s",
			help: "When the connector started, in seconds since the Unix epoch."}
	case famAssets:
		return spec{name: "http_connector_assets", kind: gauge, unit: "{asset}",
			help: "Assets running now."}
	case famDatasets:
		return spec{name: "http_connector_datasets", kind: gauge, unit: "{dataset}",
			help: "Datasets running now."}
	case famMQTTQueued:
		return spec{name: "http_connector_mqtt_queued_total", kind: counter, unit: "{message}", labels: []string{labelQoS},
			help: "MQTT messages accepted into the QoS 1 queue (QoS 0 has no queue)."}
	case famMQTTDelivered:
		return spec{name: "http_connector_mqtt_delivered_total", kind: counter, unit: "{message}", labels: []string{labelQoS},
			help: "MQTT messages delivered: acknowledged by the broker (QoS 1), written to the connection (QoS 0)."}
	case famMQTTDropped:
		return spec{name: "http_connector_mqtt_dropped_total", kind: counter, unit: "{message}", labels: []string{labelQoS},
			help: "MQTT messages dropped: by the overflow policy of the full queue (QoS 1), while disconnected (QoS 0)."}
	case famMQTTExpired:
		return spec{name: "http_connector_mqtt_expired_total", kind: counter, unit: "{message}", labels: []string{labelQoS},
			help: "MQTT QoS 1 messages whose message expiry ran out while they waited in the queue."}
	case famMQTTQueue:
		return spec{name: "http_connector_mqtt_queue_messages", kind: gauge, unit: "{message}",
			help: "MQTT QoS 1 messages waiting now, in memory and in the spool."}
	case famMQTTSpool:
		return spec{name: "http_connector_mqtt_spool_bytes", kind: gauge, unit: "By",
			help: "Size of the spool of QoS 1 messages on disk now."}
	case famMQTTConnected:
		return spec{name: "http_connector_mqtt_connected", kind: gauge, unit: "1",
			help: "Whether the MQTT client is connected now: 1 or 0."}
	case famMQTTReconnects:
		return spec{name: "http_connector_mqtt_reconnects_total", kind: counter, unit: "{reconnect}",
			help: "Times the MQTT client connected again after losing its connection."}
	}
	panic("metrics: no spec for family " + strconv.Itoa(int(f)))
}

// sink receives the points of one collection. labels are the values of the
// family's labels in order (asset and dataset first if it has them); a
// sink must not keep the slice. start is when a counter was last zero.
type sink interface {
	point(f family, v int64, start time.Time, labels []string)
	histogram(f family, h *HistogramSnapshot, start time.Time, labels []string)
}

// collect reads src once, Connector and then one pass over Datasets, and
// gives every point to s: per dataset if perDataset, else summed.
func collect(src Source, perDataset bool, now time.Time, s sink) {
	c := src.Connector()
	var (
		datasets, failing int64
		sum               = c.Stopped
		lat               HistogramSnapshot
	)
	if c.Stopped.Latency != nil {
		lat = c.Stopped.Latency.Snapshot()
	}
	lv := make([]string, 0, 3) // asset, dataset and one more
	src.Datasets(func(d DatasetTotals) {
		datasets++
		if d.Failing {
			failing++
		}
		if !perDataset {
			sum.add(&d)
			if d.Latency != nil {
				h := d.Latency.Snapshot()
				lat.add(&h)
			}
			return
		}
		start := d.Started
		if start.IsZero() {
			start = c.Started
		}
		var h *HistogramSnapshot
		if d.Latency != nil {
			snap := d.Latency.Snapshot()
			h = &snap
		}
		datasetPoints(s, &d, b2i(d.Failing), h, start, append(lv[:0], d.Asset, d.Dataset))
	})
	if !perDataset {
		datasetPoints(s, &sum, failing, &lat, c.Started, lv[:0])
	}
	connectorPoints(s, &c, datasets, now)
}

// datasetPoints gives s the per-dataset families of d; base are the
// asset and dataset labels, or none. h may be nil: no histogram.
func datasetPoints(s sink, d *DatasetTotals, failing int64, h *HistogramSnapshot, start time.Time, base []string) {
	var failed int64
	for k, n := range d.Failures {
		if FailureKind(k).afterResponse() {
			failed += n
		}
	}
	// The points with the base labels only come first, so that a sink can
	// reuse what it made of them.
	s.point(famReceived, d.Samples, start, base)
	s.point(famForwarded, d.Messages, start, base)
	s.point(famFailed, failed, start, base)
	s.point(famBytesIn, d.BytesIn, start, base)
	s.point(famBytesOut, d.BytesOut, start, base)
	s.point(famSuppressed, d.Suppressed, start, base)
	s.point(famFiltered, d.Filtered, start, base)
	s.point(famDuplicates, d.Duplicates, start, base)
	s.point(famTicksMissed, d.MissedTicks, start, base)
	s.point(famTicksSkipped, d.SkippedTicks, start, base)
	s.point(famDatasetsFailing, failing, time.Time{}, base)
	if h != nil {
		s.histogram(famRequestDuration, h, start, base)
	}
	for k, n := range d.Failures {
		s.point(famErrors, n, start, append(base, FailureKind(k).String()))
	}
}

// connectorPoints gives s the connector-wide families.
func connectorPoints(s sink, c *ConnectorTotals, datasets int64, now time.Time) {
	var beats int64
	if !c.Started.IsZero() && now.After(c.Started) {
		beats = int64(now.Sub(c.Started) / heartbeatEvery)
	}
	s.point(famHeartbeat, beats, c.Started, nil)
	s.point(famBuildInfo, 1, time.Time{}, []string{c.Version, c.Commit, c.GoVersion})
	var started int64
	if !c.Started.IsZero() {
		started = c.Started.Unix()
	}
	s.point(famStartTime, started, time.Time{}, nil)
	s.point(famAssets, int64(c.Assets), time.Time{}, nil)
	s.point(famDatasets, datasets, time.Time{}, nil)
	qos := []string{"0"}
	q0, q1 := &c.ByQoS[0], &c.ByQoS[1]
	// QoS 0 has no queue: no queued or expired series for it.
	s.point(famMQTTDelivered, q0.Delivered, c.Started, qos)
	s.point(famMQTTDropped, q0.Dropped, c.Started, qos)
	qos[0] = "1"
	s.point(famMQTTQueued, q1.Queued, c.Started, qos)
	s.point(famMQTTDelivered, q1.Delivered, c.Started, qos)
	s.point(famMQTTDropped, q1.Dropped, c.Started, qos)
	s.point(famMQTTExpired, q1.Expired, c.Started, qos)
	s.point(famMQTTQueue, int64(c.QueueDepth), time.Time{}, nil)
	s.point(famMQTTSpool, c.SpoolBytes, time.Time{}, nil)
	s.point(famMQTTConnected, b2i(c.MQTTConnected), time.Time{}, nil)
	s.point(famMQTTReconnects, c.MQTTReconnects, c.Started, nil)
}

// afterResponse reports whether a failure of kind k happens to a response
// that was received, so that it counts in aio_rest_connector_messages_failed.
func (k FailureKind) afterResponse() bool {
	return k == FailureParse || k == FailureMapping || k == FailurePublish
}

// add adds o's counters to d.
func (d *DatasetTotals) add(o *DatasetTotals) {
	d.Samples += o.Samples
	d.BytesIn += o.BytesIn
	d.Messages += o.Messages
	d.BytesOut += o.BytesOut
	d.Suppressed += o.Suppressed
	d.Filtered += o.Filtered
	d.Duplicates += o.Duplicates
	d.MissedTicks += o.MissedTicks
	d.SkippedTicks += o.SkippedTicks
	for k, n := range o.Failures {
		d.Failures[k] += n
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
