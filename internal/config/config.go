// Package config is the one load path of a standalone configuration: it
// reads a folder of Device and Asset resource files, checks references across
// them and builds the sampling plans. run, validate, try and demo all load
// through here, and nothing here touches the network.
package config

import (
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/resourcefile"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/yamlfile"
)

// Config is a loaded, validated configuration.
type Config struct {
	Endpoints map[string]*plan.Endpoint // by Endpoint.Key()
	Assets    []*plan.Asset             // in file order; disabled ones included
	Disabled  []string                  // why assets are not sampled, one line each
	Notes     []string                  // what is read but not used, one line each
	Mappings  *mappingfile.Library      // the mapping library references resolved against
	Resources int                       // Device and Asset resources read
	// Skipped are the subfolders of the folder that were not read: only
	// the folder's own files hold resources (its mappings folder holds
	// mapping files).
	Skipped []string
}

// Errors is every problem found by a load.
type Errors []error

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "\n")
}

// Loader loads configurations. It is safe to reuse.
type Loader struct {
	reader  *resourcefile.Reader
	planner *plan.Planner // resolves against the shipped mappings
	maps    mappingSource
}

// NewLoader prepares a loader with the connector defaults.
func NewLoader(d plan.Defaults) (*Loader, error) {
	r, err := resourcefile.NewReader()
	if err != nil {
		return nil, err
	}
	p, err := plan.NewPlanner(d)
	if err != nil {
		return nil, err
	}
	maps, err := newMappingSource()
	if err != nil {
		return nil, err
	}
	return &Loader{reader: r, planner: p.WithLibrary(maps.shippedLib.Plan()), maps: maps}, nil
}

// ForSettings is the loader the connector settings call for: their
// defaults and mapping files.
func ForSettings(s *settings.Settings) (*Loader, error) {
	l, err := NewLoader(plan.Defaults{SamplingInterval: s.DefaultSamplingInterval, RequestTimeout: s.RequestTimeout})
	if err != nil {
		return nil, err
	}
	return l.WithMappings(s.Mappings), nil
}

// Planner is the planner the loader builds with.
func (l *Loader) Planner() *plan.Planner { return l.planner }

// LoadDir loads every resource file in dir of fsys. display is how the
// folder is named in errors. The error, if any, is an Errors.
func (l *Loader) LoadDir(fsys fs.FS, dir, display string) (*Config, error) {
	lib, merrs := l.maps.load(fsys, dir, display)
	withLib := *l
	withLib.planner = l.planner.WithLibrary(lib.Plan())
	res, errs := l.reader.ReadDir(fsys, dir, display)
	cfg, perrs := withLib.Build(res)
	errs = append(errs, perrs...)
	if len(errs)+len(merrs) > 0 {
		yamlfile.SortErrors(errs)
		return nil, Errors(append(merrs, errs...))
	}
	cfg.Mappings = lib
	cfg.Resources = len(res)
	cfg.Skipped = l.skipped(fsys, dir)
	return cfg, nil
}

// skipped lists the subfolders of dir that a load does not read, hidden
// ones (.git, Kubernetes' ..data) left out.
func (l *Loader) skipped(fsys fs.FS, dir string) []string {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir(), strings.HasPrefix(name, "."):
		case name == DefaultMappingsFolder && len(l.maps.paths) == 0:
		default:
			out = append(out, name)
		}
	}
	return out
}

// Empty says the folder held no Device or Asset resource.
func (c *Config) Empty() bool { return c.Resources == 0 }

// WhyEmpty says, for an empty configuration of the folder display, where
// resources are looked for and which subfolders were not read.
func (c *Config) WhyEmpty(display string) string {
	msg := display + ": no Device or Asset resources: only the *.yaml, *.yml and *.json files directly in the folder are read"
	if len(c.Skipped) > 0 {
		msg += "; not its subfolders " + strings.Join(c.Skipped, ", ") + " (point --config at the folder that holds the resources)"
	}
	return msg
}

