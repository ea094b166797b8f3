package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"storeapi/db"
	"storeapi/db/sqlite"
	"storeapi/resources"
)

// openDB opens a real SQLite database in the test's temp dir.
func openDB(t testing.TB) db.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sandbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// t0 is the tests' origin of time.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// put inserts a document of store storeID created at the given time (no created_at when
// at is zero) and returns its id.
func put(t testing.TB, s db.Store, coll string, storeID int64, at time.Time) string {
	t.Helper()
	id := db.NewID()
	d := db.Doc{"_id": id, "store_id": storeID}
	if !at.IsZero() {
		d[Field] = db.Timestamp(at)
	}
	if err := s.Insert(context.Background(), coll, d); err != nil {
		t.Fatal(err)
	}
	return id
}

// exists reports whether the document is still there.
func exists(t testing.TB, s db.Store, coll string, storeID int64, id string) bool {
	t.Helper()
	_, err := s.Get(context.Background(), coll, storeID, id)
	if errors.Is(err, db.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestPurgeWindows(t *testing.T) {
	ctx := context.Background()
	s := openDB(t)
	c := &clock{t: t0}
	const day = 24 * time.Hour
	var purged []string
	p, err := NewPurger(PurgeOptions{Store: s, Collections: []string{"stores", "products", "credentials"},
		MaxAge: 7 * day, Interval: time.Hour, Window: 2 * time.Hour, Now: c.now,
		OnPurge: func(coll string, n int64) {
			if n > 0 {
				purged = append(purged, fmt.Sprintf("%s:%d", coll, n))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}

	// Documents at known ages relative to t0.
	type doc struct {
		name    string
		coll    string
		storeID int64
		at      time.Time
		id      string
	}
	docs := []*doc{
		{name: "ancient", coll: "products", storeID: 1, at: t0.Add(-30 * day)},
		{name: "just expired", coll: "stores", storeID: 2, at: t0.Add(-7 * day)},
		{name: "just alive", coll: "products", storeID: 2, at: t0.Add(-7*day + time.Millisecond)},
		{name: "one hour left", coll: "credentials", storeID: 3, at: t0.Add(-7*day + time.Hour)},
		{name: "three hours left", coll: "products", storeID: 1, at: t0.Add(-7*day + 3*time.Hour)},
		{name: "fresh", coll: "products", storeID: 3, at: t0},
		{name: "no created_at", coll: "products", storeID: 0},
	}
	for _, d := range docs {
		d.id = put(t, s, d.coll, d.storeID, d.at)
	}
	alive := func() []string {
		var names []string
		for _, d := range docs {
			if exists(t, s, d.coll, d.storeID, d.id) {
				names = append(names, d.name)
			}
		}
		return names
	}

	steps := []struct {
		name        string
		advance     time.Duration
		wantFrom    string
		wantTo      string
		wantTotal   int64
		wantLagging bool
		wantAlive   []string
	}{
		{"first round: no cursor, everything up to the cutoff", 0, "", db.Timestamp(t0.Add(-7 * day)), 2, false,
			[]string{"just alive", "one hour left", "three hours left", "fresh", "no created_at"}},
		{"same instant: nothing due", 0, db.Timestamp(t0.Add(-7 * day)), db.Timestamp(t0.Add(-7 * day)), 0, false,
			[]string{"just alive", "one hour left", "three hours left", "fresh", "no created_at"}},
		{"an hour later: the window of that hour", time.Hour, db.Timestamp(t0.Add(-7 * day)), db.Timestamp(t0.Add(-7*day + time.Hour)), 2, false,
			[]string{"three hours left", "fresh", "no created_at"}},
		{"ten hours later: one window of two hours, lagging", 10 * time.Hour, db.Timestamp(t0.Add(-7*day + time.Hour)), db.Timestamp(t0.Add(-7*day + 3*time.Hour)), 1, true,
			[]string{"fresh", "no created_at"}},
		{"caught up window by window", 0, db.Timestamp(t0.Add(-7*day + 3*time.Hour)), db.Timestamp(t0.Add(-7*day + 5*time.Hour)), 0, true,
			[]string{"fresh", "no created_at"}},
		{"eight days later: the fresh one goes, the one without created_at stays", 8 * day, "", "", -1, false,
			[]string{"no created_at"}},
	}
	for _, st := range steps {
		c.t = c.t.Add(st.advance)
		if st.wantTotal < 0 {
			// Run until caught up.
			for i := 0; ; i++ {
				r, err := p.Round(ctx)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if !r.Lagging {
					break
				}
				if i > 200 {
					t.Fatalf("%s: still lagging after %d rounds", st.name, i)
				}
			}
		} else {
			r, err := p.Round(ctx)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if r.From != st.wantFrom || r.To != st.wantTo || r.Total != st.wantTotal || r.Lagging != st.wantLagging {
				t.Errorf("%s: got (%s, %s] total %d lagging %v; want (%s, %s] total %d lagging %v",
					st.name, r.From, r.To, r.Total, r.Lagging, st.wantFrom, st.wantTo, st.wantTotal, st.wantLagging)
			}
		}
		if got := alive(); !slices.Equal(got, st.wantAlive) {
			t.Errorf("%s: alive %v, want %v", st.name, got, st.wantAlive)
		}
	}
	want := []string{"stores:1", "products:1", "products:1", "credentials:1", "products:1", "products:1"}
	if !slices.Equal(purged, want) {
		t.Errorf("OnPurge calls %v, want %v", purged, want)
	}
}

func TestPurgeCursorIsKept(t *testing.T) {
	ctx := context.Background()
	s := openDB(t)
	c := &clock{t: t0}
	opts := PurgeOptions{Store: s, Collections: []string{"products"}, MaxAge: time.Hour, Interval: time.Minute, Now: c.now}
	p, err := NewPurger(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Round(ctx); err != nil {
		t.Fatal(err)
	}
	// A document older than the cursor can only be a clock gone backwards: a purge that
	// resumes from the stored cursor does not look behind it again, which is what makes
	// its rounds bounded.
	behind := put(t, s, "products", 1, t0.Add(-2*time.Hour))
	c.t = c.t.Add(time.Minute)
	p2, err := NewPurger(opts) // a restarted process
	if err != nil {
		t.Fatal(err)
	}
	r, err := p2.Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.From != db.Timestamp(t0.Add(-time.Hour)) {
		t.Errorf("restarted purge starts at %q, want the stored cursor %s", r.From, db.Timestamp(t0.Add(-time.Hour)))
	}
	if !exists(t, s, "products", 1, behind) {
		t.Errorf("a document behind the cursor was deleted: the round was not bounded by its window")
	}
	// The cursor never goes back, even when another node stored a later one.
	if err := p.saveCursor(ctx, db.Timestamp(t0.Add(-5*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.cursor(ctx); got != r.To {
		t.Errorf("cursor %s after saving an older one, want %s", got, r.To)
	}
}

func TestPurgeErrorKeepsCursor(t *testing.T) {
	ctx := context.Background()
	s := openDB(t)
	c := &clock{t: t0}
	// "Bad-Name" is refused by the engine: the round fails for it, deletes in the
	// others, and the cursor stays, so the window is purged again next round.
	p, err := NewPurger(PurgeOptions{Store: s, Collections: []string{"products", "Bad-Name"}, MaxAge: time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	old := put(t, s, "products", 1, t0.Add(-2*time.Hour))
	r, err := p.Round(ctx)
	if err == nil {
		t.Fatalf("round over a refused collection: no error")
	}
	if r.Deleted["products"] != 1 || exists(t, s, "products", 1, old) {
		t.Errorf("the other collections were not purged: %v", r.Deleted)
	}
	if got, _ := p.cursor(ctx); got != "" {
		t.Errorf("cursor moved to %q after a failed round", got)
	}
}

func TestPurgeRun(t *testing.T) {
	s := openDB(t)
	p, err := NewPurger(PurgeOptions{Store: s, Collections: []string{"products"}, MaxAge: 200 * time.Millisecond,
		Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	id := put(t, s, "products", 1, time.Now())
	deadline := time.Now().Add(5 * time.Second)
	for exists(t, s, "products", 1, id) {
		if time.Now().After(deadline) {
			t.Fatal("the document is still there 5 s after it expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
}

func TestNewPurgerRefuses(t *testing.T) {
	s := openDB(t)
	for _, tc := range []struct {
		name string
		opts PurgeOptions
	}{
		{"no store", PurgeOptions{Collections: []string{"products"}}},
		{"no collections", PurgeOptions{Store: s}},
		{"empty collection name", PurgeOptions{Store: s, Collections: []string{""}}},
		{"negative age", PurgeOptions{Store: s, Collections: []string{"products"}, MaxAge: -time.Second}},
		{"window under a millisecond", PurgeOptions{Store: s, Collections: []string{"products"}, Window: time.Microsecond}},
	} {
		if _, err := NewPurger(tc.opts); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// BenchmarkPurge measures a purge round on SQLite over 10,000 products of 10 stores:
// with half of them expired (docs/s is the delete rate), with and without the product
// indexes the resource engine keeps (maintained on every delete), and with none
// expired (the cost of a round with nothing to do: DeleteMany over all stores cannot
// use the store-prefixed indexes, so it reads the collection).
func BenchmarkPurge(b *testing.B) {
	for _, tc := range []struct {
		name     string
		indexed  bool
		expiring bool
	}{{"half_expired", false, true}, {"half_expired_indexed", true, true}, {"nothing_due_indexed", true, false}} {
		b.Run(tc.name, func(b *testing.B) { benchPurge(b, tc.indexed, tc.expiring) })
	}
}

func benchPurge(b *testing.B, indexed, expiring bool) {
	ctx := context.Background()
	const n = 10000
	var total int64
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		s := openDB(b)
		if indexed {
			for _, r := range resources.DefaultRules() {
				if r.Name == "products" {
					if err := s.EnsureIndexes(ctx, "products", r.Indexes); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		c := &clock{t: t0}
		for i := range n {
			at := t0.Add(-time.Duration(i) * time.Minute) // half older than 5000 minutes
			d := db.Doc{"_id": db.NewID(), "store_id": int64(1 + i%10), Field: db.Timestamp(at),
				"sku": fmt.Sprintf("SKU-%d", i), "slug": fmt.Sprintf("product-%d", i), "name": "Product", "price": i,
				"categories": []any{map[string]any{"_id": fmt.Sprintf("%024x", i%7), "name": "C"}}}
			if err := s.Insert(ctx, "products", d); err != nil {
				b.Fatal(err)
			}
		}
		maxAge, want := 5000*time.Minute, int64(n/2)
		if !expiring {
			maxAge, want = 30*24*time.Hour, 0
		}
		p, err := NewPurger(PurgeOptions{Store: s, Collections: []string{"products"}, MaxAge: maxAge, Now: c.now})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		b.StartTimer()
		r, err := p.Round(ctx)
		took += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if r.Total != want {
			b.Fatalf("deleted %d, want %d", r.Total, want)
		}
		total += r.Total
	}
	if expiring {
		b.ReportMetric(float64(total)/took.Seconds(), "docs/s")
	}
}
