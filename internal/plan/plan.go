// Package plan turns ADR devices and assets into sampling plans: typed,
// validated and compiled once when the configuration loads. Stringified-JSON
// configuration is checked against the embedded JSON Schemas, URLs are
// parsed, requests are built and de-duplicated and jq is compiled here, so
// nothing is parsed or compiled per sample. Every problem is reported at
// once with the path of the field at fault.
package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/mapping"
	"github.com/http-connector/http-connector/internal/messageschema"
	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/schemas"
)

// Defaults of a planner made with zero Defaults, and of a data point
// without HttpRequestMethod. The connector takes them from its settings.
const (
	DefaultSamplingInterval = time.Second
	DefaultRequestTimeout   = 10 * time.Second
	DefaultMethod           = http.MethodGet
)

// Defaults are the connector-wide values a plan falls back on.
type Defaults struct {
	SamplingInterval time.Duration // when neither dataset nor asset sets one
	RequestTimeout   time.Duration // upper bound of the per-request timeout
}

// Endpoint is one device inbound endpoint, ready to be dialled.
type Endpoint struct {
	Device   string
	Name     string
	Address  *url.URL
	Auth     Auth
	Trust    string // trust list secret name, if any
	Config   EndpointConfig
	Enabled  bool
	UUID     string
	External string // externalDeviceId
	Version  uint64
}

// Key identifies an endpoint: "device/endpoint".
func (e *Endpoint) Key() string { return e.Device + "/" + e.Name }

// SameConnection reports whether a client built for e serves o as well:
// same address, authentication and trust list.
func (e *Endpoint) SameConnection(o *Endpoint) bool {
	return e.Address.String() == o.Address.String() && e.Auth == o.Auth && e.Trust == o.Trust && e.Config.Source == o.Config.Source
}

// Auth names the credentials of an endpoint; it never holds secrets.
type Auth struct {
	Method              adr.AuthMethod
	UsernameSecret      string
	PasswordSecret      string
	CertificateSecret   string
	IntermediatesSecret string
	KeySecret           string
}

// Asset is an asset's sampling plan.
type Asset struct {
	Name     string
	Endpoint *Endpoint
	Enabled  bool
	UUID     string
	External string // externalAssetId
	Version  uint64
	Datasets []*Dataset
	Actions  []*Action // management actions: RPC commands served in Akri mode
	// Fingerprint changes whenever the asset's definition or its
	// endpoint's does: a running asset with another fingerprint restarts.
	Fingerprint string
}

// Active reports whether the asset is sampled: enabled, on an enabled
// device endpoint.
func (a *Asset) Active() bool { return a.Enabled && a.Endpoint != nil && a.Endpoint.Enabled }

// Dataset is one dataset's sampling plan.
type Dataset struct {
	Asset    string
	Name     string
	TypeRef  string
	Source   string // the dataset's dataSource as written
	Interval time.Duration
	Timeout  time.Duration // per request
	Requests []*Request    // distinct requests of one sample
	Points   []*Point      // empty: the message is the one request's response
	Mapping  *mapping.Program
	Targets  []Destination
	// MappingName is the library name of Mapping, when it is a named one.
	MappingName string
	// MessageSchema is the declared schema of the messages (canonical
	// JSON text), empty when it is to be derived from the first message.
	MessageSchema string
	// AssetAttributes is $assetAttributes: the asset's attributes, shared
	// by its datasets and never modified; nil when the dataset runs no jq.
	AssetAttributes map[string]any
	// What samples carry from one to the next (see samples.go).
	Window     Window
	Cursor     *Cursor
	Pages      *Pages
	Dedup      *Dedup
	Report     *Report
	RecordTime *mapping.Program // a message's time, from the message
}

// Mapped reports whether a sample of d runs jq: a dataset mapping or a
// data point's.
func (d *Dataset) Mapped() bool {
	if d.Mapping != nil {
		return true
	}
	for _, p := range d.Points {
		if p.Mapping != nil {
			return true
		}
	}
	return false
}

