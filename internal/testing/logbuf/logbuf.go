// Package logbuf is a log sink for tests: a buffer that the goroutines of a
// connector write to at once, read back as text or as the JSON records
// zerolog writes.
package logbuf

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Records are the JSON lines written so far, decoded; other lines are
// skipped.
func (l *Buffer) Records() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// Count is how many records have the message msg.
func (l *Buffer) Count(msg string) int {
	n := 0
	for _, r := range l.Records() {
		if r["message"] == msg {
			n++
		}
	}
	return n
}
