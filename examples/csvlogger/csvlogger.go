// Package csvlogger is a data logger that answers its last rows as CSV, as
// a Go HTTP handler, with the device and asset files that make
// http-connector publish every row once, as a message of its own, though
// each answer repeats the rows of the one before.
//
// Taken from the small loggers of cold stores and greenhouses (and the CSV
// exports of their web pages): GET of a fixed path answers the last rows
// logged, oldest first, as text/plain: a comment line naming the logger,
// a header row, then one row per record, fields separated by ';' (their
// "semicolon" export setting, for spreadsheets set to European
// conventions), each row numbered by a record counter that never repeats;
// a sensor that gave no value leaves its cell empty.
//
// Assumed, and simplified: numbers are written with a decimal point (the
// export setting most loggers have; with a decimal comma the cells are
// strings, to convert in the mapping); rows are logged when told (Log),
// not by a clock, so that a test knows what was served; the answer holds
// the last Rows rows (10 by default), and a poll that comes after more
// rows than that were logged misses the oldest of them.
package csvlogger

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Logger; zero values are defaults.
type Options struct {
	Rows  int           // rows in an answer; default 10
	Start time.Time     // the first record's time; default 2025-06-01T00:00:00Z
	Every time.Duration // logging interval; default one minute
}

// Row is one logged record.
type Row struct {
	Record      int
	Time        time.Time
	Temperature float64 // °C
	Humidity    string  // % relative, "" when the sensor gave none
	Battery     float64 // V
	Door        string  // open or closed
}

// Logger is a simulated data logger.
type Logger struct {
	opts Options

	mu     sync.Mutex
	rows   []Row
	served []int // the records of each answer, counted
	hold   bool
	held   int
}

// New returns a logger that has logged nothing yet.
func New(o Options) *Logger {
	if o.Rows <= 0 {
		o.Rows = 10
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	return &Logger{opts: o}
}

// FirstRecord is the number of the first record logged.
const FirstRecord = 1001

// Log logs n more rows.
func (l *Logger) Log(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		l.rows = append(l.rows, l.row(len(l.rows)))
	}
}

// row is the k-th row logged (from 0).
func (l *Logger) row(k int) Row {
	r := Row{
		Record:      FirstRecord + k,
		Time:        l.opts.Start.Add(time.Duration(k) * l.opts.Every),
		Temperature: math.Round((-18.5+0.8*math.Sin(float64(k)/5))*10) / 10,
		Humidity:    strconv.FormatFloat(math.Round((61+4*math.Cos(float64(k)/7))*10)/10, 'f', -1, 64),
		Battery:     math.Round((3.62-0.001*float64(k))*1000) / 1000,
		Door:        "closed",
	}
	if k%9 == 4 {
		r.Door = "open"
	}
	if k%13 == 7 {
		r.Humidity = "" // the sensor gave no value
	}
	return r
}

// Rows is every row logged, in order.
func (l *Logger) Rows() []Row {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Row(nil), l.rows...)
}

// Served is how many rows each answer held, in order.
func (l *Logger) Served() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.served...)
}

// Hold keeps the requests that come from now on waiting, unanswered,
// until their client gives up.
func (l *Logger) Hold() {
	l.mu.Lock()
	l.hold = true
	l.mu.Unlock()
}

// Release answers the requests that come from now on.
func (l *Logger) Release() {
	l.mu.Lock()
	l.hold = false
	l.mu.Unlock()
}

// Holding is how many requests wait unanswered.
func (l *Logger) Holding() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// Handler serves the logger:
//
//	GET /export/last.csv
//	# DL-200 s/n 4711 "Cold store 2", logging every 1m0s
//	Record;Time;Temperature;Humidity;Battery;Door
//	1001;2025-06-01T00:00:00Z;-18.5;65;3.62;closed
//	…
func (l *Logger) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /export/last.csv", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		if l.hold {
			l.held++
			l.mu.Unlock()
			<-r.Context().Done()
			l.mu.Lock()
			l.held--
			l.mu.Unlock()
			return
		}
		last := l.rows[max(0, len(l.rows)-l.opts.Rows):]
		l.served = append(l.served, len(last))
		body := l.csv(last)
		l.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	})
	return mux
}

func (l *Logger) csv(rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# DL-200 s/n 4711 \"Cold store 2\", logging every %s\r\n", l.opts.Every)
	b.WriteString("Record;Time;Temperature;Humidity;Battery;Door\r\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d;%s;%s;%s;%s;%s\r\n", r.Record, r.Time.Format(time.RFC3339), num(r.Temperature), r.Humidity, num(r.Battery), r.Door)
	}
	return b.String()
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
