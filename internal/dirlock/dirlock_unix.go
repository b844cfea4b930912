//go:build unix

// Package dirlock takes an exclusive lock on a folder, so that two
// connectors never write the same spool or state folder.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock is a held lock.
type Lock struct{ f *os.File }

// Take locks dir (creating the file LOCK in it); what names the folder in
// errors: "spool folder", "state folder".
func Take(dir, what string) (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s %s is in use by another connector", what, dir)
		}
		return nil, fmt.Errorf("%s %s: lock: %w", what, dir, err)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up; a nil Lock is released already.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		_ = l.f.Close()
		l.f = nil
	}
}
