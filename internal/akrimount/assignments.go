package akrimount

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/watch"
)

// Read retries for files of the assignments folder (the .NET SDK retries 10
// times, 100 ms apart).
const (
	readAttempts   = 10
	readRetryDelay = 100 * time.Millisecond
)

// settleDelay groups the burst of events of one atomic folder update into one
// rescan.
const settleDelay = 50 * time.Millisecond

// EndpointRef names a device inbound endpoint.
type EndpointRef struct {
	Device   string
	Endpoint string
}

// String is the mounted file name, "<device>_<endpoint>".
func (r EndpointRef) String() string { return r.Device + "_" + r.Endpoint }

// Assignments maps each device endpoint assigned to this pod to its sorted,
// de-duplicated asset names (possibly none).
type Assignments map[EndpointRef][]string

// Equal reports whether a and b assign the same assets to the same endpoints.
func (a Assignments) Equal(b Assignments) bool {
	if len(a) != len(b) {
		return false
	}
	for ref, assets := range a {
		other, ok := b[ref]
		if !ok || !slices.Equal(assets, other) {
			return false
		}
	}
	return true
}

// Endpoints returns the assigned endpoints in a stable order.
func (a Assignments) Endpoints() []EndpointRef {
	refs := make([]EndpointRef, 0, len(a))
	for ref := range a {
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	return refs
}

// ParseEndpointFileName splits "<device>_<endpoint>" at the first "_".
func ParseEndpointFileName(name string) (EndpointRef, bool) {
	dev, ep, ok := strings.Cut(name, "_")
	if !ok || dev == "" || ep == "" {
		return EndpointRef{}, false
	}
	return EndpointRef{Device: dev, Endpoint: ep}, true
}

// ScanAssignments reads the ADR resource-names folder: one file per device
// endpoint named "<device>_<endpoint>" listing asset names one per line. It
// ignores entries starting with "..", directories, names without "_" and
// blank lines. A file that disappears during the scan is treated as removed;
// other read errors are retried a few times.
func ScanAssignments(ctx context.Context, dir string) (Assignments, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scan assignments: %w", err)
	}
	out := make(Assignments)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			continue
		}
		ref, ok := ParseEndpointFileName(name)
		if !ok {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			continue
		}
		raw, err := readWithRetry(ctx, p)
		if gone(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scan assignments: %w", err)
		}
		out[ref] = parseAssetList(raw)
	}
	return out, nil
}

func readWithRetry(ctx context.Context, path string) ([]byte, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var raw []byte
		if raw, err = os.ReadFile(path); err == nil {
			return raw, nil
		}
		if gone(err) || attempt == readAttempts {
			return nil, err
		}
		t := time.NewTimer(readRetryDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// gone reports whether a read failed because the file (or the ..data link it
// points through) was removed by an update in progress.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func parseAssetList(raw []byte) []string {
	assets := []string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			assets = append(assets, line)
		}
	}
	slices.Sort(assets)
	return slices.Compact(assets)
}

// WatchAssignments delivers the folder's assignments to onChange: first the
// initial scan, then the new state whenever it differs from the last one
// delivered. It rescans the whole folder after any file-system event in it
// (updates arrive as atomic symbolic-link swaps, so per-file events are not
// reliable), after a watch error (events may be lost) and every period as a
// safety net. onChange runs on the calling goroutine. A failing initial
// scan is returned; later scan failures are logged and the previous state
// kept. WatchAssignments blocks until ctx ends and then returns nil.
func WatchAssignments(ctx context.Context, dir string, period time.Duration, onChange func(Assignments), log zerolog.Logger) error {
	if period <= 0 {
		return fmt.Errorf("watch assignments: period must be positive, got %s", period)
	}
	var current Assignments
	rescan := func(reason string) {
		next, err := ScanAssignments(ctx, dir)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Str("reason", reason).Msg("assignments rescan failed")
			}
			return
		}
		if next.Equal(current) {
			return
		}
		log.Debug().Str("reason", reason).Int("endpoints", len(next)).Msg("assignments changed")
		current = next
		onChange(next)
	}
	// The first scan is made once the folder is watched, so that no
	// change after it is missed.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var first error
	err := watch.Run(wctx, watch.Options{
		Paths:    []string{dir},
		Delay:    settleDelay,
		Every:    period,
		OnChange: func(context.Context) { rescan("change") },
		OnError: func(err error) {
			log.Warn().Err(err).Msg("assignments watch error")
			rescan("watch_error")
		},
		Ready: func() {
			if current, first = ScanAssignments(ctx, dir); first != nil {
				stop()
				return
			}
			onChange(current)
		},
	})
	switch {
	case first != nil:
		return first
	case err != nil:
		return fmt.Errorf("watch assignments %s: %w", dir, err)
	}
	return nil
}
