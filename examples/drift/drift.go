// Package drift is a room temperature sensor whose reading drifts slowly,
// as a Go HTTP handler, with the device and asset files that make
// http-connector publish its temperature by exception: only when it moved
// by more than half a degree from the value last published, and anyway
// once a minute.
//
// Taken from the small REST sensors of building automation (a JSON
// document per reading, the sensor's own sample counter beside the
// value): GET /api/v1/temperature answers
// {"temperature": 21.37, "unit": "°C", "sequence": 57}.
//
// Assumed, and simplified: the reading follows from the request's number
// and a seed alone (a slow swing of about 1.2 °C around 21 °C plus a
// little noise, to the hundredth), so that a test knows what was served;
// every request is a new reading. The sensor ignores query parameters;
// it records the one named at, if any, beside what it served, which lets
// a test learn the connector's sample time (${now:rfc3339ms}).
package drift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// Served is one reading the sensor answered.
type Served struct {
	Sequence    int
	Temperature string // as written in the answer
	At          string // the request's at parameter
}

// Sensor is a simulated temperature sensor.
type Sensor struct {
	mu       sync.Mutex
	rng      *rand.Rand
	served   []Served
	holdFrom int // requests after this many answered wait unanswered; 0: none
	holding  int
}

// New returns a sensor whose noise follows seed.
func New(seed uint64) *Sensor {
	return &Sensor{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Served is every reading answered so far, in order.
func (s *Sensor) Served() []Served {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.served)
}

// HoldFrom makes the sensor answer n requests in all and keep later ones
// waiting, unanswered, until their client gives up.
func (s *Sensor) HoldFrom(n int) {
	s.mu.Lock()
	s.holdFrom = n
	s.mu.Unlock()
}

// Holding is how many requests wait unanswered.
func (s *Sensor) Holding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holding
}

// temperature is the n-th reading (from 1), to the hundredth.
func (s *Sensor) temperature(n int) string {
	noise := (s.rng.Float64() - 0.5) * 0.08
	v := 21 + 1.2*math.Sin(float64(n)/9) + noise
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', 2, 64)
}

// Handler serves the sensor's API:
//
//	GET /api/v1/temperature  {"temperature": 21.37, "unit": "°C", "sequence": 57}
func (s *Sensor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/temperature", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.holdFrom > 0 && len(s.served) >= s.holdFrom {
			s.holding++
			s.mu.Unlock()
			<-r.Context().Done()
			s.mu.Lock()
			s.holding--
			s.mu.Unlock()
			return
		}
		n := len(s.served) + 1
		reading := Served{Sequence: n, Temperature: s.temperature(n), At: r.URL.Query().Get("at")}
		s.served = append(s.served, reading)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"temperature": %s, "unit": "°C", "sequence": %d}`+"\n", reading.Temperature, n)
	})
	return mux
}
