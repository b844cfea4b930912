package metrics

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Options are what both exports share.
type Options struct {
	// PerDataset exports the per-dataset metrics once per dataset, with
	// asset and dataset labels. Off, they are summed over the datasets
	// into one series each, whatever the number of datasets (see
	// Cardinality in the package documentation).
	PerDataset bool
	// Now is the clock: the heartbeat and the OTLP timestamps. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives what goes wrong outside a caller's reach: a scrape
	// that could not include some series, an OTLP export that failed.
	// The zero Logger logs nothing.
	Logger zerolog.Logger
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// maxScrapes is how many scrapes run at once; more are answered 503.
// One scrape of 10,000 datasets takes a core for a moment (see the
// benchmark), so two Prometheus servers can scrape, but a burst of
// requests cannot pile up collections.
const maxScrapes = 2

// NewPrometheus is the handler of /metrics: the Prometheus text exposition
// of src, read once per scrape, gzipped (at the fastest level) for the
// clients that accept it. Its metrics are only these, gathered as a
// registry of their own would give them (see gatherer). OpenMetrics is not
// offered, so the names stay as documented (OpenMetrics would add _total
// to Microsoft's counter names).
func NewPrometheus(src Source, o Options) http.Handler {
	h := promhttp.HandlerFor(newGatherer(src, o), promhttp.HandlerOpts{
		// A series that cannot be exposed (a label value that is not
		// UTF-8, two datasets with the same asset and dataset names) is
		// logged and left out; the others are served.
		ErrorHandling:       promhttp.ContinueOnError,
		ErrorLog:            promLogger{o.Logger},
		MaxRequestsInFlight: maxScrapes,
		// promhttp gzips at the default level, which doubles the CPU
		// time of a scrape of many datasets; gzipHandler gzips faster.
		DisableCompression: true,
	})
	return newGzipHandler(h, o.Logger)
}

// promLogger logs promhttp's errors.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) {
	// Sprintln, unlike Sprint, puts a space between promhttp's message and
	// the error.
	l.log.Warn().Str("error", strings.TrimSuffix(fmt.Sprintln(v...), "\n")).Msg("metrics scrape")
}