// Request is one prepared HTTP request.
type Request struct {
	Method string
	URL    *url.URL // never modified
	Header http.Header
	Body   []byte
	// Parse reads the responses; its zero value reads JSON or text.
	Parse Parse
	// Template, if set, is the request as it changes from one sample to
	// the next: it is rendered for each sample, and the other fields are
	// unset.
	Template *Template
	// Secret are the headers and query parameters whose values hold
	// placeholders of secrets: they are expanded when the request is
	// prepared for its client, and never kept in a plan.
	Secret []SecretParam
}

// SecretParam is a header, or a query parameter, with placeholders.
type SecretParam struct {
	Query bool
	Param
}

// SecretRefs are the placeholders of the request's secret parameters.
func (r *Request) SecretRefs() []placeholder.Ref {
	var out []placeholder.Ref
	for _, p := range r.Secret {
		out = append(out, p.Value.Refs()...)
	}
	return out
}

// Point is one data point's plan.
type Point struct {
	Name    string
	Request int              // index into Dataset.Requests
	Mapping *mapping.Program // optional jq on the parsed response
	Key     []byte           // the JSON-encoded name, with the colon
	// MappingName is the library name of Mapping, when it is a named one.
	MappingName string
	// Report, if set, is the data point's report by exception.
	Report *Report
}

// Destination is an MQTT destination of a dataset.
type Destination struct {
	Topic  string
	QoS    byte
	Retain bool
	Expiry uint32 // seconds; 0: no expiry
	// StoreKey, if set, makes the destination the broker state store
	// (target BrokerStateStore): each message is SET under this key, and
	// the MQTT fields are unused.
	StoreKey string
}

// Variables of a dataset jq program, in the order Run takes them.
var DatasetVariables = []string{"asset", "dataset", "timestamp", "assetAttributes"}

// Variables of a data point jq program, in the order Run takes them.
var PointVariables = []string{"asset", "dataset", "dataPoint", "timestamp", "assetAttributes"}

// Planner builds plans. It holds the compiled configuration schemas and is
// safe for concurrent use.
type Planner struct {
	defaults  Defaults
	datasetV  *schemas.Validator
	dataPoint *schemas.Validator
	endpointV *schemas.Validator
	actionV   *schemas.Validator
	library   Library // named mappings; see WithLibrary
	// stateStore says that BrokerStateStore destinations can be served
	// (Akri mode); see WithStateStore.
	stateStore bool
}

// WithStateStore is the planner of a connector that can write to the
// broker state store (Akri mode): BrokerStateStore destinations are
// allowed.
func (pl *Planner) WithStateStore() *Planner {
	cp := *pl
	cp.stateStore = true
	return &cp
}

// NewPlanner compiles the configuration schemas.
func NewPlanner(d Defaults) (*Planner, error) {
	if d.SamplingInterval <= 0 {
		d.SamplingInterval = DefaultSamplingInterval
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = DefaultRequestTimeout
	}
	dv, err := schemas.Compile(schemas.DatasetConfiguration)
	if err != nil {
		return nil, err
	}
	pv, err := schemas.Compile(schemas.DataPointConfiguration)
	if err != nil {
		return nil, err
	}
	ev, err := schemas.Compile(schemas.EndpointConfiguration)
	if err != nil {
		return nil, err
	}
	av, err := schemas.Compile(schemas.ActionConfiguration)
	if err != nil {
		return nil, err
	}
	return &Planner{defaults: d, datasetV: dv, dataPoint: pv, endpointV: ev, actionV: av}, nil
}

// Problems collects configuration errors with their field paths.
type Problems []Problem

// Problem is one configuration error.
type Problem struct {
	Path    string // spec.datasets[0].dataPoints[1].dataPointConfiguration.HttpRequestMethod
	Message string
	Detail  string // optional extra lines (a jq snippet with a caret)
}

func (p Problem) Error() string {
	s := p.Message
	if p.Path != "" {
		s = p.Path + ": " + s
	}
	return s
}

