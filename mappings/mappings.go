// Package mappings holds the mapping files shipped with the connector, its
// library of named jq mappings (thermostat, flatten, fanout, units,
// metadata), embedded in the binary. They are read by
// internal/mappingfile; their test cases and golden folders are tested
// here. README.md is the integrators' guide.
package mappings

import "embed"

// Files are the shipped mapping files: the YAML files of this folder.
//
//go:embed *.yaml
var Files embed.FS
