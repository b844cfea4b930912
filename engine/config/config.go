// Package config is the one load path of a standalone configuration: it
// reads a folder of Device and Asset resource files, checks references across
// them and builds the sampling plans. run, validate, try and demo all load
// through here, and nothing here touches the network.
package config

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/http-connector/http-connector/engine/adr"
	"github.com/http-connector/http-connector/engine/plan"
	"github.com/http-connector/http-connector/engine/resourcefile"
	"github.com/http-connector/http-connector/mappings"
)

// Config is a loaded, validated configuration.
type Config struct {
	Endpoints map[string]*plan.Endpoint // by Endpoint.Key()
	Assets    []*plan.Asset             // in file order; disabled ones included
	Disabled  []string                  // why assets are not sampled, one line each
	Mappings  *mappings.Library         // the mapping library references resolved against
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
		resourcefile.SortErrors(errs)
		return nil, Errors(append(merrs, errs...))
	}
	cfg.Mappings = lib
	return cfg, nil
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
	cfg := &Config{Endpoints: map[string]*plan.Endpoint{}}
	for _, ar := range assets {
		a := ar.Asset
		ref := a.DeviceRef
		dr, ok := devices[ref.DeviceName]
		if !ok {
			errs = append(errs, fileError(ar, fmt.Sprintf("asset %q", ar.Name), "spec.deviceRef.deviceName", fmt.Sprintf("no device %q in the configuration%s", ref.DeviceName, known(devices)), ""))
			continue
		}
		key := ref.DeviceName + "/" + ref.EndpointName
		ep, seen := cfg.Endpoints[key]
		if !seen {
			if dr.Device.Inbound(ref.EndpointName) == nil {
				errs = append(errs, fileError(ar, fmt.Sprintf("asset %q", ar.Name), "spec.deviceRef.endpointName", fmt.Sprintf("device %q has no inbound endpoint %q%s", ref.DeviceName, ref.EndpointName, endpointNames(dr)), ""))
				continue
			}
			var probs plan.Problems
			ep, probs = l.planner.Endpoint(dr.Name, dr.Device, ref.EndpointName)
			for _, p := range probs {
				errs = append(errs, fileError(dr, fmt.Sprintf("device %q", dr.Name), p.Path, p.Message, p.Detail))
			}
			cfg.Endpoints[key] = ep // nil when broken: reported once
		}
		asset, probs := l.planner.Asset(ar.Name, a, ep)
		for _, p := range probs {
			errs = append(errs, fileError(ar, AssetContext(ar.Name, a, p.Path), p.Path, p.Message, p.Detail))
		}
		if len(probs) > 0 || ep == nil {
			continue
		}
		switch {
		case !dr.Device.IsEnabled():
			cfg.Disabled = append(cfg.Disabled, fmt.Sprintf("asset %q: device %q is disabled", ar.Name, ref.DeviceName))
		case !asset.Enabled:
			cfg.Disabled = append(cfg.Disabled, fmt.Sprintf("asset %q is disabled", ar.Name))
		}
		cfg.Assets = append(cfg.Assets, asset)
	}
	return cfg, errs
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
	return &resourcefile.Error{File: r.File, Line: r.LineOf(path), Context: context, Path: path, Message: msg, Detail: detail}
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
