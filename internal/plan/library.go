package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/http-connector/http-connector/internal/mapping"
)

// MappingKind says what a named mapping shapes. Each kind is compiled with
// its own variables, so a mapping of one kind cannot stand in for the other.
type MappingKind string

// Kinds of named mappings.
const (
	DatasetMapping   MappingKind = "dataset"   // builds the dataset messages
	DataPointMapping MappingKind = "dataPoint" // takes a data point's value from its response
)

// Variables are the jq variables of a kind, in the order Run takes them.
func (k MappingKind) Variables() []string {
	if k == DataPointMapping {
		return PointVariables
	}
	return DatasetVariables
}

// Describe names the kind in messages: "a dataset mapping".
func (k MappingKind) Describe() string {
	if k == DataPointMapping {
		return "a data point mapping"
	}
	return "a dataset mapping"
}

// Mapping is a named mapping of a mapping file, compiled for its kind.
type Mapping struct {
	Name    string // namespace/name
	Kind    MappingKind
	Program *mapping.Program // nil when the mapping file has errors
	Where   string           // "mappings/thermostat.yaml:12", for messages
	// Fingerprint changes whenever the program or the definitions it is
	// compiled with do; it is part of the fingerprint of assets using it.
	Fingerprint string
}

// Library holds the named mappings that configurations refer to with
// "mapping": "namespace/name".
type Library map[string]*Mapping

// WithLibrary returns a planner that resolves mapping references against
// lib. The planner it is called on is not changed.
func (pl *Planner) WithLibrary(lib Library) *Planner {
	cp := *pl
	cp.library = lib
	return &cp
}

// resolve looks up the mapping a configuration names for want, or says why
// it cannot be used.
func (pl *Planner) resolve(name string, want MappingKind) (*Mapping, error) {
	m, ok := pl.library[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("unknown mapping %q%s", name, pl.library.suggest(name))
	case m.Kind != want:
		return nil, fmt.Errorf("mapping %q (%s) is %s: here it must be %s", name, m.Where, m.Kind.Describe(), want.Describe())
	case m.Program == nil:
		return nil, fmt.Errorf("mapping %q could not be loaded: see the errors of %s", name, m.Where)
	}
	return m, nil
}

// suggest lists the names of name's namespace, or the namespaces.
func (lib Library) suggest(name string) string {
	ns, _, _ := strings.Cut(name, "/")
	var same []string
	spaces := map[string]bool{}
	for n := range lib {
		s, _, _ := strings.Cut(n, "/")
		spaces[s] = true
		if s == ns {
			same = append(same, n)
		}
	}
	if len(same) > 0 {
		sort.Strings(same)
		return " (namespace " + ns + " has " + strings.Join(same, ", ") + ")"
	}
	if len(spaces) == 0 {
		return " (the mapping library is empty)"
	}
	names := make([]string, 0, len(spaces))
	for s := range spaces {
		names = append(names, s)
	}
	sort.Strings(names)
	return " (namespaces: " + strings.Join(names, ", ") + ")"
}

// Library is the planner's library of named mappings; never modified.
func (pl *Planner) Library() Library { return pl.library }
