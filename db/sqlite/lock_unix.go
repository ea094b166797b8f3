//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path+".lock" for the life of a Store:
// the engine keeps what it knows of indexes and multikey paths in memory, so a second
// Store (in this process or another) over the same file could answer from stale
// knowledge. The kernel drops the lock when the process dies.
func lockFile(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite: %s is already open in another Store or process", path)
		}
		return nil, fmt.Errorf("sqlite: lock file: %w", err)
	}
	return f.Close, nil // closing the descriptor releases the lock
}