func (ps *Problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Endpoint builds the plan of a device's inbound endpoint. Paths in problems
// are relative to the device spec ("spec.endpoints.inbound.x.address").
func (pl *Planner) Endpoint(device string, d *adr.Device, name string) (*Endpoint, Problems) {
	var probs Problems
	path := schemas.Path("/spec/endpoints/inbound/" + schemas.PointerToken(name))
	ep := d.Inbound(name)
	if ep == nil {
		probs.add("spec.endpoints.inbound", "no inbound endpoint %q", name)
		return nil, probs
	}
	out := &Endpoint{Device: device, Name: name, Enabled: d.IsEnabled(), UUID: d.UUID, External: d.ExternalDeviceID}
	if d.Version != nil {
		out.Version = *d.Version
	}
	u, err := url.Parse(ep.Address)
	switch {
	case err != nil:
		probs.add(path+".address", "not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		probs.add(path+".address", "must be an http:// or https:// URL, got %q", ep.Address)
	case u.Host == "":
		probs.add(path+".address", "has no host: %q", ep.Address)
	case u.User != nil:
		probs.add(path+".address", "must not hold credentials: use authentication")
	default:
		out.Address = u
	}
	if a := ep.Authentication; a != nil {
		out.Auth.Method = a.Method
		switch a.Method {
		case adr.AuthAnonymous:
		case adr.AuthUsernamePassword:
			if c := a.UsernamePasswordCredentials; c == nil {
				probs.add(path+".authentication.usernamePasswordCredentials", "required for method UsernamePassword")
			} else {
				out.Auth.UsernameSecret, out.Auth.PasswordSecret = c.UsernameSecretName, c.PasswordSecretName
			}
		case adr.AuthCertificate:
			if c := a.X509Credentials; c == nil {
				probs.add(path+".authentication.x509Credentials", "required for method Certificate")
			} else {
				out.Auth.CertificateSecret = c.CertificateSecretName
				out.Auth.IntermediatesSecret = c.IntermediateCertificatesSecretName
				out.Auth.KeySecret = c.KeySecretName
			}
		default:
			probs.add(path+".authentication.method", "%q is not one of %q, %q, %q", a.Method, adr.AuthAnonymous, adr.AuthUsernamePassword, adr.AuthCertificate)
		}
	} else {
		out.Auth.Method = adr.AuthAnonymous
	}
	if ep.TrustSettings != nil {
		out.Trust = ep.TrustSettings.TrustList
	}
	out.Config = pl.endpointConfig(ep.AdditionalConfiguration, out, path, &probs)
	return out, probs
}

// Asset builds an asset's plan against its endpoint (which may be nil when
// the endpoint itself is broken; the datasets are still checked). Paths in
// problems are relative to the asset resource ("spec.datasets[0].name").
func (pl *Planner) Asset(name string, a *adr.Asset, ep *Endpoint) (*Asset, Problems) {
	var probs Problems
	out := &Asset{Name: name, Endpoint: ep, Enabled: a.IsEnabled(), UUID: a.UUID, External: a.ExternalAssetID}
	if a.Version != nil {
		out.Version = *a.Version
	}
	defaults, err := decodeConfig(a.DefaultDatasetsConfiguration)
	if err != nil {
		probs.add("spec.defaultDatasetsConfiguration", "%v", err)
		defaults = nil
	} else {
		probs = append(probs, pl.validate(pl.datasetV, defaults, "spec.defaultDatasetsConfiguration")...)
	}
	seen := map[string]int{}
	for i := range a.Datasets {
		ds := &a.Datasets[i]
		path := fmt.Sprintf("spec.datasets[%d]", i)
		if j, dup := seen[ds.Name]; dup {
			probs.add(path+".name", "duplicate dataset name %q (also spec.datasets[%d])", ds.Name, j)
			continue
		}
		seen[ds.Name] = i
		d, dprobs := pl.dataset(name, a, ds, defaults, ep, path)
		probs = append(probs, dprobs...)
		if d != nil {
			out.Datasets = append(out.Datasets, d)
		}
	}
	out.Actions = pl.actions(name, a, ep, &probs)
	// $assetAttributes, for the datasets that run jq: most run none, and
	// thousands of assets need not hold a copy each.
	var attrs map[string]any
	for _, d := range out.Datasets {
		if !d.Mapped() {
			continue
		}
		if attrs == nil {
			attrs = make(map[string]any, len(a.Attributes))
			for k, v := range a.Attributes {
				attrs[k] = v
			}
		}
		d.AssetAttributes = attrs
	}
	out.Fingerprint = fingerprint(name, a, ep, pl.mappingPrints(out.Datasets))
	return out, probs
}

func (pl *Planner) validate(v *schemas.Validator, doc map[string]any, path string) Problems {
	var probs Problems
	for _, viol := range v.Validate(doc) {
		p := path
		if viol.Path != "" {
			p += "." + viol.Path
		}
		probs.add(p, "%s", viol.Message)
	}
	return probs
}

// datasetConfig is the decoded dataset configuration.
type datasetConfig struct {
	SamplingInterval    *int64  `json:"samplingInterval"`
	SamplingIntervalAlt *int64  `json:"SamplingInterval"`
	SamplingIntervalMS  *int64  `json:"samplingIntervalInMilliseconds"`
	RequestTimeout      *int64  `json:"requestTimeout"`
	JQ                  *string `json:"jq"`
	Mapping             *string `json:"mapping"`
	MessageSchema       any     `json:"messageSchema"`
	formatConfig
	requestConfig
	sampleConfig
}

// requestConfig is a request's method, body, headers and query, in a data
// point's configuration or a dataset's (its own request, without data
// points).
type requestConfig struct {
	Method  string            `json:"HttpRequestMethod"`
	Body    json.RawMessage   `json:"body"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
}

// pointConfig is the decoded data point configuration.
type pointConfig struct {
	requestConfig
	JQ      *string     `json:"jq"`
	Mapping *string     `json:"mapping"`
	Report  *reportJSON `json:"report"`
	formatConfig
}

func (pl *Planner) dataset(asset string, a *adr.Asset, ds *adr.Dataset, defaults map[string]any, ep *Endpoint, path string) (*Dataset, Problems) {
	var probs Problems
	cfg, named := pl.datasetConfig(ds, defaults, path, &probs)
	d := &Dataset{Asset: asset, Name: ds.Name, TypeRef: ds.TypeRef, Source: ds.DataSource}
	pl.timing(d, cfg, path, &probs)
	pl.datasetMapping(d, cfg, named, path, &probs)
	pl.points(d, ds, ep, cfg, a.Attributes, path, &probs)
	pl.samples(d, cfg, path, &probs)
	d.Targets = pl.destinations(a, ds, path, &probs)
	if len(probs) > 0 {
		return nil, probs
	}
	return d, nil
}

// datasetConfig is the dataset's configuration over the asset's defaults,
// key by key. named reports whether the dataset sets its own jq or mapping.
func (pl *Planner) datasetConfig(ds *adr.Dataset, defaults map[string]any, path string, probs *Problems) (cfg datasetConfig, named bool) {
	own, err := decodeConfig(ds.DatasetConfiguration)
	if err != nil {
		probs.add(path+".datasetConfiguration", "%v", err)
		own = nil
	} else {
		*probs = append(*probs, pl.validate(pl.datasetV, own, path+".datasetConfiguration")...)
	}
	merged := map[string]any{}
	for k, v := range defaults {
		merged[k] = v
	}
	// The three spellings of the interval are one setting: the dataset's
	// own value overrides the asset default in any spelling.
	for _, k := range intervalKeys {
		if _, ok := own[k]; ok {
			for _, k := range intervalKeys {
				delete(merged, k)
			}
			break
		}
	}
	// So are jq and mapping: the dataset's own replaces the asset default.
	_, jq := own["jq"]
	_, named = own["mapping"]
	if jq || named {
		delete(merged, "jq")
		delete(merged, "mapping")
	}
	for k, v := range own {
		merged[k] = v
	}
	if len(*probs) == 0 {
		if err := remarshal(merged, &cfg); err != nil {
			probs.add(path+".datasetConfiguration", "%v", err)
		}
	}
	return cfg, named
}

// intervalKeys are the spellings of the sampling interval: ours, the AIO
// walkthrough's and Microsoft's REST connector's.
var intervalKeys = []string{"samplingInterval", "SamplingInterval", "samplingIntervalInMilliseconds"}

// timing sets the dataset's interval and request timeout.
func (pl *Planner) timing(d *Dataset, cfg datasetConfig, path string, probs *Problems) {
	d.Interval = pl.defaults.SamplingInterval
	var set []string
	for i, v := range []*int64{cfg.SamplingInterval, cfg.SamplingIntervalAlt, cfg.SamplingIntervalMS} {
		if v != nil {
			set = append(set, intervalKeys[i])
			d.Interval = time.Duration(*v) * time.Millisecond
		}
	}
	if len(set) > 1 {
		probs.add(path+".datasetConfiguration", "%s are one setting, the sampling interval: give one", strings.Join(set, " and "))
	}
	d.Timeout = min(d.Interval*8/10, pl.defaults.RequestTimeout)
	if cfg.RequestTimeout != nil {
		d.Timeout = time.Duration(*cfg.RequestTimeout) * time.Millisecond
		if d.Timeout >= d.Interval {
			probs.add(path+".datasetConfiguration.requestTimeout", "%d ms must be shorter than the sampling interval (%d ms)", *cfg.RequestTimeout, d.Interval.Milliseconds())
		}
	}
}

// datasetMapping sets the dataset's message schema and its mapping, jq or
// named.
func (pl *Planner) datasetMapping(d *Dataset, cfg datasetConfig, named bool, path string, probs *Problems) {
	if cfg.MessageSchema != nil {
		text, err := messageschema.Normalize(cfg.MessageSchema)
		if err != nil {
			probs.add(path+".datasetConfiguration.messageSchema", "%v", err)
		}
		d.MessageSchema = text
	}
	if cfg.JQ != nil && cfg.Mapping != nil {
		probs.add(path+".datasetConfiguration", "jq and mapping both give the dataset mapping: give one")
	}
	if cfg.JQ != nil {
		prog, err := mapping.Compile(*cfg.JQ, mapping.Options{Variables: DatasetVariables})
		if err != nil {
			*probs = append(*probs, jqProblem(path+".datasetConfiguration.jq", err))
		}
		d.Mapping = prog
	}
	if cfg.Mapping != nil {
		mpath := path + ".datasetConfiguration.mapping"
		if !named {
			mpath = "spec.defaultDatasetsConfiguration.mapping"
		}
		if m, err := pl.resolve(*cfg.Mapping, DatasetMapping); err != nil {
			probs.add(mpath, "%v", err)
		} else {
			d.Mapping, d.MappingName = m.Program, m.Name
		}
	}
}

// points builds the dataset's data points and their distinct requests: a
// dataset without data points requests its dataSource.
func (pl *Planner) points(d *Dataset, ds *adr.Dataset, ep *Endpoint, cfg datasetConfig, attrs map[string]string, path string, probs *Problems) {
	parse := cfg.parser(path+".datasetConfiguration", probs)
	byKey := map[string]int{}
	request := func(r *Request) int {
		k := requestKey(r)
		if i, ok := byKey[k]; ok {
			return i
		}
		d.Requests = append(d.Requests, r)
		byKey[k] = len(d.Requests) - 1
		return len(d.Requests) - 1
	}
	if len(ds.DataPoints) == 0 {
		if ds.DataSource == "" {
			probs.add(path, "has no data points and no dataSource: nothing to sample")
		} else if r := pl.request(ep, ds.DataSource, cfg.requestConfig, attrs, path+".dataSource", path+".datasetConfiguration", probs); r != nil {
			r.Parse = parse
			request(r)
		}
	} else if cfg.requestConfig.set() {
		probs.add(path+".datasetConfiguration", "HttpRequestMethod, body, headers and query are for a dataset without data points: give them in each data point's configuration")
	}
	names := map[string]int{}
	for i := range ds.DataPoints {
		dp := &ds.DataPoints[i]
		ppath := fmt.Sprintf("%s.dataPoints[%d]", path, i)
		if j, dup := names[dp.Name]; dup {
			probs.add(ppath+".name", "duplicate data point name %q (also %s.dataPoints[%d])", dp.Name, path, j)
			continue
		}
		names[dp.Name] = i
		if pt := pl.point(ds, dp, ep, parse, attrs, path, ppath, request, probs); pt != nil {
			d.Points = append(d.Points, pt)
		}
	}
}

// point builds one data point; request de-duplicates its request.
func (pl *Planner) point(ds *adr.Dataset, dp *adr.DataPoint, ep *Endpoint, parse Parse, attrs map[string]string, path, ppath string, request func(*Request) int, probs *Problems) *Point {
	raw, err := decodeConfig(dp.DataPointConfiguration)
	if err != nil {
		probs.add(ppath+".dataPointConfiguration", "%v", err)
		return nil
	}
	if vp := pl.validate(pl.dataPoint, raw, ppath+".dataPointConfiguration"); len(vp) > 0 {
		*probs = append(*probs, vp...)
		return nil
	}
	var pc pointConfig
	if err := remarshal(raw, &pc); err != nil {
		probs.add(ppath+".dataPointConfiguration", "%v", err)
		return nil
	}
	source, sourcePath := dp.DataSource, ppath+".dataSource"
	if source == "" {
		source, sourcePath = ds.DataSource, path+".dataSource"
	}
	r := pl.request(ep, source, pc.requestConfig, attrs, sourcePath, ppath+".dataPointConfiguration", probs)
	if r == nil { // broken; or the endpoint is, which is reported with the device
		return nil
	}
	r.Parse = parse
	if pc.formatConfig.set() {
		r.Parse = pc.parser(ppath+".dataPointConfiguration", probs)
	}
	key, _ := json.Marshal(dp.Name)
	pt := &Point{Name: dp.Name, Request: request(r), Key: append(key, ':'), Report: pc.Report.rule()}
	if pc.JQ != nil && pc.Mapping != nil {
		probs.add(ppath+".dataPointConfiguration", "jq and mapping both give the data point mapping: give one")
	}
	if pc.JQ != nil {
		prog, err := mapping.Compile(*pc.JQ, mapping.Options{Variables: PointVariables})
		if err != nil {
			*probs = append(*probs, jqProblem(ppath+".dataPointConfiguration.jq", err))
		}
		pt.Mapping = prog
	}
	if pc.Mapping != nil {
		if m, err := pl.resolve(*pc.Mapping, DataPointMapping); err != nil {
			probs.add(ppath+".dataPointConfiguration.mapping", "%v", err)
		} else {
			pt.Mapping, pt.MappingName = m.Program, m.Name
		}
	}
	return pt
}

// destinations are the dataset's, or else the asset's defaults.
func (pl *Planner) destinations(a *adr.Asset, ds *adr.Dataset, path string, probs *Problems) []Destination {
	dests, dpath := ds.Destinations, path+".destinations"
	if len(dests) == 0 {
		dests, dpath = a.DefaultDatasetsDestinations, "spec.defaultDatasetsDestinations"
	}
	if len(dests) == 0 {
		probs.add(path+".destinations", "no destination: give the dataset destinations or the asset defaultDatasetsDestinations")
	}
	var out []Destination
	for i, dst := range dests {
		t, err := pl.destination(dst)
		if err != nil {
			probs.add(fmt.Sprintf("%s[%d]", dpath, i), "%v", err)
			continue
		}
		out = append(out, t)
	}
	return out
}

func jqProblem(path string, err error) Problem {
	p := Problem{Path: path, Message: err.Error()}
	if se, ok := err.(*mapping.SyntaxError); ok {
		p.Detail = se.Snippet()
	}
	return p
}

// remarshal decodes a validated configuration object into its struct.
func remarshal(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func buildRequest(ep *Endpoint, source string, pc requestConfig) (*Request, error) {
	r := &Request{Method: pc.Method} // Header stays nil without headers: thousands of requests need no empty map each
	if r.Method == "" {
		r.Method = DefaultMethod
	}
	var u *url.URL
	src, err := url.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("not a URL path: %v", err)
	}
	if src.IsAbs() {
		if src.Scheme != "http" && src.Scheme != "https" {
			return nil, fmt.Errorf("must be a path or an http(s) URL, got %q", source)
		}
		u = src
	} else {
		if ep == nil || ep.Address == nil {
			return nil, nil
		}
		base := *ep.Address
		u = &base
		u.Path = strings.TrimSuffix(base.Path, "/") + "/" + strings.TrimPrefix(src.Path, "/")
		if src.Path == "" {
			u.Path = base.Path
		}
		u.RawPath = ""
		if src.RawQuery != "" {
			u.RawQuery = src.RawQuery
		}
	}
	if len(pc.Query) > 0 {
		q := u.Query()
		keys := make([]string, 0, len(pc.Query))
		for k := range pc.Query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q.Set(k, pc.Query[k])
		}
		cp := *u
		cp.RawQuery = q.Encode()
		u = &cp
	}
	r.URL = u
	if len(pc.Body) > 0 && string(pc.Body) != "null" {
		var s string
		if json.Unmarshal(pc.Body, &s) == nil {
			r.Body = []byte(s)
		} else {
			r.Body = append([]byte(nil), pc.Body...)
			r.Header = http.Header{"Content-Type": {"application/json"}}
		}
	}
	for k, v := range pc.Headers {
		if r.Header == nil {
			r.Header = make(http.Header, len(pc.Headers))
		}
		r.Header.Set(k, v)
	}
	return r, nil
}

// requestKey identifies requests that can be fetched once for several points.
func requestKey(r *Request) string {
	var b strings.Builder
	for _, p := range r.Secret {
		fmt.Fprintf(&b, "%v %s: %s\n", p.Query, p.Name, p.Value.Source())
	}
	if t := r.Template; t != nil {
		key, _ := json.Marshal(t.source())
		b.Write(key)
		return b.String()
	}
	fmt.Fprintf(&b, "format %s\n", r.Parse.Key)
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(r.URL.String())
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n%s: %s", k, strings.Join(r.Header[k], ", "))
	}
	b.WriteString("\n\n")
	b.Write(r.Body)
	return b.String()
}

func (pl *Planner) destination(d adr.Destination) (Destination, error) {
	var out Destination
	c := d.Configuration
	switch d.Target {
	case adr.TargetMqtt:
	case adr.TargetBrokerStateStore:
		switch {
		case !pl.stateStore:
			return out, fmt.Errorf("target BrokerStateStore writes to the AIO broker state store, which only Akri mode has: standalone, use an Mqtt destination")
		case c.Key == "":
			return out, fmt.Errorf("configuration.key: required for target BrokerStateStore")
		}
		out.StoreKey = c.Key
		return out, nil
	default:
		return out, fmt.Errorf("target %s is not supported: use Mqtt or BrokerStateStore", d.Target)
	}
	if err := checkTopic(c.Topic); err != nil {
		return out, fmt.Errorf("configuration.topic: %v", err)
	}
	out.Topic = c.Topic
	switch c.Qos {
	case adr.Qos0:
		out.QoS = 0
	case adr.Qos1, "": // absent: QoS 1, so that nothing is silently lost
		out.QoS = 1
	default:
		return out, fmt.Errorf("configuration.qos: %q is not one of %q, %q", c.Qos, adr.Qos0, adr.Qos1)
	}
	switch c.Retain {
	case adr.RetainKeep:
		out.Retain = true
	case adr.RetainNever, "":
	default:
		return out, fmt.Errorf("configuration.retain: %q is not one of %q, %q", c.Retain, adr.RetainKeep, adr.RetainNever)
	}
	if c.TTL != nil {
		if *c.TTL > 1<<32-1 {
			return out, fmt.Errorf("configuration.ttl: %d seconds is too long", *c.TTL)
		}
		out.Expiry = uint32(*c.TTL)
	}
	return out, nil
}

func checkTopic(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("required for target Mqtt")
	case strings.ContainsAny(t, "+#"):
		return fmt.Errorf("%q: wildcards + and # are not allowed in a topic name", t)
	case strings.HasPrefix(t, "$"):
		return fmt.Errorf("%q: topics starting with $ are reserved", t)
	case strings.ContainsRune(t, 0):
		return fmt.Errorf("%q: NUL is not allowed", t)
	case len(t) > 65535:
		return fmt.Errorf("longer than 65535 bytes")
	}
	return nil
}

func fingerprint(name string, a *adr.Asset, ep *Endpoint, mappings []string) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode(name)
	_ = enc.Encode(a)
	if ep != nil {
		_ = enc.Encode(ep)
	}
	_ = enc.Encode(mappings)
	return hex.EncodeToString(h.Sum(nil))
}

// mappingPrints are the fingerprints of the named mappings datasets use,
// in dataset and data point order.
func (pl *Planner) mappingPrints(datasets []*Dataset) []string {
	var out []string
	add := func(name string) {
		if m := pl.library[name]; name != "" && m != nil {
			out = append(out, name+" "+m.Fingerprint)
		}
	}
	for _, d := range datasets {
		add(d.MappingName)
		for _, p := range d.Points {
			add(p.MappingName)
		}
	}
	return out
}
