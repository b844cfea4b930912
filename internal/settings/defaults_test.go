package settings_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/publish"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/schemas"
)

// The connector's defaults are set in one place, settings.Defaults. The
// packages fall back on their own when used without settings, and the JSON
// Schemas document them: every one must say the same.
func TestDefaultsAgree(t *testing.T) {
	d := settings.Defaults()
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"plan.DefaultSamplingInterval", plan.DefaultSamplingInterval, d.DefaultSamplingInterval},
		{"plan.DefaultRequestTimeout", plan.DefaultRequestTimeout, d.RequestTimeout},
		{"fetch.DefaultMaxResponseBytes", int64(fetch.DefaultMaxResponseBytes), d.MaxResponseBytes},
		{"fetch.DefaultMaxConns", fetch.DefaultMaxConns, d.MaxConnsPerDevice},
		{"publish.DefaultQueueSize", publish.DefaultQueueSize, d.PublishQueueSize},
		{"publish.DefaultInflight", publish.DefaultInflight, d.PublishInflight},
		{"publish.DefaultOverflow", publish.DefaultOverflow, d.PublishOverflow},
		{"connector.FromSettings(defaults).ShutdownTimeout", connector.FromSettings(&d, nopLogger).ShutdownTimeout, d.ShutdownTimeout},
		{"dataset-configuration samplingInterval default", schemaDefault(t, schemas.DatasetConfiguration, "samplingInterval"), float64(d.DefaultSamplingInterval / time.Millisecond)},
		{"datapoint-configuration HttpRequestMethod default", schemaDefault(t, schemas.DataPointConfiguration, "HttpRequestMethod"), plan.DefaultMethod},
	} {
		if c.got != c.want {
			t.Errorf("%s is %v, want %v as in settings.Defaults", c.what, c.got, c.want)
		}
	}
}

// schemaDefault is the default a configuration schema gives a property.
func schemaDefault(t *testing.T, file, property string) any {
	t.Helper()
	b, err := schemas.File(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties map[string]struct {
			Default any `json:"default"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Properties[property].Default
}

var nopLogger = zerolog.Nop()
