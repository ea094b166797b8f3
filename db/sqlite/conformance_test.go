package sqlite

import (
	"path/filepath"
	"testing"

	"storeapi/db"
	"storeapi/db/dbtest"
)

// openTemp opens a Store over a fresh database file in the test's temporary directory.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(t.Context()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) db.Store { return openTemp(t) })
}
