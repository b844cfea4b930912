package format_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

func TestPrometheus(t *testing.T) {
	histogram := `# HELP rt Response time.
# TYPE rt histogram
rt_bucket{path="/",le="0.05"} 24054
rt_bucket{path="/",le="1e+06"} 33444
rt_bucket{path="/",le="+Inf"} 144320
rt_sum{path="/"} 53423.5
rt_count{path="/"} 144320
`
	summary := `# TYPE lat summary
lat{quantile="0.5"} 4773
lat{quantile="0.99"} NaN
lat_sum 1.7560473e+07
lat_count 2693
`
	runCases(t, format.Prometheus, format.Options{}, []parseCase{
		{name: "counter with help, labels and timestamp",
			body: "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n",
			want: `[{"name": "http_requests_total", "labels": {"method": "post", "code": "200"}, "value": 1027, "type": "counter", "help": "Requests served.", "timestamp": 1395066363000}]`},
		{name: "gauge", body: "# TYPE temp gauge\ntemp{room=\"a\"} 21.5\ntemp{room=\"b\"} -3\n",
			want: `[{"name": "temp", "labels": {"room": "a"}, "value": 21.5, "type": "gauge"}, {"name": "temp", "labels": {"room": "b"}, "value": -3, "type": "gauge"}]`},
		{name: "untyped without labels", body: "up 1\n", want: `[{"name": "up", "labels": {}, "value": 1, "type": "untyped"}]`},
		{name: "values as encoding/json writes them", body: "a 1.50\nb 1e-7\nc 1e21\nd 123456789\ne 0.000001\nf -0\n",
			want: `[{"name": "a", "labels": {}, "value": 1.5, "type": "untyped"},
				{"name": "b", "labels": {}, "value": 1e-7, "type": "untyped"},
				{"name": "c", "labels": {}, "value": 1e+21, "type": "untyped"},
				{"name": "d", "labels": {}, "value": 123456789, "type": "untyped"},
				{"name": "e", "labels": {}, "value": 0.000001, "type": "untyped"},
				{"name": "f", "labels": {}, "value": -0, "type": "untyped"}]`},
		{name: "NaN and infinities are strings", body: "a NaN\nb +Inf\nc -Inf\n",
			want: `[{"name": "a", "labels": {}, "value": "NaN", "type": "untyped"},
				{"name": "b", "labels": {}, "value": "+Inf", "type": "untyped"},
				{"name": "c", "labels": {}, "value": "-Inf", "type": "untyped"}]`},
		{name: "sorted by family name, metrics in order", body: "zeta{i=\"2\"} 1\nalpha 2\nzeta{i=\"1\"} 3\n",
			want: `[{"name": "alpha", "labels": {}, "value": 2, "type": "untyped"},
				{"name": "zeta", "labels": {"i": "2"}, "value": 1, "type": "untyped"},
				{"name": "zeta", "labels": {"i": "1"}, "value": 3, "type": "untyped"}]`},
		{name: "histogram", body: histogram,
			want: `[{"name": "rt_bucket", "labels": {"path": "/", "le": "0.05"}, "value": 24054, "type": "histogram", "help": "Response time."},
				{"name": "rt_bucket", "labels": {"path": "/", "le": "1e+06"}, "value": 33444, "type": "histogram", "help": "Response time."},
				{"name": "rt_bucket", "labels": {"path": "/", "le": "+Inf"}, "value": 144320, "type": "histogram", "help": "Response time."},
				{"name": "rt_sum", "labels": {"path": "/"}, "value": 53423.5, "type": "histogram", "help": "Response time."},
				{"name": "rt_count", "labels": {"path": "/"}, "value": 144320, "type": "histogram", "help": "Response time."}]`},
		{name: "histogram le as Prometheus writes it", body: "# TYPE h histogram\nh_bucket{le=\"1000000\"} 1\nh_bucket{le=\"0.50\"} 2\n",
			want: `[{"name": "h_bucket", "labels": {"le": "1e+06"}, "value": 1, "type": "histogram"},
				{"name": "h_bucket", "labels": {"le": "0.5"}, "value": 2, "type": "histogram"}]`},
		{name: "histogram float counts", body: "# TYPE h histogram\nh_bucket{le=\"1\"} 0.5\nh_count 2.5\n",
			want: `[{"name": "h_bucket", "labels": {"le": "1"}, "value": 0.5, "type": "histogram"},
				{"name": "h_count", "labels": {}, "value": 2.5, "type": "histogram"}]`},
		{name: "summary", body: summary,
			want: `[{"name": "lat", "labels": {"quantile": "0.5"}, "value": 4773, "type": "summary"},
				{"name": "lat", "labels": {"quantile": "0.99"}, "value": "NaN", "type": "summary"},
				{"name": "lat_sum", "labels": {}, "value": 17560473, "type": "summary"},
				{"name": "lat_count", "labels": {}, "value": 2693, "type": "summary"}]`},
		{name: "histogram timestamp is the last", body: "# TYPE h histogram\nh_bucket{le=\"1\"} 1 1000\nh_count 1 2000\n",
			want: `[{"name": "h_bucket", "labels": {"le": "1"}, "value": 1, "type": "histogram", "timestamp": 2000},
				{"name": "h_count", "labels": {}, "value": 1, "type": "histogram", "timestamp": 2000}]`},
		{name: "quoted UTF-8 names", body: "{\"temp.room\", \"sensor.id\"=\"7\"} 21\n",
			want: `[{"name": "temp.room", "labels": {"sensor.id": "7"}, "value": 21, "type": "untyped"}]`},
		{name: "label value escapes", body: "a{p=\"C:\\\\x \\\"q\\\"\\n\"} 1\n", want: `[{"name": "a", "labels": {"p": "C:\\x \"q\"\n"}, "value": 1, "type": "untyped"}]`},
		{name: "no last line break", body: "a 1\nb 2", want: `[{"name": "a", "labels": {}, "value": 1, "type": "untyped"}, {"name": "b", "labels": {}, "value": 2, "type": "untyped"}]`},
		{name: "only comments", body: "# nothing here\n", want: `[]`},
		{name: "openmetrics eof and unit are comments", body: "# TYPE t gauge\n# UNIT t celsius\nt 21\n# EOF\n",
			want: `[{"name": "t", "labels": {}, "value": 21, "type": "gauge"}]`},
		{name: "openmetrics counter samples are untyped", body: "# TYPE c counter\nc_total 3\n# EOF\n",
			want: `[{"name": "c_total", "labels": {}, "value": 3, "type": "untyped"}]`},
		{name: "64 labels", body: "a{" + labels(64) + "} 1\n", want: `[{"name": "a", "labels": {` + labelsJSON(64) + `}, "value": 1, "type": "untyped"}]`},
		{name: "blank", body: "\n", want: `null`},

		{name: "bad value", body: "a 1\nb abc\n", err: `Prometheus text line 2: expected float as value, got "abc"`},
		{name: "bad timestamp", body: "a 1 1.5\n", err: `Prometheus text line 1: expected integer as timestamp, got "1.5"`},
		{name: "openmetrics exemplar", body: "# TYPE h histogram\nh_bucket{le=\"1\"} 1 # {id=\"x\"} 0.5\n", err: `Prometheus text line 2: expected integer as timestamp, got "#"`},
		{name: "openmetrics unknown type", body: "# TYPE u unknown\nu 1\n", err: `Prometheus text line 1: unknown metric type "unknown"`},
		{name: "second type line", body: "# TYPE a gauge\n# TYPE a counter\n", err: `Prometheus text line 2: second TYPE line for metric name "a", or TYPE reported after samples`},
		{name: "unterminated label value", body: "a{b=\"1} 2\n", err: `Prometheus text line 1: label value "1} 2" contains unescaped new-line`},
		{name: "65 labels", body: "a 1\na{" + labels(65) + "} 1\n", err: `Prometheus text line 2: more than 64 labels`},
		{name: "invalid UTF-8", body: "a 1\n# HELP a \xff\n", err: `Prometheus text line 2: invalid UTF-8`},
		{name: "long values are clipped", body: "a " + strings.Repeat("x", 300) + "\n",
			err: `Prometheus text line 1: expected float as value, got "` + strings.Repeat("x", 80) + `…`},
	})
}

// labels is n label pairs, l0="v"….
func labels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("l" + strconv.Itoa(i) + `="v=` + strconv.Itoa(i) + `"`)
	}
	return b.String()
}

func labelsJSON(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"l` + strconv.Itoa(i) + `": "v=` + strconv.Itoa(i) + `"`)
	}
	return b.String()
}
