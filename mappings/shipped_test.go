package mappings_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/schemas"
)

var update = flag.Bool("update", false, "rewrite the expected files of testdata")

func newReader(t testing.TB) *mappingfile.Reader {
	t.Helper()
	r, err := mappingfile.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func shipped(t testing.TB) *mappingfile.Library {
	t.Helper()
	files, err := newReader(t).Shipped()
	if err != nil {
		t.Fatal(err)
	}
	lib, errs := mappingfile.NewLibrary(files...)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return lib
}

// TestShipped runs the test cases of every shipped mapping, and checks
// that each has some and that the library holds the documented names.
func TestShipped(t *testing.T) {
	lib := shipped(t)
	var names []string
	for _, m := range lib.Mappings() {
		names = append(names, m.Name)
		if len(m.Tests) == 0 {
			t.Errorf("%s (%s) has no test cases", m.Name, m.Where)
		}
		if m.Description == "" && !strings.HasPrefix(m.Name, "units/") {
			t.Errorf("%s (%s) has no description", m.Name, m.Where)
		}
		for _, tc := range m.Tests {
			if res := m.RunTest(context.Background(), tc); !res.Passed() {
				t.Errorf("%s: %s: %s\n%s", m.Name, tc.Name, res.Failure, res.Diff)
			}
		}
	}
	for _, want := range []string{
		"thermostat/status", "thermostat/celsius",
		"flatten/dotted", "flatten/underscored",
		"fanout/readings", "fanout/members",
		"metadata/envelope", "metadata/stamp", "metadata/attributes",
		"units/fahrenheit-to-celsius", "units/celsius-to-fahrenheit",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("the shipped library has no %s (it has %s)", want, strings.Join(names, ", "))
		}
	}
	for _, m := range lib.Mappings() {
		if m.Where != mappingfile.ShippedPrefix+m.Name[:strings.IndexByte(m.Name, '/')]+".yaml:"+strconv.Itoa(m.Line) {
			t.Errorf("%s: where is %q, want its shipped file and line", m.Name, m.Where)
		}
	}
}

// The configuration schemas name shipped mappings in their documentation:
// those names exist, with the kind the field takes.
func TestSchemasNameShippedMappings(t *testing.T) {
	lib := shipped(t)
	name := regexp.MustCompile(`\b[a-z]+/[a-z-]+\b`)
	for file, kind := range map[string]plan.MappingKind{
		schemas.DatasetConfiguration:   plan.DatasetMapping,
		schemas.DataPointConfiguration: plan.DataPointMapping,
	} {
		b, err := schemas.File(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Properties map[string]struct {
				Description string `json:"description"`
				Examples    []any  `json:"examples"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		field := doc.Properties["mapping"]
		names := name.FindAllString(field.Description, -1)
		for _, ex := range field.Examples {
			names = append(names, ex.(string))
		}
		if len(names) == 0 {
			t.Errorf("%s: the mapping field names no shipped mapping", file)
		}
		for _, n := range names {
			if n == "namespace/name" {
				continue
			}
			if m := lib.Lookup(n); m == nil || m.Kind != kind {
				t.Errorf("%s: the mapping field names %s, which is not shipped as %s", file, n, kind.Describe())
			}
		}
	}
}
