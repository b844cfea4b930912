package plan

import (
	"encoding/json"
	"time"

	"github.com/http-connector/http-connector/internal/mapping"
	"github.com/http-connector/http-connector/internal/placeholder"
)

// What a dataset's samples carry from one to the next.

// Window is the time range of the first sample of ${previous}.
type Window struct {
	Initial time.Duration // ${previous} of the first sample: its time less this
}

// Cursor is what a sample takes from its response for the next one's
// ${cursor}.
type Cursor struct {
	JQ      *mapping.Program // on the sample's input: one output, a string or a number
	Initial string           // ${cursor} before the first successful sample
}

// Pages says how one sample follows a paged answer to its end.
type Pages struct {
	Next     PageNext
	NextJQ   *mapping.Program // next URL (NextURL) or cursor (NextCursor) from a page; null or empty: the last page
	Param    string           // the query parameter of NextCursor, NextPage and NextOffset
	Start    int              // the first page number (NextPage) or offset (NextOffset)
	Records  *mapping.Program // a page's records (an array); default: the page if it is an array, else [page]
	MaxPages int
}

// PageNext is how the next page is found.
type PageNext string

// The ways to the next page.
const (
	NextLink   PageNext = "link"   // the Link header's rel="next"
	NextURL    PageNext = "url"    // a URL from the body (NextJQ), such as @odata.nextLink
	NextCursor PageNext = "cursor" // a cursor from the body (NextJQ) sent in Param
	NextPage   PageNext = "page"   // Param counts pages from Start until a page has no records
	NextOffset PageNext = "offset" // Param counts records from Start until a page has no records
)

// DefaultMaxPages bounds the pages of one sample.
const DefaultMaxPages = 100

// Dedup drops records seen before.
type Dedup struct {
	Key  *mapping.Program // on each message: the record's key
	Keep int              // how many keys are remembered
}

// DefaultDedupKeep is how many keys Dedup remembers by default.
const DefaultDedupKeep = 10000

// Report is report by exception: when a value is published.
type Report struct {
	OnChange  bool          // when it changed (exact)
	Deadband  float64       // when a number moved by more than this from the last published
	Percent   float64       // or by more than this percent of it
	Heartbeat time.Duration // and anyway when this long passed without a publish
}

// Active reports whether the report rule suppresses anything.
func (r *Report) Active() bool {
	return r != nil && (r.OnChange || r.Deadband > 0 || r.Percent > 0)
}

// sampleConfig is the JSON of what samples carry over, in a dataset's
// configuration.
type sampleConfig struct {
	Window *struct {
		Initial int64 `json:"initial"`
	} `json:"window"`
	Cursor *struct {
		JQ      string `json:"jq"`
		Initial any    `json:"initial"`
	} `json:"cursor"`
	Pages *struct {
		Next    any     `json:"next"`
		Records *string `json:"records"`
		Max     int     `json:"max"`
	} `json:"pages"`
	Dedup *struct {
		Key  string `json:"key"`
		Keep int    `json:"keep"`
	} `json:"dedup"`
	Report     *reportJSON `json:"report"`
	RecordTime *string     `json:"recordTime"`
}

// reportJSON is a report rule, in a dataset's or a data point's
// configuration.
type reportJSON struct {
	OnChange        bool    `json:"onChange"`
	Deadband        float64 `json:"deadband"`
	DeadbandPercent float64 `json:"deadbandPercent"`
	Heartbeat       int64   `json:"heartbeat"`
}

func (r *reportJSON) rule() *Report {
	if r == nil {
		return nil
	}
	return &Report{OnChange: r.OnChange, Deadband: r.Deadband, Percent: r.DeadbandPercent, Heartbeat: time.Duration(r.Heartbeat) * time.Millisecond}
}

