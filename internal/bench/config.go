package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Layout describes a generated fleet configuration: Assets thermostats
// served by the fleet server at Address, each an asset with one dataset of
// Points data points sampled every Interval and published as one QoS 1
// message to bench/thermostat/{id}/status.
type Layout struct {
	Address  string // the fleet server's base URL: http://127.0.0.1:port
	Assets   int
	Points   int // 1 … MaxPoints
	Coalesce bool
	Interval time.Duration
	// Devices is how many Device resources the thermostats are spread over.
	// 0 or Assets: one device per thermostat, its endpoint address the
	// thermostat's own URL (http://…/api/thermostat/17), as ADR models
	// separate physical devices: each has its own connection pool. Fewer:
	// gateway devices, each an endpoint on the fleet server's base URL that
	// several assets share, with one connection pool.
	Devices int
	// Deadband, if positive, gives every dataset report by exception with
	// this deadband: the thermostats' temperatures move less, so most
	// samples are suppressed.
	Deadband float64
	// Bearer, if set, has every device endpoint send a bearer token: the
	// endpoint's password secret, the secret BearerSecret of the
	// connector's settings.
	Bearer bool
}

// The secrets of a bearer layout: the connector reads them from a
// secrets.dir folder (see WriteSecrets).
const (
	UserSecret   = "bench/user"
	BearerSecret = "bench/token"
)

// WriteSecrets writes the secrets of a bearer layout into dir, as the
// connector settings' secrets.dir reads them.
func WriteSecrets(dir, token string) error {
	if err := os.MkdirAll(filepath.Join(dir, "bench"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(UserSecret)), []byte("bench"), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, filepath.FromSlash(BearerSecret)), []byte(token), 0o600)
}

// MaxPoints is the most data points a generated dataset has.
const MaxPoints = 3

// point is a data point of the thermostat dataset: its name is a member of
// the response the thermostat sends for resource.
var points = [MaxPoints]struct{ name, resource string }{
	{"currentTemperature", "current"},
	{"desiredTemperature", "desired"},
	{"power", "status"},
}

// Topic is the topic a thermostat's messages are published to; Topics
// matches them all.
func Topic(id int) string { return fmt.Sprintf("bench/thermostat/%d/status", id) }

// Topics is the filter for every generated asset's topic.
const Topics = "bench/thermostat/+/status"

func (l Layout) check() error {
	switch {
	case l.Assets < 1:
		return fmt.Errorf("assets: %d, want at least 1", l.Assets)
	case l.Points < 1 || l.Points > MaxPoints:
		return fmt.Errorf("points: %d, want 1 to %d", l.Points, MaxPoints)
	case l.Interval < 10*time.Millisecond || l.Interval%time.Millisecond != 0:
		return fmt.Errorf("interval: %v, want whole milliseconds, at least 10ms", l.Interval)
	case l.Devices < 0:
		return fmt.Errorf("devices: %d, want 0 (one per thermostat) or more", l.Devices)
	case !strings.HasPrefix(l.Address, "http://") && !strings.HasPrefix(l.Address, "https://"):
		return fmt.Errorf("address: %q is not an http(s) URL", l.Address)
	}
	return nil
}

// devices is the number of Device resources.
func (l Layout) devices() int {
	if l.Devices == 0 || l.Devices > l.Assets {
		return l.Assets
	}
	return l.Devices
}

// Requests is the number of HTTP requests one sample of a thermostat makes.
func (l Layout) Requests() int {
	if l.Coalesce {
		return 1
	}
	return l.Points
}

// WriteConfig writes the layout's Device and Asset resource files into
// dir, one file per thermostat as one would keep them: with a device per
// thermostat, thermostat-00017.yaml holds its Device and its Asset; with
// gateway devices, gateway-001.yaml holds a Device and each thermostat's
// file its Asset.
func WriteConfig(dir string, l Layout) error {
	if err := l.check(); err != nil {
		return err
	}
	base := strings.TrimSuffix(l.Address, "/")
	perThermostat := l.devices() == l.Assets
	if !perThermostat {
		for d := 1; d <= l.devices(); d++ {
			name := fmt.Sprintf("gateway-%03d", d)
			if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(device(name, base, l.Bearer)), 0o644); err != nil {
				return err
			}
		}
	}
	var b strings.Builder
	for id := 1; id <= l.Assets; id++ {
		b.Reset()
		name := fmt.Sprintf("thermostat-%05d", id)
		deviceName, sourcePrefix := name, ""
		if perThermostat {
			b.WriteString(device(name, fmt.Sprintf("%s/api/thermostat/%d", base, id), l.Bearer))
			b.WriteString("---\n")
		} else {
			deviceName = fmt.Sprintf("gateway-%03d", (id-1)%l.devices()+1)
			sourcePrefix = fmt.Sprintf("/api/thermostat/%d", id)
		}
		asset(&b, l, id, name, deviceName, sourcePrefix)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func device(name, address string, bearer bool) string {
	auth := `        authentication:
          method: Anonymous
`
	if bearer {
		auth = `        authentication:
          method: UsernamePassword
          usernamePasswordCredentials:
            usernameSecretName: ` + UserSecret + `
            passwordSecretName: ` + BearerSecret + `
        additionalConfiguration: '{"auth": {"type": "bearer"}}'
`
	}
	return `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata:
  name: ` + name + `
  namespace: azure-iot-operations
spec:
  attributes:
    deviceType: thermostat
  enabled: true
  endpoints:
    inbound:
      rest:
        address: ` + address + `
        endpointType: Microsoft.Http
        version: "1.0"
` + auth + `  version: 1
`
}

func asset(b *strings.Builder, l Layout, id int, name, deviceName, sourcePrefix string) {
	fmt.Fprintf(b, `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: %s
  namespace: azure-iot-operations
spec:
  attributes:
    assetType: rest-thermostat-asset
  deviceRef:
    deviceName: %s
    endpointName: rest
  datasets:
    - name: thermostat_status
      datasetConfiguration: |-
        {"samplingInterval": %d%s}
      dataPoints:
`, name, deviceName, l.Interval.Milliseconds(), report(l.Deadband))
	for _, p := range points[:l.Points] {
		resource := p.resource
		if l.Coalesce {
			resource = "status"
		}
		fmt.Fprintf(b, `        - name: %s
          dataSource: %s/%s
          dataPointConfiguration: |-
            {"HttpRequestMethod": "GET"}
`, p.name, sourcePrefix, resource)
	}
	fmt.Fprintf(b, `      destinations:
        - target: Mqtt
          configuration:
            topic: %s
            qos: Qos1
            retain: Never
  version: 1
`, Topic(id))
}

// report is the dataset configuration's report by exception, if any.
func report(deadband float64) string {
	if deadband <= 0 {
		return ""
	}
	return fmt.Sprintf(`, "report": {"deadband": %g}`, deadband)
}
