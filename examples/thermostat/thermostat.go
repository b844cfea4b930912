// Package thermostat is the REST thermostat of the Azure IoT Operations
// connector walkthrough, as a Go HTTP handler, together with the device and
// asset files that make http-connector poll it with no code at all.
package thermostat

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
)

//go:embed config/*.yaml
var configFiles embed.FS

// Config is the folder of the walkthrough's Device and Asset files.
func Config() fs.FS {
	sub, err := fs.Sub(configFiles, "config")
	if err != nil {
		panic(err) // the embedded folder is always there
	}
	return sub
}

// ConfigAt is Config with the device endpoint pointed at addr (host:port)
// instead of localhost:3000.
func ConfigAt(addr string) (fs.FS, error) {
	return addressFS{FS: Config(), address: []byte("http://" + addr)}, nil
}

// addressFS is a folder of resource files whose files are read with
// another device address.
type addressFS struct {
	fs.FS
	address []byte
}

// ReadFile reads a file with the address replaced.
func (a addressFS) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(a.FS, name)
	if err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(b, []byte("http://localhost:3000"), a.address), nil
}

// Open opens a file with the address replaced, or a folder as it is.
func (a addressFS) Open(name string) (fs.File, error) {
	f, err := a.FS.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return f, err
	}
	f.Close()
	b, err := a.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(b), info: st, size: int64(len(b))}, nil
}

// memFile is a file read into memory.
type memFile struct {
	*bytes.Reader
	info fs.FileInfo
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return sizedInfo{f.info, f.size}, nil }
func (f *memFile) Close() error               { return nil }

type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (i sizedInfo) Size() int64 { return i.size }

// Thermostat is a simulated thermostat in degrees Fahrenheit.
type Thermostat struct {
	mu      sync.Mutex
	rng     *rand.Rand
	current float64
	desired float64
	power   bool
}

// New returns a thermostat whose readings follow seed.
func New(seed uint64) *Thermostat {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Thermostat{rng: rng, current: 71.3, desired: 72.5, power: true}
}

// step moves the current temperature a little towards the set point.
func (t *Thermostat) step() {
	target := t.desired
	if !t.power {
		target = 68
	}
	t.current += (target-t.current)*0.1 + (t.rng.Float64()-0.5)*0.6
	t.current = math.Min(77, math.Max(68, t.current))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// Handler serves the thermostat API:
//
//	GET  /api/thermostat/current  {"currentTemperature": 71.3}
//	GET  /api/thermostat/desired  {"desiredTemperature": 72.5}
//	POST /api/thermostat/desired  {"desiredTemperature": 70}
//	GET  /api/thermostat/status   {"currentTemperature": …, "desiredTemperature": …, "power": "on"}
//	POST /api/thermostat/power    {"power": "off"}
func (t *Thermostat) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/thermostat/current", func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		t.step()
		v := round1(t.current)
		t.mu.Unlock()
		reply(w, map[string]any{"currentTemperature": v})
	})
	mux.HandleFunc("GET /api/thermostat/desired", func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		v := round1(t.desired)
		t.mu.Unlock()
		reply(w, map[string]any{"desiredTemperature": v})
	})
	mux.HandleFunc("POST /api/thermostat/desired", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Desired *float64 `json:"desiredTemperature"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Desired == nil {
			http.Error(w, `expected {"desiredTemperature": number}`, http.StatusBadRequest)
			return
		}
		if *body.Desired < 50 || *body.Desired > 90 {
			http.Error(w, "desiredTemperature must be between 50 and 90", http.StatusBadRequest)
			return
		}
		t.mu.Lock()
		t.desired = *body.Desired
		t.mu.Unlock()
		reply(w, map[string]any{"desiredTemperature": *body.Desired})
	})
	mux.HandleFunc("GET /api/thermostat/status", func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		t.step()
		s := map[string]any{"currentTemperature": round1(t.current), "desiredTemperature": round1(t.desired), "power": onOff(t.power)}
		t.mu.Unlock()
		reply(w, s)
	})
	mux.HandleFunc("POST /api/thermostat/power", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Power string `json:"power"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || (body.Power != "on" && body.Power != "off") {
			http.Error(w, `expected {"power": "on"} or {"power": "off"}`, http.StatusBadRequest)
			return
		}
		t.mu.Lock()
		t.power = body.Power == "on"
		t.mu.Unlock()
		reply(w, map[string]any{"power": body.Power})
	})
	return mux
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
