// Package format parses the bodies of devices' HTTP responses into values
// that data points and jq mappings read: the values encoding/json produces
// with UseNumber (map[string]any, []any, string, json.Number, bool, nil).
// Numbers are json.Number, so they keep their exact text.
//
// A Parser is built once, with New, when the configuration is loaded (bad
// options fail there, naming the option) and is then used by any number of
// samplers at once. Parse takes the body and the response's Content-Type.
//
// # Formats
//
// A format is declared in the configuration or, by default (Auto), chosen
// by the response's Content-Type:
//
//   - "json" anywhere in it, in any case (application/json,
//     application/problem+json, …): JSON.
//   - application/xml, text/xml, or a type ending in +xml: XML.
//   - text/csv: CSV.
//   - text/plain with version=0.0.4 (or 1.0.0), and
//     application/openmetrics-text: Prometheus.
//   - anything else, or none: JSON if the body looks like JSON (its first
//     character other than white space is one of {["-0123456789tfn) and is
//     JSON, else the body as text; a body that is neither JSON nor UTF-8 is
//     an error.
//
// key=value lines are never detected: that format must be declared. A
// declared format reads every body as that format, whatever its
// Content-Type.
//
// In every format but text, an empty body, or one of only white space, is
// null.
//
// # Numbers in text formats
//
// In XML, CSV and key=value bodies, a text that is a number by the JSON
// grammar (RFC 8259: an optional minus, an integer part without leading
// zeros, an optional fraction, an optional exponent, nothing around it)
// becomes a number: "21.5", "-3", "0", "1e3" and "6.02E+23" are numbers;
// "007", "+1", "1.", ".5", "0x1F", "1_000", "NaN", "Inf" and " 1" are
// strings. "true" and "false" stay strings, as does every other text. An
// option (Strings) keeps every value a string.
//
// # JSON
//
// The body, trimmed of white space, must be one JSON value; it becomes that
// value, with numbers as json.Number. Anything after the value is an
// error ("data after the JSON value"), as is a body that is not JSON. Errors
// give the line and column: `JSON at line 2, column 8: invalid character
// '}' looking for beginning of value`.
//
// # XML
//
// The document is read with encoding/xml in one pass and becomes an object
// holding its root element under the root's name:
//
//	<status><temp unit="C">21.5</temp><mode>auto</mode></status>
//	→ {"status": {"temp": {"@unit": "C", "#text": 21.5}, "mode": "auto"}}
//
// The rules, for each element:
//
//   - An element with no attributes and no child elements is its text,
//     trimmed of XML white space (space, tab, CR, LF): <mode>auto</mode> is
//     "auto", <temp>21.5</temp> is 21.5, <empty/> is "".
//   - Any other element is an object: each attribute under "@" and its
//     name, each child element under its name, and its text (trimmed; only
//     if some is left) under "#text". The text of an element is all its
//     character data and CDATA outside its children, joined in document
//     order.
//   - Child elements of the same name make an array of their values, in
//     document order. An element that may repeat but appears once is not an
//     array: list it in Options.XML.Arrays (an element name, matching at any
//     depth, or a path of names from the root such as "status/alarms/alarm")
//     to make it an array always, even of one. An element that does not
//     appear has no key at all.
//   - Names are local names: <ns:temp> is "temp", and so is ns:unit="C"
//     ("@unit"). With Options.XML.Prefixes names keep their prefix as
//     written ("ns:temp", "@ns:unit"). Namespace declarations (xmlns,
//     xmlns:ns) are not attributes in the value; an element with nothing
//     but them is its text. Two attributes of one name are an error (with
//     local names, a:x and b:x are).
//   - Texts and attribute values that are JSON numbers are json.Number (see
//     above), unless Options.XML.Strings. Attribute values are not trimmed.
//   - Comments, processing instructions and the DOCTYPE are skipped.
//
// Only the entities XML predefines (&lt; &gt; &amp; &apos; &quot;) and
// character references (&#38; &#x26;) are expanded: entities a DOCTYPE
// declares are not, and a reference to one is an error. Nothing is ever
// fetched (encoding/xml reads no external entity or DTD). Elements may nest
// 1000 deep. A document is UTF-8, or declares US-ASCII or ISO-8859-1 in its
// XML declaration; other encodings are an error. Errors give the line and
// column where the parser stopped: `XML at line 3, column 17: element
// <temp> closed by </tmp>` (for "  <temp>21</tmp>" on line 3).
//
// # CSV
//
// The body is read with encoding/csv (RFC 4180: fields may be quoted, a
// quoted field may hold the delimiter, quotes ("") and line breaks; empty
// lines are skipped). With a header row (the default), it becomes an array
// of objects, one per row in row order, keyed by the header's column names:
//
//	time,temp,state
//	12:00,21.5,ok
//	12:01,,ok
//	→ [{"time": "12:00", "temp": 21.5, "state": "ok"},
//	   {"time": "12:01", "temp": null, "state": "ok"}]
//
// Without a header row (Options.CSV.Header false), Options.CSV.Columns name
// the columns, or else each row is an array of its cells. With a header row
// and Columns, Columns replace the header's names (the header row is
// skipped). Cells that are JSON numbers are json.Number, empty cells (also
// "") are null, other cells are strings; Options.CSV.Strings keeps every
// cell a string, "" included. A header name that is empty or repeated is an
// error naming the column, and every row must have as many fields as there
// are columns (or, without names, as the first row has): `CSV line 4: wrong
// number of fields (3, want 4)`. Options: Delimiter (default ','), Comment
// (a character that starts comment lines; none by default), TrimSpace (trim
// white space around every field and header name; a quoted field may then
// have white space before its opening quote, not after its closing one). The body must be UTF-8;
// a byte order mark before it is skipped.
//
// # Prometheus
//
// The body is read with the Prometheus text format parser of
// github.com/prometheus/common/expfmt (metric names may be quoted UTF-8) and
// becomes an array with one object per sample:
//
//	{"name": "http_requests_total", "labels": {"code": "200"}, "value": 1027,
//	 "type": "counter", "help": "Requests served.", "timestamp": 1395066363000}
//
// The rules:
//
//   - "labels" is always there (an empty object for none). "type" is
//     "counter", "gauge", "histogram", "summary", "untyped" or
//     "gaugehistogram", from the family's TYPE line ("untyped" without one).
//     "help" is there only if the family has a HELP line, "timestamp" (in
//     milliseconds, as written) only if the sample has one.
//   - "value" is a number, written as encoding/json writes a float64 (1027,
//     0.25, 1e-7, 1e+21). NaN, +Inf and -Inf, which JSON has no numbers for,
//     are the strings "NaN", "+Inf" and "-Inf".
//   - A histogram is expanded into its samples as Prometheus exposes them:
//     one name_bucket sample per bucket with its "le" label, then name_sum,
//     then name_count; a summary into one sample per quantile (the family's
//     name with its "quantile" label), then name_sum and name_count. The le
//     and quantile labels are written as Prometheus writes them ("0.5",
//     "1e+06", "+Inf"). Counts are integers, unless the histogram has
//     a fractional count: then they are numbers as values are. All of them have the
//     histogram's or summary's type, and the timestamp of its last line
//     that had one.
//   - Samples are ordered by metric family name, and within a family in the
//     order its metrics first appear. The text parser keeps one _sum and one
//     _count per histogram or summary (the last) and drops a summary line
//     without a quantile label.
//
// OpenMetrics bodies are read by the same parser: "# EOF" and "# UNIT"
// lines are comments; what the Prometheus text format lacks (exemplars,
// timestamps in seconds with a fraction, the types unknown, info and
// stateset) is an error, and the samples of an OpenMetrics counter family
// "x" ("x_total", "x_created") are untyped. A last line without its line
// feed is read as if it had one. A sample line may have at most 64 labels
// (the parser's time grows with their square). The body must be UTF-8.
// Errors give the line: `Prometheus text line 2: expected float as value,
// got "abc"`.
//
// # key=value
//
// For cameras and older devices: each line holds a key, a separator and a
// value, and the body becomes an object:
//
//	# status
//	temp=21.5
//	name=cam 1
//	→ {"temp": 21.5, "name": "cam 1"}
//
// The rules:
//
//   - Options.KeyValue.Separator (default "=") splits a pair at its first
//     occurrence, so values may hold it. Lines always separate pairs (a
//     line feed, with a carriage return before it dropped);
//     Options.KeyValue.PairSeparator, if set, also separates pairs within a
//     line ("a=1&b=2", "a=1;b=2"). Values are not URL-decoded.
//   - Keys and values are trimmed of white space, unless TrimSpace is set
//     to false. Blank lines and blank pairs are skipped, as are lines
//     whose first characters other than white space are the Comment prefix
//     (default "#"; "" for none). A comment cannot follow a pair on its
//     line.
//   - Values that are JSON numbers are json.Number (unless Strings), other
//     values strings ("" for "a="). A key that appears more than once is an
//     array of its values, in order.
//   - A pair without the separator is an error (`key=value line 5: no
//     "="`), as is an empty key. The body must be UTF-8; a byte order mark
//     before it is skipped.
//
// # Text
//
// The body, as it is, is a string (an empty body is ""). It must be UTF-8.
//
// # Errors and limits
//
// Malformed input is an error naming the format and the position (line, and
// column where the parser knows it). An error never quotes more than about
// 80 bytes of the body. Every parser takes time and memory in proportion to
// the body (the connector caps bodies with maxResponseBytes).
package format
