// Package watch tells when files change (fsnotify): after a burst of
// changes to the watched files and folders has been quiet for a moment,
// one call. Folders are watched rather than files, so that the ways
// editors and Kubernetes volumes replace a file (rename over it, swap a
// symlink) are seen.
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
	// OnChange is called after each burst of changes, from Run's goroutine.
	OnChange func(ctx context.Context)
	// OnError is told about watch errors that do not stop Run (optional).
	OnError func(err error)
	// Ready, if set, is called once the paths are watched: a change made
	// after it is seen.
	Ready func()
}

// Run watches until ctx ends. It returns an error only when watching
// cannot start at all.
func Run(ctx context.Context, o Options) error {
	if o.Delay <= 0 {
		o.Delay = DefaultDelay
	}
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
	timer := time.NewTimer(o.Delay)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(o.Delay)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if o.OnError != nil {
				o.OnError(err)
			}
		case <-timer.C:
			add() // folders created since are watched from now on
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
