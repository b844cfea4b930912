package settings_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/http-connector/http-connector/internal/settings"
)

func TestMappingsSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(file, []byte("mappings: [site/mappings, shared/units.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  settings.Sources
		want []string
	}{
		{"unset", settings.Sources{}, nil},
		{"settings file list", settings.Sources{File: file}, []string{"site/mappings", "shared/units.yaml"}},
		{"environment, comma-separated", settings.Sources{File: file, Environ: []string{"HTTP_CONNECTOR_MAPPINGS=a,b/c.yaml"}}, []string{"a", "b/c.yaml"}},
		{"flag over environment", settings.Sources{Environ: []string{"HTTP_CONNECTOR_MAPPINGS=a"}, Flags: map[string]any{"mappings": "x"}}, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settings.Load(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Mappings, tt.want) {
				t.Errorf("mappings: got %q, want %q", s.Mappings, tt.want)
			}
		})
	}
}
