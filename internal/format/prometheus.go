package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// maxPrometheusLabels bounds the labels of one sample line: the text
// parser's duplicate check takes time in the square of their number.
const maxPrometheusLabels = 64

// parsePrometheus reads the Prometheus text exposition format into one
// object per sample (see the package documentation).
func parsePrometheus(body []byte) (any, error) {
	if err := scanPrometheus(body); err != nil {
		return nil, err
	}
	var in io.Reader = bytes.NewReader(body)
	if body[len(body)-1] != '\n' {
		// The format ends every line with a line feed; many devices omit the last.
		in = io.MultiReader(in, strings.NewReader("\n"))
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(in)
	if err != nil {
		var pe expfmt.ParseError
		if errors.As(err, &pe) {
			return nil, promError(pe.Line, clip(pe.Msg, clipMessage))
		}
		return nil, promError(0, clip(err.Error(), clipMessage))
	}
	names := make([]string, 0, len(fams))
	n := 0
	for name, mf := range fams {
		names = append(names, name)
		n += len(mf.Metric)
	}
	slices.Sort(names)
	out := make([]any, 0, n)
	for _, name := range names {
		out = appendFamily(out, fams[name])
	}
	return out, nil
}

// scanPrometheus checks, before the text parser reads a body, that it is
// UTF-8 and that no sample line has more labels than maxPrometheusLabels.
// A label is counted by its "=" outside quotes, on lines that are not
// comments.
func scanPrometheus(body []byte) error {
	if i := invalidUTF8(body); i >= 0 {
		line, _ := position(body, i)
		return promError(line, "invalid UTF-8")
	}
	line := 1
	for rest := body; len(rest) > 0; line++ {
		l := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		l = bytes.TrimLeft(l, " \t")
		if len(l) == 0 || l[0] == '#' || bytes.Count(l, []byte{'='}) <= maxPrometheusLabels {
			continue
		}
		labels, quoted, escaped := 0, false, false
		for _, c := range l {
			switch {
			case escaped:
				escaped = false
			case quoted && c == '\\':
				escaped = true
			case c == '"':
				quoted = !quoted
			case !quoted && c == '=':
				labels++
			}
		}
		if labels > maxPrometheusLabels {
			return promError(line, fmt.Sprintf("more than %d labels", maxPrometheusLabels))
		}
	}
	return nil
}

// promError is an error of the Prometheus text at line (0 for none).
func promError(line int, msg string) error {
	if line == 0 {
		//lint:ignore ST1005 a proper noun, the format's name as in the other formats' errors
		return fmt.Errorf("Prometheus text: %s", msg)
	}
	//lint:ignore ST1005 a proper noun, the format's name as in the other formats' errors
	return fmt.Errorf("Prometheus text line %d: %s", line, msg)
}

// appendFamily appends the samples of a metric family, as the text format
// exposes them.
func appendFamily(out []any, mf *dto.MetricFamily) []any {
	name := mf.GetName()
	typ := typeName(mf.GetType())
	for _, m := range mf.Metric {
		s := sampler{family: mf, typ: typ, metric: m}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			out = append(out, s.sample(name, "", "", floatValue(m.GetCounter().GetValue())))
		case dto.MetricType_GAUGE:
			out = append(out, s.sample(name, "", "", floatValue(m.GetGauge().GetValue())))
		case dto.MetricType_SUMMARY:
			sum := m.GetSummary()
			for _, q := range sum.GetQuantile() {
				out = append(out, s.sample(name, model.QuantileLabel, labelFloat(q.GetQuantile()), floatValue(q.GetValue())))
			}
			if sum.SampleSum != nil {
				out = append(out, s.sample(name+"_sum", "", "", floatValue(sum.GetSampleSum())))
			}
			if sum.SampleCount != nil {
				out = append(out, s.sample(name+"_count", "", "", json.Number(strconv.FormatUint(sum.GetSampleCount(), 10))))
			}
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			for _, b := range h.GetBucket() {
				var v any = json.Number(strconv.FormatUint(b.GetCumulativeCount(), 10))
				if b.CumulativeCountFloat != nil {
					v = floatValue(b.GetCumulativeCountFloat())
				}
				out = append(out, s.sample(name+"_bucket", model.BucketLabel, labelFloat(b.GetUpperBound()), v))
			}
			if h.SampleSum != nil {
				out = append(out, s.sample(name+"_sum", "", "", floatValue(h.GetSampleSum())))
			}
			switch {
			case h.SampleCountFloat != nil:
				out = append(out, s.sample(name+"_count", "", "", floatValue(h.GetSampleCountFloat())))
			case h.SampleCount != nil:
				out = append(out, s.sample(name+"_count", "", "", json.Number(strconv.FormatUint(h.GetSampleCount(), 10))))
			}
		default: // untyped
			out = append(out, s.sample(name, "", "", floatValue(m.GetUntyped().GetValue())))
		}
	}
	return out
}

// sampler makes the samples of one metric.
type sampler struct {
	family *dto.MetricFamily
	typ    string
	metric *dto.Metric
}

// sample is one sample of the metric: its labels, and label=value if
// label is not "" (the le of a bucket, the quantile of a summary).
func (s *sampler) sample(name, label, value string, v any) map[string]any {
	labels := make(map[string]any, len(s.metric.Label)+1)
	for _, l := range s.metric.Label {
		labels[l.GetName()] = l.GetValue()
	}
	if label != "" {
		labels[label] = value
	}
	out := make(map[string]any, 6)
	out["name"] = name
	out["labels"] = labels
	out["value"] = v
	out["type"] = s.typ
	if s.family.Help != nil {
		out["help"] = s.family.GetHelp()
	}
	if s.metric.TimestampMs != nil {
		out["timestamp"] = json.Number(strconv.FormatInt(s.metric.GetTimestampMs(), 10))
	}
	return out
}

func typeName(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_SUMMARY:
		return "summary"
	case dto.MetricType_HISTOGRAM:
		return "histogram"
	case dto.MetricType_GAUGE_HISTOGRAM:
		return "gaugehistogram"
	}
	return "untyped"
}

// floatValue is a sample value: a json.Number written as encoding/json
// writes a float64, or "NaN", "+Inf" or "-Inf", which JSON has no numbers
// for.
func floatValue(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	// As encoding/json's floatEncoder: %f, or %e for very small and very
	// large numbers with a one-digit exponent where it can be.
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return json.Number(string(b))
}

// labelFloat is the value of an le or quantile label, as the text format
// writes it.
func labelFloat(f float64) string {
	switch {
	case f == 0:
		return "0"
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