// samples sets what the dataset's samples carry from one to the next.
func (pl *Planner) samples(d *Dataset, cfg datasetConfig, path string, probs *Problems) {
	path += ".datasetConfiguration"
	b := configBuilder{probs: probs}
	if w := cfg.Window; w != nil {
		d.Window.Initial = time.Duration(w.Initial) * time.Millisecond
	}
	if c := cfg.Cursor; c != nil {
		d.Cursor = &Cursor{JQ: b.jq(&c.JQ, path+".cursor.jq")}
		if c.Initial != nil {
			d.Cursor.Initial = scalarText(c.Initial)
		}
	}
	if p := cfg.Pages; p != nil {
		d.Pages = b.pages(p.Next, p.Records, p.Max, path+".pages")
		if len(d.Points) > 0 {
			probs.add(path+".pages", "pages are for a dataset without data points: its records are the input")
		}
	}
	if dd := cfg.Dedup; dd != nil {
		d.Dedup = &Dedup{Key: b.jq(&dd.Key, path+".dedup.key"), Keep: dd.Keep}
		if d.Dedup.Keep == 0 {
			d.Dedup.Keep = DefaultDedupKeep
		}
	}
	d.Report = cfg.Report.rule()
	d.RecordTime = b.jq(cfg.RecordTime, path+".recordTime")
	usesCursor := false
	for _, r := range d.Requests {
		usesCursor = usesCursor || (r.Template != nil && r.Template.uses(RefCursor))
	}
	if usesCursor && d.Cursor == nil {
		probs.add(path, "a request uses ${cursor}, but there is no cursor: give cursor.jq, what a sample takes from its input for the next")
	}
}

// scalarText is a JSON scalar as a placeholder's text.
func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (b configBuilder) pages(next any, records *string, max int, path string) *Pages {
	p := &Pages{Records: b.jq(records, path+".records"), MaxPages: max}
	if p.MaxPages == 0 {
		p.MaxPages = DefaultMaxPages
	}
	switch n := next.(type) {
	case string:
		if n != string(NextLink) {
			b.probs.add(path+".next", `%q: want "link", or an object with url, cursor, page or offset`, n)
		}
		p.Next = NextLink
	case map[string]any:
		str := func(k string) string { s, _ := n[k].(string); return s }
		switch {
		case str("url") != "":
			p.Next, p.NextJQ = NextURL, b.jq(ptr(str("url")), path+".next.url")
		case str("cursor") != "":
			p.Next, p.NextJQ, p.Param = NextCursor, b.jq(ptr(str("cursor")), path+".next.cursor"), str("param")
			if p.Param == "" {
				b.probs.add(path+".next.param", "the query parameter that takes the cursor is required")
			}
		case str("page") != "":
			p.Next, p.Param, p.Start = NextPage, str("page"), 1
		case str("offset") != "":
			p.Next, p.Param = NextOffset, str("offset")
		default:
			b.probs.add(path+".next", "want url, cursor, page or offset")
		}
		if s, ok := n["start"].(float64); ok {
			p.Start = int(s)
		}
	default:
		b.probs.add(path+".next", `want "link", or an object with url, cursor, page or offset`)
	}
	return p
}

func ptr(s string) *string { return &s }

// uses reports whether the template has a placeholder of the name.
func (t *Template) uses(name string) bool {
	texts := []placeholder.Text{t.Path}
	for _, ps := range [][]Param{t.Query, t.Header} {
		for _, p := range ps {
			texts = append(texts, p.Value)
		}
	}
	if t.Body != nil {
		for _, x := range t.Body.Texts {
			texts = append(texts, x.Value)
		}
	}
	if t.BodyText != nil {
		texts = append(texts, *t.BodyText)
	}
	for _, x := range texts {
		for _, r := range x.Refs() {
			if r.Name == name {
				return true
			}
		}
	}
	return false
}

// Stateful reports whether the dataset's samples carry something over that
// must survive a restart: a window, a cursor, deduplication keys or the
// last published values.
func (d *Dataset) Stateful() bool {
	if d.Cursor != nil || d.Dedup != nil || d.Report.Active() {
		return true
	}
	for _, p := range d.Points {
		if p.Report.Active() {
			return true
		}
	}
	for _, r := range d.Requests {
		if r.Template != nil && r.Template.uses(RefPrevious) {
			return true
		}
	}
	return false
}
