package resourcefile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/resourcefile"
)

const asset = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: %s
spec:
  deviceRef:
    deviceName: d
    endpointName: rest
  datasets:
    - name: s
      datasetConfiguration: '{"samplingInterval": 1000}'
      dataPoints:
        - name: p
          dataSource: /x
`

// TestLineOf checks the lines of fields, which are found again only when a
// problem needs one: in documents after the first, in List items (aliased
// ones at their anchor's line). Paths into configuration strings and other paths
// the file does not hold end at the deepest field it does.
func TestLineOf(t *testing.T) {
	list := "apiVersion: v1\nkind: List\nx: &a\n  apiVersion: namespaces.deviceregistry.microsoft.com/v1\n  kind: Device\n  metadata: {name: e}\n  spec: {}\nitems:\n" +
		"  - apiVersion: namespaces.deviceregistry.microsoft.com/v1\n    kind: Device\n    metadata: {name: d}\n    spec:\n      enabled: true\n  - *a\n"
	for _, c := range []struct {
		name, file string
		resource   int
		line       int // of the resource
		lines      map[string]int
	}{
		{
			name: "second document", file: "---\n# c\n\n" + fmt.Sprintf(asset, "a") + "---\n" + fmt.Sprintf(asset, "b"), resource: 1, line: 19,
			lines: map[string]int{
				"":                 19,
				"metadata.name":    22,
				"spec":             23,
				"spec.deviceRef":   24,
				"spec.datasets[0]": 28,
				"spec.datasets[0].dataPoints[0].dataSource":                32,
				"spec.datasets[0].dataPoints[0].dataPointConfiguration.jq": 31,
				"spec.datasets[0].datasetConfiguration.samplingInterval":   29,
				"spec.datasets[7].name":                                    27,
				`spec["a.b"]`:                                              23,
			},
		},
		{
			name: "list item", file: list, resource: 0, line: 9,
			lines: map[string]int{"": 9, "kind": 10, "metadata.name": 11, "spec.enabled": 13, "items": 9, "x": 9},
		},
		{
			name: "aliased list item", file: list, resource: 1, line: 3,
			lines: map[string]int{"": 3, "kind": 5, "metadata.name": 6, "spec": 7, "spec.enabled": 7},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := resourcefile.NewReader()
			if err != nil {
				t.Fatal(err)
			}
			res, errs := r.Read("f.yaml", []byte(c.file))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got := res[c.resource]
			if got.Line != c.line {
				t.Errorf("resource line: got %d, want %d", got.Line, c.line)
			}
			for path, want := range c.lines {
				if l := got.LineOf(path); l != want {
					t.Errorf("LineOf(%q) = %d, want %d", path, l, want)
				}
			}
		})
	}
}

// The problems of a resource name the lines of their fields, in List items
// too, and a top-level key "" its own line.
func TestProblemLines(t *testing.T) {
	for _, c := range []struct{ name, file, want string }{
		{
			name: "list items",
			file: "kind: List\nitems:\n  - kind: Device\n    metadata: {name: a}\n    spec:\n      enabled: 1\n  - kind: Device\n    metadata: {name: b}\n    spec: {}\n    x: 1\n",
			want: `f.yaml:3: device "a": items[0]: missing properties: 'apiVersion'
f.yaml:6: device "a": items[0].spec.enabled: expected boolean, but got number
f.yaml:7: device "b": items[1]: missing properties: 'apiVersion'
f.yaml:10: device "b": items[1].x: unknown field`,
		},
		{
			name: "top-level empty key",
			file: "kind: Device\nmetadata: {name: d}\n\"\": 1\nspec: {}\n",
			want: `f.yaml:1: device "d": missing properties: 'apiVersion'
f.yaml:3: device "d": [""]: unknown field`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := resourcefile.NewReader()
			if err != nil {
				t.Fatal(err)
			}
			_, errs := r.Read("f.yaml", []byte(c.file))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if s := strings.Join(got, "\n"); s != c.want {
				t.Errorf("got\n%s\nwant\n%s", s, c.want)
			}
		})
	}
}
