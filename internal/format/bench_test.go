package format_test

import (
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

// inverterXML is the status of a PV inverter, as such devices serve it:
// about 20 values, attributes, and a repeated element.
const inverterXML = `<?xml version="1.0" encoding="UTF-8"?>
<inverter id="INV-0042" model="SX-5000" firmware="3.12.7">
  <status state="running" since="2024-05-14T06:12:33Z">
    <mode>grid-tied</mode>
    <alarmCount>0</alarmCount>
  </status>
  <ac>
    <voltage unit="V">230.4</voltage>
    <current unit="A">12.87</current>
    <power unit="W">2965</power>
    <frequency unit="Hz">50.02</frequency>
    <powerFactor>0.99</powerFactor>
  </ac>
  <dc>
    <string index="1"><voltage unit="V">412.3</voltage><current unit="A">3.61</current></string>
    <string index="2"><voltage unit="V">409.8</voltage><current unit="A">3.58</current></string>
  </dc>
  <energy>
    <today unit="kWh">18.42</today>
    <total unit="kWh">48213.7</total>
  </energy>
  <temperature sensor="heatsink" unit="C">47.5</temperature>
  <temperature sensor="ambient" unit="C">23.1</temperature>
  <fan rpm="2450">on</fan>
  <grid connected="true"><exportLimit unit="W">5000</exportLimit></grid>
</inverter>
`

// inverterJSON is the same status as JSON, as the XML parser reads it.
const inverterJSON = `{
  "inverter": {
    "@id": "INV-0042", "@model": "SX-5000", "@firmware": "3.12.7",
    "status": {"@state": "running", "@since": "2024-05-14T06:12:33Z", "mode": "grid-tied", "alarmCount": 0},
    "ac": {
      "voltage": {"@unit": "V", "#text": 230.4},
      "current": {"@unit": "A", "#text": 12.87},
      "power": {"@unit": "W", "#text": 2965},
      "frequency": {"@unit": "Hz", "#text": 50.02},
      "powerFactor": 0.99
    },
    "dc": {
      "string": [
        {"@index": 1, "voltage": {"@unit": "V", "#text": 412.3}, "current": {"@unit": "A", "#text": 3.61}},
        {"@index": 2, "voltage": {"@unit": "V", "#text": 409.8}, "current": {"@unit": "A", "#text": 3.58}}
      ]
    },
    "energy": {"today": {"@unit": "kWh", "#text": 18.42}, "total": {"@unit": "kWh", "#text": 48213.7}},
    "temperature": [
      {"@sensor": "heatsink", "@unit": "C", "#text": 47.5},
      {"@sensor": "ambient", "@unit": "C", "#text": 23.1}
    ],
    "fan": {"@rpm": 2450, "#text": "on"},
    "grid": {"@connected": "true", "exportLimit": {"@unit": "W", "#text": 5000}}
  }
}
`

// TestInverter checks that the benchmark's two documents hold the same data.
func TestInverter(t *testing.T) {
	runCases(t, format.XML, format.Options{}, []parseCase{{name: "inverter", body: inverterXML, want: inverterJSON}})
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name   string
		format format.Format
		body   string
	}{
		{"XML", format.XML, inverterXML},
		{"JSON", format.JSON, inverterJSON},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, err := format.New(c.format, format.Options{})
			if err != nil {
				b.Fatal(err)
			}
			body := []byte(c.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(body, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
