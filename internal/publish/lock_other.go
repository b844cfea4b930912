//go:build !unix

package publish

import "os"

// lockDir does not lock on this platform: one connector per spool folder is
// up to the operator.
func lockDir(string) (*os.File, error) { return nil, nil }

func unlockDir(*os.File) {}
