//go:build !unix

// Package dirlock takes an exclusive lock on a folder, so that two
// connectors never write the same spool or state folder.
package dirlock

// Lock is a held lock; on this platform none is taken: one connector per
// folder is up to the operator.
type Lock struct{}

// Take does not lock on this platform.
func Take(dir, what string) (*Lock, error) { return &Lock{}, nil }

// Release does nothing.
func (l *Lock) Release() {}