// Build checks references between resources and plans every asset.
func (l *Loader) Build(res []*resourcefile.Resource) (*Config, []error) {
	var errs []error
	devices := map[string]*resourcefile.Resource{}
	var assets []*resourcefile.Resource
	assetNames := map[string]*resourcefile.Resource{}
	for _, r := range res {
		switch r.Kind {
		case resourcefile.KindDevice:
			if prev, dup := devices[r.Name]; dup {
				errs = append(errs, fileError(r, fmt.Sprintf("device %q", r.Name), "metadata.name", fmt.Sprintf("defined twice (also %s:%d)", prev.File, prev.Line), ""))
				continue
			}
			devices[r.Name] = r
		case resourcefile.KindAsset:
			if prev, dup := assetNames[r.Name]; dup {
				errs = append(errs, fileError(r, fmt.Sprintf("asset %q", r.Name), "metadata.name", fmt.Sprintf("defined twice (also %s:%d)", prev.File, prev.Line), ""))
				continue
			}
			assetNames[r.Name] = r
			assets = append(assets, r)
		}
	}
	// Which endpoint each asset samples, and which asset plans it: the
	// first that names it.
	type job struct {
		ar, dr  *resourcefile.Resource
		key     string
		err     error // the device or endpoint reference does not resolve
		first   bool  // plans the endpoint
		ep      *plan.Endpoint
		epProbs plan.Problems
		asset   *plan.Asset
		probs   plan.Problems
	}
	jobs := make([]job, len(assets))
	firsts := map[string]int{}
	for i, ar := range assets {
		j := &jobs[i]
		j.ar = ar
		ref := ar.Asset.DeviceRef
		dr, ok := devices[ref.DeviceName]
		if !ok {
			j.err = fileError(ar, fmt.Sprintf("asset %q", ar.Name), "spec.deviceRef.deviceName", fmt.Sprintf("no device %q in the configuration%s", ref.DeviceName, known(devices)), "")
			continue
		}
		j.dr, j.key = dr, ref.DeviceName+"/"+ref.EndpointName
		if _, seen := firsts[j.key]; seen {
			continue
		}
		if dr.Device.Inbound(ref.EndpointName) == nil {
			j.err = fileError(ar, fmt.Sprintf("asset %q", ar.Name), "spec.deviceRef.endpointName", fmt.Sprintf("device %q has no inbound endpoint %q%s", ref.DeviceName, ref.EndpointName, endpointNames(dr)), "")
			continue
		}
		firsts[j.key] = i
		j.first = true
	}
	// Planning is most of the work: endpoints, then assets, in parallel.
	parallel(len(jobs), func(i int) {
		if j := &jobs[i]; j.first {
			j.ep, j.epProbs = l.planner.Endpoint(j.dr.Name, j.dr.Device, j.ar.Asset.DeviceRef.EndpointName)
		}
	})
	parallel(len(jobs), func(i int) {
		if j := &jobs[i]; j.err == nil {
			j.asset, j.probs = l.planner.Asset(j.ar.Name, j.ar.Asset, jobs[firsts[j.key]].ep)
		}
	})
	// Problems and assets in asset order.
	cfg := &Config{Endpoints: map[string]*plan.Endpoint{}}
	for i := range jobs {
		j := &jobs[i]
		if j.err != nil {
			errs = append(errs, j.err)
			continue
		}
		if j.first {
			for _, p := range j.epProbs {
				errs = append(errs, fileError(j.dr, fmt.Sprintf("device %q", j.dr.Name), p.Path, p.Message, p.Detail))
			}
			cfg.Endpoints[j.key] = j.ep // nil when broken: reported once
			cfg.note(j.ep)
		}
		for _, p := range j.probs {
			errs = append(errs, fileError(j.ar, AssetContext(j.ar.Name, j.ar.Asset, p.Path), p.Path, p.Message, p.Detail))
		}
		if len(j.probs) > 0 || cfg.Endpoints[j.key] == nil {
			continue
		}
		cfg.noteUnsupported(j.ar.Name, j.ar.Asset)
		switch {
		case !j.dr.Device.IsEnabled():
			cfg.Disabled = append(cfg.Disabled, fmt.Sprintf("asset %q: device %q is disabled", j.ar.Name, j.ar.Asset.DeviceRef.DeviceName))
		case !j.asset.Enabled:
			cfg.Disabled = append(cfg.Disabled, fmt.Sprintf("asset %q is disabled", j.ar.Name))
		}
		cfg.Assets = append(cfg.Assets, j.asset)
	}
	return cfg, errs
}

