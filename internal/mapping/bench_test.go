package mapping

import (
	"context"
	"encoding/json"
	"testing"
)

// BenchmarkRun runs compiled programs on a decoded /status response, with
// the variables a dataset program gets.
func BenchmarkRun(b *testing.B) {
	input := map[string]any{"currentTemperature": json.Number("71.3"), "desiredTemperature": json.Number("72.5"), "power": "on"}
	cases := []struct{ name, src string }{
		{"member", ".currentTemperature"},
		{"object", "{temperature: .currentTemperature, setpoint: .desiredTemperature, asset: $asset, time: $timestamp}"},
		{"arithmetic", "(.currentTemperature - 32) * 5 / 9 | . * 10 | round / 10"},
	}
	for _, tc := range cases {
		p, err := Compile(tc.src, Options{Variables: []string{"asset", "dataset", "timestamp"}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.One(ctx, input, "thermostat-00001", "thermostat_status", "2026-01-01T00:00:00.000Z"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
