package statuspage

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxConcurrent = 4
)

// contentSecurityPolicy allows the page's own files and nothing else: no
// inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var staticFiles embed.FS

// Options tune a Page. The zero value is the defaults.
type Options struct {
	// Hosts are the host names, besides localhost and IP addresses, that
	// the page answers to, as browsers send them in the Host header
	// (without the port): the names the operator reaches it by. A
	// request for any other name is refused, so that a web page cannot
	// reach the status page by pointing its own name at the connector
	// (DNS rebinding).
	Hosts []string
	// Timeout bounds one Try or Map; DefaultTimeout if 0.
	Timeout time.Duration
	// MaxConcurrent is how many Try and Map calls may run at once; a
	// request beyond it is answered 429 Too Many Requests at once.
	// DefaultMaxConcurrent if 0.
	MaxConcurrent int
}

// Page is the status page and its API, an http.Handler. Close it when
// done: that ends its event streams.
type Page struct {
	backend Backend
	opts    Options
	snaps   *snapshots
	events  *hub
	// trials holds a token per running Try or Map.
	trials chan struct{}
	csrf   *http.CrossOriginProtection
	routes map[string]route
}

// route is what one path answers to.
type route struct {
	method string
	serve  http.HandlerFunc
}

// New returns the page over b.
func New(b Backend, o Options) *Page {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	snaps := &snapshots{backend: b}
	p := &Page{
		backend: b,
		opts:    o,
		snaps:   snaps,
		events:  newHub(snaps),
		trials:  make(chan struct{}, o.MaxConcurrent),
		csrf:    http.NewCrossOriginProtection(),
	}
	p.routes = map[string]route{
		"/":              {http.MethodGet, serveFile("index.html", "text/html; charset=utf-8")},
		"/app.js":        {http.MethodGet, serveFile("app.js", "text/javascript; charset=utf-8")},
		"/style.css":     {http.MethodGet, serveFile("style.css", "text/css; charset=utf-8")},
		"/favicon.svg":   {http.MethodGet, serveFile("favicon.svg", "image/svg+xml")},
		"/api/datasets":  {http.MethodGet, p.serveDatasets},
		"/api/dataset":   {http.MethodGet, p.serveDataset},
		"/api/connector": {http.MethodGet, p.serveConnector},
		"/api/events":    {http.MethodGet, p.serveEvents},
		"/api/mappings":  {http.MethodGet, p.serveMappings},
		"/api/try":       {http.MethodPost, p.serveTry},
		"/api/map":       {http.MethodPost, p.serveMap},
	}
	return p
}

// Close ends the page's event streams and stops its broadcaster; the
// page then answers /api/events with 503. Register it with the server's
// RegisterOnShutdown: http.Server.Shutdown does not end event streams
// by itself, it waits for them.
func (p *Page) Close() { p.events.close() }

// ServeHTTP serves the page and its API.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	api := strings.HasPrefix(r.URL.Path, "/api/")
	if api {
		h.Set("Cache-Control", "no-store")
	}
	if err := p.checkHost(r.Host); err != nil {
		writeError(w, http.StatusForbidden, err)
		return
	}
	rt, ok := p.routes[r.URL.Path]
	switch {
	case !ok && api:
		writeError(w, http.StatusNotFound, fmt.Errorf("no API endpoint %s", r.URL.Path))
	case !ok:
		http.NotFound(w, r)
	case r.Method != rt.method:
		h.Set("Allow", rt.method)
		writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: use %s", r.Method, r.URL.Path, rt.method))
	default:
		rt.serve(w, r)
	}
}

// checkHost refuses a Host header naming a host the page does not know.
func (p *Page) checkHost(hostport string) error {
	if hostport == "" {
		return nil
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		return nil
	}
	if slices.ContainsFunc(p.opts.Hosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		return nil
	}
	return fmt.Errorf("host %q is not one the status page answers to: add it to the status page's hosts", host)
}

// serveFile serves an embedded file of static/.
func serveFile(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(staticFiles, path.Join("static", name))
		if err != nil {
			http.Error(w, "missing embedded file "+name, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}
}

func (p *Page) serveDatasets(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, p.snaps.get().list(q))
}

// serveDataset answers one dataset whole: its last message up to
// MaxPayloadBytes and its whole last error.
func (p *Page) serveDataset(w http.ResponseWriter, r *http.Request) {
	asset, dataset := r.URL.Query().Get("asset"), r.URL.Query().Get("dataset")
	d := p.snaps.get().find(asset, dataset)
	if d == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no dataset %q of asset %q", dataset, asset))
		return
	}
	writeJSON(w, http.StatusOK, row(d, true))
}

func (p *Page) serveConnector(w http.ResponseWriter, r *http.Request) {
	s := p.snaps.get()
	c := connectorView(&s.connector, len(s.datasets))
	c.Now = timeText(time.Now())
	writeJSON(w, http.StatusOK, c)
}

func (p *Page) serveMappings(w http.ResponseWriter, r *http.Request) {
	ms := p.backend.Mappings()
	out := make([]mappingJSON, len(ms))
	for i, m := range ms {
		out[i] = mappingJSON(m)
	}
	slices.SortFunc(out, func(a, b mappingJSON) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, errorJSON(fmt.Errorf("encode the answer: %w", err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError answers {"error": "..."} with status.
func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(errorJSON(err), '\n'))
}

func errorJSON(err error) []byte {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	return b
}