// noteUnsupported notes the event groups and streams of an asset, which
// the connector does not serve.
func (c *Config) noteUnsupported(name string, a *adr.Asset) {
	for _, g := range a.EventGroups {
		c.Notes = append(c.Notes, fmt.Sprintf("asset %q event group %q: event groups are not supported by this connector", name, g.Name))
	}
	for _, st := range a.Streams {
		c.Notes = append(c.Notes, fmt.Sprintf("asset %q stream %q: streams are not supported by this connector", name, st.Name))
	}
	for _, g := range a.ManagementGroups {
		c.Notes = append(c.Notes, fmt.Sprintf("asset %q management group %q: management actions are RPC commands of the AIO broker, served in Akri mode only", name, g.Name))
	}
}

// note notes what the configuration of ep holds that is not ours.
func (c *Config) note(ep *plan.Endpoint) {
	if ep != nil && len(ep.Config.Ignored) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("device %q endpoint %q: additionalConfiguration: %s not used by http-connector",
			ep.Device, ep.Name, strings.Join(ep.Config.Ignored, ", ")))
	}
}

// parallel calls f(0) … f(n-1) on as many goroutines as there are
// processors and returns when every call has.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// AssetContext names the asset and, when the path is in a dataset, the
// dataset and data point a problem is about:
// `asset "a" dataset "d" data point "p"`.
func AssetContext(name string, a *adr.Asset, path string) string {
	s := fmt.Sprintf("asset %q", name)
	var i, j int
	if n, _ := fmt.Sscanf(path, "spec.datasets[%d]", &i); n == 1 && i < len(a.Datasets) {
		ds := &a.Datasets[i]
		s += fmt.Sprintf(" dataset %q", ds.Name)
		rest := strings.TrimPrefix(path, fmt.Sprintf("spec.datasets[%d]", i))
		if n, _ := fmt.Sscanf(rest, ".dataPoints[%d]", &j); n == 1 && j < len(ds.DataPoints) {
			s += fmt.Sprintf(" data point %q", ds.DataPoints[j].Name)
		}
	}
	return s
}

func fileError(r *resourcefile.Resource, context, path, msg, detail string) error {
	return &yamlfile.Error{File: r.File, Line: r.LineOf(path), Context: context, Path: path, Message: msg, Detail: detail}
}

func known(devices map[string]*resourcefile.Resource) string {
	if len(devices) == 0 {
		return " (it has no devices)"
	}
	names := make([]string, 0, len(devices))
	for n := range devices {
		names = append(names, fmt.Sprintf("%q", n))
	}
	sort.Strings(names)
	return " (devices: " + strings.Join(names, ", ") + ")"
}

func endpointNames(r *resourcefile.Resource) string {
	if r.Device.Endpoints == nil || len(r.Device.Endpoints.Inbound) == 0 {
		return " (it has none)"
	}
	var names []string
	for n := range r.Device.Endpoints.Inbound {
		names = append(names, fmt.Sprintf("%q", n))
	}
	sort.Strings(names)
	return " (it has " + strings.Join(names, ", ") + ")"
}

// Active returns the assets that are sampled: enabled, on an enabled device.
func (c *Config) Active() []*plan.Asset {
	var out []*plan.Asset
	for _, a := range c.Assets {
		if a.Enabled && a.Endpoint.Enabled {
			out = append(out, a)
		}
	}
	return out
}
