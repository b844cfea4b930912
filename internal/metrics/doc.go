// Package metrics exports the connector's metrics in two ways that read the
// same data: a Prometheus /metrics endpoint (NewPrometheus) and, in Akri
// mode, an OTLP push to the OpenTelemetry collector (StartOTLP).
//
// Nothing is counted for the metrics on the hot path: the runtime keeps its
// running totals anyway, and this package reads them through a Source when
// someone asks, once per Prometheus scrape and once per OTLP export, never
// in between. The one thing observed per request is its latency, into a
// Histogram whose Observe is two atomic additions and allocates nothing.
//
// # Metrics
//
// Where Microsoft's own connector for REST/HTTP documents a metric, it has
// the same name and meaning here (source: the "REST connector metrics"
// table of Microsoft's "Metrics for Akri and connectors",
// MicrosoftDocs/azure-docs, articles/iot-operations/reference/
// observability-metrics-akri-connectors.md), so that its dashboards and
// alerts work with this connector. Those names have no _total suffix, as
// documented. The others are ours, under http_connector_, in the
// Prometheus conventions. The names are the same in both exports.
//
// Per dataset, with the labels asset and dataset (see Options.PerDataset):
//
//	aio_rest_connector_messages_received     counter  device responses with a 2xx status whose body was read
//	aio_rest_connector_messages_forwarded    counter  MQTT messages accepted by the publisher (queued for QoS 1, sent for QoS 0)
//	aio_rest_connector_messages_failed       counter  received responses that then failed: errors of kind parse, mapping or publish
//	aio_rest_connector_errors                counter  failed samples, by the label error: request, auth, parse, mapping, publish, internal
//	aio_rest_connector_bytes_in              counter  bytes of the response bodies received, headers not included
//	aio_rest_connector_bytes_out             counter  bytes of the payloads forwarded, MQTT properties (CloudEvents) not included
//	http_connector_samples_suppressed_total  counter  samples that report by exception did not publish (value unchanged)
//	http_connector_samples_filtered_total    counter  samples whose mapping produced no message
//	http_connector_duplicates_dropped_total  counter  messages that deduplication dropped
//	http_connector_ticks_missed_total        counter  sampling ticks that passed while the previous sample still ran
//	http_connector_ticks_skipped_total       counter  sampling ticks not sampled while the dataset backs off after failures
//	http_connector_datasets_failing          gauge    1 while the dataset is failing, else 0
//	http_connector_request_duration_seconds  histogram  duration of the HTTP requests to the device, until the whole body is read
//
// Connector-wide:
//
//	aio_rest_connector_heartbeat             counter  liveness: the number of 30 s periods since the start
//	http_connector_build_info                gauge    1, with the labels version, commit and go_version
//	http_connector_start_time_seconds        gauge    when the connector started, Unix time
//	http_connector_assets                    gauge    assets running
//	http_connector_datasets                  gauge    datasets running
//	http_connector_mqtt_queued_total         counter  messages accepted into the QoS 1 queue; qos="1" only
//	http_connector_mqtt_delivered_total      counter  messages acknowledged by the broker (qos="1"), written to the connection (qos="0")
//	http_connector_mqtt_dropped_total        counter  messages dropped by the overflow policy (qos="1"), or while disconnected (qos="0")
//	http_connector_mqtt_expired_total        counter  QoS 1 messages whose message expiry ran out in the queue; qos="1" only
//	http_connector_mqtt_queue_messages       gauge    QoS 1 messages waiting, in memory and in the spool
//	http_connector_mqtt_spool_bytes          gauge    size of the spool on disk
//	http_connector_mqtt_connected            gauge    1 while the MQTT client is connected, else 0
//	http_connector_mqtt_reconnects_total     counter  times the MQTT client connected again after losing its connection
//
// QoS 0 has no queue, so it has no queued or expired series.
//
// What differs from Microsoft's connector: its
// aio_rest_connector_processing_latency (milliseconds from receiving a
// message to the broker's acknowledgement) is not exported;
// http_connector_request_duration_seconds measures the device request
// instead. Its common dimensions instance and service come, for
// Prometheus, from the scrape (instance and job) and, for OTLP, from the
// resource attributes service.instance.id and service.name, which the
// collector's Prometheus exporter turns into the labels instance and job.
//
// # Labels
//
// asset and dataset are the names of the asset and of the dataset; error
// is a FailureKind; qos is 0 or 1; build_info has version, commit and
// go_version. No label ever holds a URL, a value, a topic or anything else
// that grows with the data.
//
// # Cardinality
//
// With Options.PerDataset, each dataset has 33 series: 11 counters and
// gauges, 6 for aio_rest_connector_errors (one per kind, zeros included,
// so that rates work from the first error), and 16 for its latency
// histogram (13 buckets, +Inf, _sum and _count; none if the dataset keeps
// no latency). The connector adds 15. N datasets make 33·N + 15 series:
// 3,315 for 100 datasets, 330,015 for 10,000.
//
// Without it, the per-dataset metrics are summed over the datasets into one
// series each (their asset and dataset labels dropped, the others kept),
// 33 + 15 = 48 series whatever the number of datasets. The sums include
// the datasets that have stopped (ConnectorTotals.Stopped), so that they
// never go down. Turn PerDataset off for fleets of more than a few
// thousand datasets: a scrape of 10,000 datasets per dataset takes some
// 0.5 s of a core here (1.5 MB gzipped), one summed some 4 ms.
//
// # Prometheus
//
// NewPrometheus serves the text format (0.0.4), with these metrics only,
// gzipped at the fastest level when the scraper accepts gzip (Prometheus
// does). OpenMetrics is not offered: it would add _total to Microsoft's
// counter names. At most two scrapes run at once, others get 503. A
// series that cannot be exposed (a label value that is not UTF-8, two datasets
// with the same asset and dataset names) is left out of the scrape and
// logged; the rest is served.
//
// # OTLP
//
// StartOTLP pushes every Interval (60 s by default) to the collector at
// Endpoint: grpc:// or grpcs:// for OTLP/gRPC, as AIO's collector takes it
// on port 4317 and Akri passes it in OTLP_GRPC_METRIC_ENDPOINT; http:// or
// https:// for OTLP/HTTP with protobuf (OTLP_HTTP_METRIC_ENDPOINT). For
// grpcs and https, CAFile is the trust bundle
// (FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH). Requests are
// gzipped and carry at most 2,000 data points each. Counters are
// cumulative sums (monotonic, with the time the dataset's totals started),
// gauges are gauges, the latency is an explicit-bucket histogram in
// seconds; units are UCUM ("{message}", "By", "s"). The resource has
// service.name (http-connector by default), service.version,
// service.instance.id and OTLPOptions.Attributes. Shutdown makes a last
// export.
package metrics
