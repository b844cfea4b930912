// Package odata is an OData v4 service of energy meters, as a Go HTTP
// handler, with the device and asset files that make http-connector read
// every meter on every poll, one message per meter, following the
// service's pages.
//
// Taken from OData v4 (OData JSON Format 4.01, §15 and Protocol §11.2.6.7,
// server-driven paging): a collection answers
// {"@odata.context": …, "value": [ … ]} with Content-Type
// application/json;odata.metadata=minimal; a service that pages its answer
// puts the URL of the next page in "@odata.nextLink" (absolute, built from
// the request's host, keeping the request's query options and adding an
// opaque $skiptoken) and leaves it out of the last page; $select picks the
// properties of each entity; an error is {"error": {"code", "message"}}.
//
// Assumed, and simplified: the service has one entity set, Meters, keyed
// by MeterId; its page size is fixed (PageSize; real services choose theirs
// or follow Prefer: odata.maxpagesize); the skip token is the last key of
// the page, as ASP.NET Core OData writes one, so a page reads the meters
// after it as they are at that moment (a meter's reading may move between
// two pages of one poll, as on a real service); no $metadata document, no
// $filter, $orderby, $top or $count: they are refused with 501.
package odata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Meter is one entity of the Meters set, as served.
type Meter struct {
	MeterID string  `json:"MeterId"`
	Name    string  `json:"Name"`
	Reading float64 `json:"Reading"` // kWh, growing with every page served
	Unit    string  `json:"Unit"`
	ReadAt  string  `json:"ReadAt"` // RFC 3339, when the reading was taken
}

// Options configure a Service; zero values are defaults.
type Options struct {
	Meters   int              // how many meters; default 7
	PageSize int              // entities per page; default 3
	Now      func() time.Time // the service's clock; default time.Now
}

// Service is a simulated OData v4 service.
type Service struct {
	opts Options

	mu     sync.Mutex
	pages  int     // pages served, which move the readings
	served []Meter // every entity served, in order
	polls  int     // first pages served (requests without $skiptoken)
}

// New returns a service.
func New(o Options) *Service {
	if o.Meters <= 0 {
		o.Meters = 7
	}
	if o.PageSize <= 0 {
		o.PageSize = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{opts: o}
}

// Served is every meter served so far, in the order of the pages.
func (s *Service) Served() []Meter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.served)
}

// Polls is how many first pages were served: the polls begun.
func (s *Service) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// Handler serves the service:
//
//	GET /odata/Meters[?$select=…][&$skiptoken=…]
//	{"@odata.context": "http://host/odata/$metadata#Meters", "value": [{"MeterId": "M-001", …}, …],
//	 "@odata.nextLink": "http://host/odata/Meters?$select=…&$skiptoken=M-003"}
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /odata/Meters", s.meters)
	mux.HandleFunc("/odata/", func(w http.ResponseWriter, r *http.Request) {
		odataError(w, http.StatusNotFound, "ResourceNotFound", "no resource at "+r.URL.Path)
	})
	return mux
}

func (s *Service) meters(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		odataError(w, http.StatusBadRequest, "BadRequest", "query: "+err.Error())
		return
	}
	for name := range q {
		if name != "$select" && name != "$skiptoken" {
			odataError(w, http.StatusNotImplemented, "NotImplemented", "query option "+name+" is not supported")
			return
		}
	}
	fields, err := selected(q.Get("$select"))
	if err != nil {
		odataError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	page, last := s.page(q.Get("$skiptoken"))
	if page == nil {
		odataError(w, http.StatusBadRequest, "BadRequest", "$skiptoken: no meter "+q.Get("$skiptoken"))
		return
	}
	body := object{
		{"@odata.context", base(r) + "/odata/$metadata#Meters" + contextSelect(q.Get("$select"))},
		{"value", project(page, fields)},
	}
	if !last {
		next := url.Values{"$skiptoken": {page[len(page)-1].MeterID}}
		if sel := q.Get("$select"); sel != "" {
			next.Set("$select", sel)
		}
		body = append(body, member{"@odata.nextLink", base(r) + "/odata/Meters?" + encodeQuery(next)})
	}
	reply(w, http.StatusOK, body)
}

// page is the page after the meter skip ("" for the first) and whether it
// is the last; nil if skip is no meter.
func (s *Service) page(skip string) ([]Meter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := 0
	if skip != "" {
		i := slices.IndexFunc(s.ids(), func(id string) bool { return id == skip })
		if i < 0 {
			return nil, false
		}
		start = i + 1
	} else {
		s.polls++
	}
	s.pages++
	end := min(start+s.opts.PageSize, s.opts.Meters)
	now := s.opts.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	var page []Meter
	for i := start; i < end; i++ {
		m := Meter{MeterID: meterID(i), Name: meterName(i), Reading: reading(i, s.pages), Unit: "kWh", ReadAt: now}
		page = append(page, m)
	}
	s.served = append(s.served, page...)
	return page, end == s.opts.Meters
}

func (s *Service) ids() []string {
	ids := make([]string, s.opts.Meters)
	for i := range ids {
		ids[i] = meterID(i)
	}
	return ids
}

func meterID(i int) string { return fmt.Sprintf("M-%03d", i+1) }

func meterName(i int) string {
	halls := []string{"Hall 1 main", "Hall 1 compressors", "Hall 2 main", "Hall 2 ovens", "Office", "Canteen", "Chargers"}
	if i < len(halls) {
		return halls[i]
	}
	return fmt.Sprintf("Meter %d", i+1)
}

// reading is meter i's counter after pages pages served: it grows by a
// quarter kWh per page, and by a rate of its own.
func reading(i, pages int) float64 {
	return math.Round((1000*float64(i+1)+float64(pages)*(0.25+0.01*float64(i)))*100) / 100
}

var properties = []string{"MeterId", "Name", "Reading", "Unit", "ReadAt"}

// selected is the properties $select names (every one when empty).
func selected(sel string) ([]string, error) {
	if sel == "" {
		return properties, nil
	}
	var out []string
	for _, p := range strings.Split(sel, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(properties, p) {
			return nil, fmt.Errorf("$select: Meter has no property %q", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// project is the meters with only the properties fields, in the order of
// the entity type.
func project(page []Meter, fields []string) []object {
	out := []object{}
	for _, m := range page {
		all := map[string]any{"MeterId": m.MeterID, "Name": m.Name, "Reading": m.Reading, "Unit": m.Unit, "ReadAt": m.ReadAt}
		var e object
		for _, p := range properties {
			if slices.Contains(fields, p) {
				e = append(e, member{p, all[p]})
			}
		}
		out = append(out, e)
	}
	return out
}

// object is a JSON object whose members keep their order.
type object []member

type member struct {
	name  string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := marshal(m.name)
		if err != nil {
			return nil, err
		}
		v, err := marshal(m.value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// marshal is v's JSON with & < > as they are, as OData services write
// next links.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// reply writes v as an OData JSON answer.
func reply(w http.ResponseWriter, status int, v object) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func contextSelect(sel string) string {
	if sel == "" {
		return ""
	}
	return "(" + strings.ReplaceAll(sel, " ", "") + ")"
}

// base is the service's root URL as the client addressed it.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// encodeQuery writes OData's system query options with their $ as it is,
// as OData services write them in next links.
func encodeQuery(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), "%24", "$")
}

func odataError(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, object{{"error", object{{"code", code}, {"message", msg}}}})
}
