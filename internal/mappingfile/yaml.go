package mappingfile

import (
	"github.com/http-connector/http-connector/internal/yamlfile"
)

// document is a read mapping file: where its fields are.
type document struct {
	file   string
	fields *yamlfile.Fields
}
