//go:build !unix

package sqlite

// lockFile is a no-op where flock is not available; see lock_unix.go.
func lockFile(string) (func() error, error) { return func() error { return nil }, nil }
