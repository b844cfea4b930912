// Package watch tells when files change (fsnotify): after a burst of
// changes to the watched files and folders has been quiet for a moment,
// one call. Folders are watched rather than files, so that the ways
// editors and Kubernetes volumes replace a file (rename over it, swap a
// symlink) are seen. It is the one file watch of the connector: the
// configuration and mapping files, the Akri resource-names folder and the
// broker's service account token all go through it.
package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDelay is the quiet time after the last change before OnChange.
const DefaultDelay = 250 * time.Millisecond

// Options configure Run.
type Options struct {
	// Paths are files or folders. A folder's direct entries are watched; a
	// file is watched through its folder; a path that does not exist yet
	// is watched once it appears (its folder's changes are seen).
	Paths []string
	// Delay is the quiet time after the last change; default DefaultDelay.
	Delay time.Duration
	// Every, if set, calls OnChange at least this often even when no
	// change was seen: a safety net for file systems that lose events.
	Every time.Duration
	// OnChange is called after each burst of changes, from Run's goroutine.
	OnChange func(ctx context.Context)
	// OnError is told about watch errors that do not stop Run (optional);
	// events may have been lost with them.
	OnError func(err error)
	// Ready, if set, is called once the paths are watched: a change made
	// after it is seen.
	Ready func()
}

// Run watches until ctx ends. It returns an error only when watching
// cannot start at all.
func Run(ctx context.Context, o Options) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	add := func() {
		for _, p := range o.Paths {
			if err := w.Add(folderOf(p)); err != nil && !errors.Is(err, os.ErrNotExist) && o.OnError != nil {
				o.OnError(err)
			}
		}
	}
	add()
	if o.Ready != nil {
		o.Ready()
	}
	changes := make(chan struct{})
	errs := make(chan error)
	go func() {
		// Forwards what the watcher says until it is closed (by the
		// deferred Close above, once loop has returned).
		defer close(changes)
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Op == fsnotify.Chmod {
					continue
				}
				select {
				case changes <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				select {
				case errs <- err:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	loop(ctx, o, changes, errs, add)
	w.Close()
	for range changes {
	}
	return nil
}

// loop turns changes into calls of OnChange, once a burst has been quiet
// for Delay, and calls it every Every besides. Folders created since are
// watched (add) before each call.
func loop(ctx context.Context, o Options, changes <-chan struct{}, errs <-chan error, add func()) {
	if o.Delay <= 0 {
		o.Delay = DefaultDelay
	}
	quiet := time.NewTimer(o.Delay)
	quiet.Stop()
	defer quiet.Stop()
	var every <-chan time.Time
	if o.Every > 0 {
		t := time.NewTicker(o.Every)
		defer t.Stop()
		every = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
			quiet.Reset(o.Delay)
		case err := <-errs:
			if o.OnError != nil {
				o.OnError(err)
			}
		case <-quiet.C:
			add()
			o.OnChange(ctx)
		case <-every:
			add()
			o.OnChange(ctx)
		}
	}
}

// folderOf is the folder to watch for p: p itself when it is a folder,
// else its parent, or for a path that does not exist the nearest existing
// ancestor (once p appears, the next burst's add watches it).
func folderOf(p string) string {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return p
	}
	dir := filepath.Dir(p)
	if _, err := os.Stat(dir); err != nil && dir != p {
		return folderOf(dir)
	}
	return dir
}
