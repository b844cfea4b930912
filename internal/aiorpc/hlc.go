// Package aiorpc implements the Azure IoT Operations RPC and telemetry
// conventions on top of the MQTT client: request/response commands matched by
// correlation data with status codes in user properties, the hybrid logical
// clock timestamp (__ts) and the telemetry user properties.
package aiorpc

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxCounter is the largest counter the 5-digit __ts field holds.
const maxCounter = 99999

// Clock issues hybrid-logical-clock timestamps for the __ts user property:
// "<ms since epoch, 15 digits>:<counter, 5 digits>:<node id>". Timestamps
// from one Clock strictly increase even if the wall clock goes back. Create
// one per process and share it.
type Clock struct {
	node string
	now  func() time.Time

	mu      sync.Mutex
	lastMS  int64
	counter int
}

// NewClock returns a clock with a random node id.
func NewClock() *Clock {
	return NewClockAt(newUUID(), time.Now)
}

// NewClockAt returns a clock with the given node id (which must not contain
// ":") reading the time from now.
func NewClockAt(node string, now func() time.Time) *Clock {
	return &Clock{node: strings.ReplaceAll(node, ":", "-"), now: now}
}

// Node returns the clock's node id.
func (c *Clock) Node() string { return c.node }

// Now returns the next timestamp: max(now, last) with the counter
// incremented when the millisecond did not advance.
func (c *Clock) Now() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := c.now().UnixMilli()
	switch {
	case ms > c.lastMS:
		c.lastMS, c.counter = ms, 0
	case c.counter < maxCounter:
		c.counter++
	default:
		c.lastMS, c.counter = c.lastMS+1, 0
	}
	return fmt.Sprintf("%015d:%05d:%s", c.lastMS, c.counter, c.node)
}

// Timestamp is a parsed __ts value.
type Timestamp struct {
	Time    time.Time
	Counter int
	Node    string
}

// ParseTimestamp parses a __ts value; it must have exactly three
// ":"-separated parts.
func ParseTimestamp(s string) (Timestamp, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Timestamp{}, fmt.Errorf("timestamp %q: want <ms>:<counter>:<node>", s)
	}
	ms, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || ms < 0 {
		return Timestamp{}, fmt.Errorf("timestamp %q: bad milliseconds", s)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 0 {
		return Timestamp{}, fmt.Errorf("timestamp %q: bad counter", s)
	}
	if parts[2] == "" {
		return Timestamp{}, errors.New("timestamp " + strconv.Quote(s) + ": empty node id")
	}
	return Timestamp{Time: time.UnixMilli(ms), Counter: n, Node: parts[2]}, nil
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	b := newCorrelationData()
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newCorrelationData returns 16 random bytes laid out as a version 4 UUID.
func newCorrelationData() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}
