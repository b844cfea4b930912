package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/http-connector/http-connector/internal/config"
)

const mappedDevice = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: dev}
spec:
  endpoints:
    inbound:
      rest: {address: "http://127.0.0.1:8080", endpointType: Microsoft.Http}
`

const mappedAssets = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: uses}
spec:
  deviceRef: {deviceName: dev, endpointName: rest}
  defaultDatasetsConfiguration: '{"mapping": "site/status"}'
  defaultDatasetsDestinations: [{target: Mqtt, configuration: {topic: t}}]
  datasets:
    - name: default
      dataPoints: [{name: p, dataSource: /p, dataPointConfiguration: '{"mapping": "site/value"}'}]
    - name: own-jq
      datasetConfiguration: '{"jq": "."}'
      dataPoints: [{name: p, dataSource: /p}]
    - name: shipped
      datasetConfiguration: '{"mapping": "metadata/envelope"}'
      dataPoints: [{name: p, dataSource: /p}]
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: other}
spec:
  deviceRef: {deviceName: dev, endpointName: rest}
  defaultDatasetsDestinations: [{target: Mqtt, configuration: {topic: t}}]
  datasets:
    - name: plain
      dataPoints: [{name: p, dataSource: /p}]
`

func mappedFS(status string) fstest.MapFS {
	return fstest.MapFS{
		"device.yaml": {Data: []byte(mappedDevice)},
		"assets.yaml": {Data: []byte(mappedAssets)},
		"mappings/site.yaml": {Data: []byte(`namespace: site
mappings:
  status: {kind: dataset, jq: '` + status + `'}
  value: {kind: dataPoint, jq: .p}
`)},
	}
}

func TestMappingReferences(t *testing.T) {
	l := newLoader(t)
	cfg, err := l.LoadDir(mappedFS("{v: .p}"), ".", "site")
	if err != nil {
		t.Fatal(err)
	}
	uses := cfg.Assets[0]
	byName := map[string]string{}
	for _, d := range uses.Datasets {
		byName[d.Name] = d.MappingName
		if d.Mapping == nil {
			t.Errorf("dataset %s has no mapping", d.Name)
		}
	}
	want := map[string]string{"default": "site/status", "own-jq": "", "shipped": "metadata/envelope"}
	for name, m := range want {
		if byName[name] != m {
			t.Errorf("dataset %s: mapping %q, want %q", name, byName[name], m)
		}
	}
	if p := uses.Datasets[0].Points[0]; p.MappingName != "site/value" || p.Mapping == nil {
		t.Errorf("data point mapping: got %q", p.MappingName)
	}
	if cfg.Mappings.Lookup("site/status") == nil || cfg.Mappings.Lookup("thermostat/status") == nil {
		t.Error("the configuration's library lacks the user's or the shipped mappings")
	}
	if got := uses.Datasets[0].AssetAttributes; got == nil {
		t.Error("datasets have no $assetAttributes object")
	}

	// A changed mapping restarts the assets that use it, and only those.
	same, err := l.LoadDir(mappedFS("{v: .p}"), ".", "site")
	if err != nil {
		t.Fatal(err)
	}
	changed, err := l.LoadDir(mappedFS("{v: .p, unit: \"C\"}"), ".", "site")
	if err != nil {
		t.Fatal(err)
	}
	if same.Assets[0].Fingerprint != uses.Fingerprint {
		t.Error("the same configuration has another fingerprint")
	}
	if changed.Assets[0].Fingerprint == uses.Fingerprint {
		t.Error("a changed mapping file does not change the fingerprint of the asset using it")
	}
	if changed.Assets[1].Fingerprint != cfg.Assets[1].Fingerprint {
		t.Error("a changed mapping file changes the fingerprint of an asset not using it")
	}
}

// Given mapping paths replace the configuration's mappings folder.
func TestWithMappings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "elsewhere.yaml")
	if err := os.WriteFile(file, []byte("namespace: site\nmappings:\n  status: {kind: dataset, jq: .}\n  value: {kind: dataPoint, jq: .}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys := mappedFS("this is not jq (")
	l := newLoader(t).WithMappings([]string{file})
	cfg, err := l.LoadDir(fsys, ".", "site")
	if err != nil {
		t.Fatalf("the mappings folder was read although paths were given: %v", err)
	}
	if m := cfg.Mappings.Lookup("site/status"); m == nil || m.File != filepath.ToSlash(file) {
		t.Errorf("site/status: got %+v, want it from %s", m, file)
	}
	if got := l.MappingPaths("cfg"); len(got) != 1 || got[0] != file {
		t.Errorf("mapping paths: got %q", got)
	}
	if got := newLoader(t).MappingPaths("cfg"); len(got) != 1 || got[0] != filepath.Join("cfg", config.DefaultMappingsFolder) {
		t.Errorf("default mapping paths: got %q", got)
	}

	_, err = newLoader(t).WithMappings([]string{filepath.Join(dir, "missing")}).LoadDir(fsys, ".", "site")
	if err == nil || err.Error() == "" {
		t.Fatal("a missing mapping path is not an error")
	}
	want := "mappings " + filepath.ToSlash(filepath.Join(dir, "missing")) + ": "
	if errs := err.(config.Errors); !strings.HasPrefix(errs[0].Error(), want) || !errors.Is(errs[0], fs.ErrNotExist) {
		t.Errorf("missing path: got %q, want %q and does not exist", errs[0], want)
	}
}
