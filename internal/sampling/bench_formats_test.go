package sampling

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/testing/loopback"
)

// inverterXML is a PV inverter's status, about 1 KB, as such devices serve
// it; inverterJSON the same data as JSON, about the same size, read by the
// same jq (as the XML format maps it).
const inverterXML = `<?xml version="1.0" encoding="UTF-8"?>
<inverter id="INV-0042" model="SX-5000" firmware="3.12.7">
  <status state="running" since="2024-05-14T06:12:33Z"><mode>grid-tied</mode><alarmCount>0</alarmCount></status>
  <ac>
    <voltage unit="V">230.4</voltage><current unit="A">12.87</current><power unit="W">2965</power>
    <frequency unit="Hz">50.02</frequency><powerFactor>0.99</powerFactor>
  </ac>
  <dc>
    <string index="1"><voltage unit="V">412.3</voltage><current unit="A">3.61</current></string>
    <string index="2"><voltage unit="V">409.8</voltage><current unit="A">3.58</current></string>
  </dc>
  <energy><today unit="kWh">18.42</today><total unit="kWh">48213.7</total></energy>
  <temperature sensor="heatsink" unit="C">47.5</temperature>
  <temperature sensor="ambient" unit="C">23.1</temperature>
  <fan rpm="2450">on</fan>
  <grid connected="true"><exportLimit unit="W">5000</exportLimit></grid>
</inverter>`

const inverterJSON = `{"inverter": {"@id": "INV-0042", "@model": "SX-5000", "@firmware": "3.12.7",
  "status": {"@state": "running", "@since": "2024-05-14T06:12:33Z", "mode": "grid-tied", "alarmCount": 0},
  "ac": {"voltage": {"@unit": "V", "#text": 230.4}, "current": {"@unit": "A", "#text": 12.87}, "power": {"@unit": "W", "#text": 2965},
    "frequency": {"@unit": "Hz", "#text": 50.02}, "powerFactor": 0.99},
  "dc": {"string": [{"@index": 1, "voltage": {"@unit": "V", "#text": 412.3}, "current": {"@unit": "A", "#text": 3.61}},
    {"@index": 2, "voltage": {"@unit": "V", "#text": 409.8}, "current": {"@unit": "A", "#text": 3.58}}]},
  "energy": {"today": {"@unit": "kWh", "#text": 18.42}, "total": {"@unit": "kWh", "#text": 48213.7}},
  "temperature": [{"@sensor": "heatsink", "@unit": "C", "#text": 47.5}, {"@sensor": "ambient", "@unit": "C", "#text": 23.1}],
  "fan": {"@rpm": 2450, "#text": "on"}, "grid": {"@connected": "true", "exportLimit": {"@unit": "W", "#text": 5000}}}}`

// inverterDataset reads three values of the inverter's status at path,
// declared as format.
func inverterDataset(path, format string) string {
	return `    - name: thermostat_status
      datasetConfiguration: '{"samplingInterval": 1000, "format": "` + format + `"}'
      dataPoints:
        - {name: power, dataSource: ` + path + `, dataPointConfiguration: '{"jq": ".inverter.ac.power[\"#text\"]"}'}
        - {name: energy, dataSource: ` + path + `, dataPointConfiguration: '{"jq": ".inverter.energy.today[\"#text\"]"}'}
        - {name: heatsink, dataSource: ` + path + `, dataPointConfiguration: '{"jq": ".inverter.temperature[0][\"#text\"]"}'}
`
}

// BenchmarkSampleFormats is one full sample of three values from a 1 KB
// inverter status in XML, against the same status in JSON: what reading XML
// costs a sample.
func BenchmarkSampleFormats(b *testing.B) {
	canned, err := loopback.Start(map[string]string{"/status.xml": inverterXML, "/status.json": inverterJSON})
	if err != nil {
		b.Fatal(err)
	}
	defer canned.Close()
	for _, tc := range []struct{ name, path, format string }{
		{"json", "/status.json", "json"},
		{"xml", "/status.xml", "xml"},
	} {
		ds := benchDataset(b, canned.URL, inverterDataset(tc.path, tc.format))
		client := fetch.New(fetch.Options{})
		pub := new(nopPublisher)
		s, err := New(ds, client, pub, Options{Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Sample(context.Background(), time.Now())
			}
			if err := s.Failing(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(strings.TrimSpace(map[string]string{"json": inverterJSON, "xml": inverterXML}[tc.name]))), "body-bytes")
		})
		client.Close()
	}
}

// BenchmarkReportByException is the walkthrough's sample with a deadband
// that suppresses every sample but the first (the canned values do not
// move), against publishing every one: what a suppressed sample costs.
func BenchmarkReportByException(b *testing.B) {
	canned, err := loopback.Start(map[string]string{
		"/api/thermostat/current": `{"currentTemperature": 71.3}`,
		"/api/thermostat/desired": `{"desiredTemperature": 72.5}`,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer canned.Close()
	const every = `    - name: thermostat_status
      datasetConfiguration: '{"samplingInterval": 1000}'
      dataPoints:
        - {name: currentTemperature, dataSource: /api/thermostat/current}
        - {name: desiredTemperature, dataSource: /api/thermostat/desired}
`
	deadband := strings.Replace(every, `{"samplingInterval": 1000}`, `{"samplingInterval": 1000, "report": {"deadband": 0.5}}`, 1)
	for _, tc := range []struct{ name, dataset string }{{"publish-every", every}, {"deadband-suppressed", deadband}} {
		ds := benchDataset(b, canned.URL, tc.dataset)
		client := fetch.New(fetch.Options{})
		pub := new(nopPublisher)
		counters := &Counters{}
		s, err := New(ds, client, pub, Options{Logger: zerolog.Nop(), Counters: counters})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Sample(context.Background(), time.Now())
			}
			if err := s.Failing(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(counters.Suppressed.Load())/float64(counters.Samples.Load()), "suppressed/sample")
		})
		client.Close()
	}
}
