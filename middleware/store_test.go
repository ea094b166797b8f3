package middleware

import (
	"context"
	"testing"
	"time"
)

func TestRememberStores(t *testing.T) {
	calls := 0
	live := map[int64]bool{1: true}
	now := time.Unix(0, 0)
	exists := rememberStores(func(_ context.Context, id int64) (bool, error) {
		calls++
		return live[id], nil
	}, time.Minute, 2, func() time.Time { return now })
	ctx := context.Background()
	check := func(id int64, want bool, wantCalls int) {
		t.Helper()
		got, err := exists(ctx, id)
		if err != nil || got != want || calls != wantCalls {
			t.Fatalf("store %d: got %v (%d calls), want %v (%d calls)", id, got, calls, want, wantCalls)
		}
	}
	check(1, true, 1)
	check(1, true, 1) // remembered
	check(2, false, 2)
	live[2] = true
	check(2, true, 3) // a missing store is asked again, so a new store is served at once
	delete(live, 1)
	check(1, true, 3) // still remembered within the TTL
	now = now.Add(2 * time.Minute)
	check(1, false, 4) // forgotten after it
	live[3] = true
	check(3, true, 5)
	check(2, true, 6) // expired too
	check(4, false, 7)
}

func FuzzStoreInPath(f *testing.F) {
	for _, s := range []string{"/1000/v1/products.json", "/v1/x", "/abc/v1/", "//v1", "/1/v1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		seg, ok := storeInPath(path)
		if ok && seg == "" {
			t.Fatalf("storeInPath(%q) found an empty store segment", path)
		}
	})
}
