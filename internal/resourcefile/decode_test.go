package resourcefile

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/yamlfile"
)

// specSeeds are specs that take each way through decode: what assign takes
// on, and what it leaves to encoding/json.
var specSeeds = []string{
	`{deviceRef: {deviceName: d, endpointName: rest}, datasets: [{name: a, dataPoints: [{name: p, dataSource: /x}], destinations: [{target: Mqtt, configuration: {topic: t, ttl: 30}}]}], attributes: {k: v}, enabled: false, version: 3}`,
	`{endpoints: {inbound: {rest: {address: "http://h", endpointType: Microsoft.Http, authentication: {method: Anonymous}}}}, version: 1, enabled: true}`,
	`{datasets: [], assetTypeRefs: [], attributes: {}}`,
	`{version: 18446744073709551616}`,
	`{version: -1}`,
	`{version: 1.5}`,
	`{version: 1e3}`,
	`{version: 1000, enabled: true, description: "1e3"}`,
	`{version: "1"}`,
	`{version: null}`,
	`{enabled: null, attributes: null, datasets: null}`,
	`{DeviceRef: {deviceName: d}}`,
	`{deviceRef: {DEVICENAME: d}}`,
	`{unknown: 1}`,
	`{lastTransitionTime: "2024-01-02T03:04:05Z"}`,
	`{lastTransitionTime: "yesterday"}`,
	`{eventGroups: [{name: e, x: [1, "<&>"]}], endpoints: {outbound: {a: 1}}}`,
	`{attributes: {k: 1}}`,
	`{datasets: [{name: 1}]}`,
	`{datasets: {name: a}}`,
	`{enabled: "true"}`,
	`{"": 1}`,
	`[1, 2]`,
	`"spec"`,
}

// FuzzDecode checks decode against what it stands in for: encoding/json
// decoding the JSON text of the spec, strictly. Whatever assign takes on,
// it must decode to the same value; everything else must come out of
// decode as encoding/json has it, error included.
func FuzzDecode(f *testing.F) {
	for _, s := range specSeeds {
		f.Add([]byte(s))
	}
	_ = filepath.WalkDir("../config/testdata", func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && IsResourceFile(path) {
			if b, err := os.ReadFile(path); err == nil && len(b) < 16<<10 {
				f.Add(b)
			}
		}
		return nil
	})
	d := newSpecDecoder(reflect.TypeFor[adr.Device](), reflect.TypeFor[adr.Asset]())
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, _ := yamlfile.Read("fuzz.yaml", data)
		for _, doc := range docs[:min(len(docs), 4)] {
			v := doc.Value
			specs := []any{v}
			if m, ok := v.(map[string]any); ok && m["spec"] != nil {
				specs = append(specs, m["spec"])
			}
			for _, spec := range specs {
				checkDecode[adr.Device](t, d, spec)
				checkDecode[adr.Asset](t, d, spec)
			}
		}
	})
}

func TestDecodeSeeds(t *testing.T) {
	d := newSpecDecoder(reflect.TypeFor[adr.Device](), reflect.TypeFor[adr.Asset]())
	took := 0
	for _, s := range specSeeds {
		docs, errs := yamlfile.Read("seed.yaml", []byte(s))
		if len(errs) > 0 || len(docs) != 1 {
			t.Fatalf("%s: %v", s, errs)
		}
		spec := docs[0].Value
		var a adr.Asset
		if d.assign(reflect.ValueOf(&a).Elem(), spec) {
			took++
		}
		checkDecode[adr.Device](t, d, spec)
		checkDecode[adr.Asset](t, d, spec)
	}
	if took < 3 {
		t.Errorf("assign took on %d seeds as assets, want at least 3", took)
	}
}

func checkDecode[T any](t *testing.T, d specDecoder, spec any) {
	t.Helper()
	var want T
	b, _ := json.Marshal(spec)
	jd := json.NewDecoder(bytes.NewReader(b))
	jd.DisallowUnknownFields()
	wantErr := jd.Decode(&want)

	var fast T
	if d.assign(reflect.ValueOf(&fast).Elem(), spec) {
		if wantErr != nil {
			t.Fatalf("%s: assign took on what encoding/json rejects: %v", b, wantErr)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%s: assign got %+v, encoding/json %+v", b, fast, want)
		}
	}
	var got T
	err := d.decode(spec, &got)
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%s: decode error %v, want %v", b, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: decode got %+v, want %+v", b, got, want)
	}
}
