// Package statuspage serves the connector's status page: one web page that
// shows what every dataset is doing, live, and a mapping playground to try
// jq against real responses, without publishing anything. It is off by
// default; the runtime serves it (on loopback unless configured otherwise)
// over a Backend it implements.
//
// # The status page
//
// The header says which build runs (version, commit), the MQTT broker and
// whether the connector is connected to it, the uptime, how many messages
// wait to be published (the queue depth) and how many datasets are in each
// state. The connector settings, redacted, are in a panel under it.
//
// The table has a row per dataset: its state (in words and colour:
// failing, backing off, suppressed, sampling, disabled), asset, dataset,
// device and endpoint, the time of its last sample (as an age; the time
// itself on hover), its last error, the start of its last published
// message (expand the row for the message, up to 4 KiB) and its counters:
// samples, failures, messages, filtered samples, suppressed messages,
// missed and skipped ticks. Failing datasets come first. The search box
// matches words in the asset, dataset, device and endpoint names; the
// state picker and the sort order narrow and order the table, a hundred
// rows a page. Filtering, sorting and paging happen in the connector, so a
// browser gets one page however many datasets there are; the address bar
// keeps the view, so a link or a reload shows the same one.
//
// The page updates itself every second while it is open, through
// server-sent events; when they cannot get through (a proxy that refuses
// them), it polls every two seconds instead and says so. The connector does no
// work for the page while no browser has it open, and asks its runtime for
// a snapshot at most once a second however many do.
//
// # The playground
//
// Pick a dataset (search by name, or "Try" on its row), then either fetch
// a live sample, which samples the dataset once as the try command does
// and shows every request with its status, timing and (truncated) body,
// the data point values and the messages it would publish; or paste an
// input: the value the dataset's mapping sees, as JSON (the object of data
// point values, or the one response of a dataset without data points).
// Edit the jq, or pick a library mapping (its program, with the
// definitions of its file, is shown to start from), and run it: the page
// shows the messages the dataset would publish, an error with its text, or
// that the sample would be filtered, and a test case in the mapping file
// format (mappings/README.md) with the input, the variables of the run and
// what it gave, to copy under the mapping's tests:. Nothing is published
// and nothing is written from the page.
//
// # Security
//
// The page has no login: serve it where only operators reach it, which is
// why it is off by default and on loopback. Everything it shows is
// escaped, and payloads, bodies and errors are cut to a bound
// (MaxPayloadBytes). Its answers forbid inline script, other origins and
// framing (Content-Security-Policy, X-Content-Type-Options: nosniff). A
// POST from another origin is refused, so a web page open in the
// operator's browser cannot make the connector try or map; requests for a
// host name the page does not know are refused too (Options.Hosts), which
// stops the same through DNS rebinding. A try or a mapping run stops after
// Options.Timeout (30 s), and at most Options.MaxConcurrent (4) run at
// once: beyond that the page is told to wait.
//
// # API
//
// The page uses a JSON API that scripts may use too; errors are
// {"error": "..."} with a 4xx or 5xx status.
//
//	GET  /api/datasets?q=&state=&sort=&page=&size=   one page of datasets
//	GET  /api/dataset?asset=&dataset=                 one dataset, with its last message
//	GET  /api/connector                               the connector-wide state
//	GET  /api/events?q=&state=&sort=&page=&size=      server-sent events of the same
//	GET  /api/mappings                                the library mappings
//	POST /api/try   {"asset", "dataset"}              sample once, publish nothing
//	POST /api/map   {"asset", "dataset", "input", "jq" or "mapping"}
//
// q is words that must all appear in a dataset's names; state is one or
// more states separated by commas; sort is state (the default: failing
// first), asset, dataset, device, lastSample, lastPublish, failures or
// messages, with "-" before it to reverse; page counts from 1; size is 1
// to 500 (default 100). Each event of /api/events is the view the page
// shows, {"connector": …, "datasets": …}: sent at once, then each second
// in which it changed.
package statuspage
