package cache

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"storeapi/db"
	"storeapi/db/sqlite"
)

// openSQLite opens a SQLite database file in dir (shared when two nodes open one path).
func openSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// product is a minimal document of a store.
func product(storeID int64) db.Doc {
	return db.Doc{"_id": db.NewID(), "store_id": storeID, "sku": "s" + db.NewID()[18:]}
}

func TestWrapStoreInvalidates(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "db.sqlite"))
	f := newFixture(t, Options{MaxMB: 4, Store: nil, SkipCollections: []string{"triggers"}})
	s := WrapStore(inner, f.c)
	ctx := t.Context()
	existing := product(5)
	if err := s.Insert(ctx, "products", existing); err != nil {
		t.Fatal(err)
	}
	fill := func() {
		t.Helper()
		for _, store := range []string{"5", "6"} {
			f.do("GET", "/v1/products.json", "X-Store-ID", store)
			want(t, "filled store "+store, f.do("GET", "/v1/products.json", "X-Store-ID", store), 200, "HIT")
		}
	}
	expect := func(what string, store5, store6 string) {
		t.Helper()
		want(t, what+": store 5", f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, store5)
		want(t, what+": store 6", f.do("GET", "/v1/products.json", "X-Store-ID", "6"), 200, store6)
	}
	id := existing["_id"].(string)
	errRefused := errors.New("refused by the handler")
	tests := []struct {
		name           string
		write          func() error
		store5, store6 string
	}{
		{"insert", func() error { return s.Insert(ctx, "products", product(5)) }, "MISS", "HIT"},
		{"insert json.Number store", func() error {
			d := product(5)
			d["store_id"] = json.Number("6")
			return s.Insert(ctx, "products", d)
		}, "HIT", "MISS"},
		{"duplicate insert", func() error {
			err := s.Insert(ctx, "products", db.Doc{"_id": id, "store_id": int64(5)})
			if !errors.Is(err, db.ErrDuplicate) {
				return errors.New("want ErrDuplicate")
			}
			return nil
		}, "HIT", "HIT"},
		{"update", func() error {
			_, err := s.Update(ctx, "products", 5, id, func(d db.Doc) (db.Doc, error) { d["sku"] = "changed"; return d, nil })
			return err
		}, "MISS", "HIT"},
		{"update not found", func() error {
			_, err := s.Update(ctx, "products", 6, id, func(d db.Doc) (db.Doc, error) { return d, nil })
			if !errors.Is(err, db.ErrNotFound) {
				return errors.New("want ErrNotFound")
			}
			return nil
		}, "HIT", "HIT"},
		{"update refused by its function", func() error {
			_, err := s.Update(ctx, "products", 5, id, func(db.Doc) (db.Doc, error) { return nil, errRefused })
			if !errors.Is(err, errRefused) {
				return errors.New("want the function's error")
			}
			return nil
		}, "HIT", "HIT"},
		{"skipped collection", func() error { return s.Insert(ctx, "triggers", product(5)) }, "HIT", "HIT"},
		{"delete nothing", func() error {
			_, err := s.DeleteMany(ctx, "products", 5, []db.Cond{{Path: "sku", Op: db.OpEq, Values: []db.Value{{Typed: "none", Raw: "none"}}}})
			return err
		}, "HIT", "HIT"},
		{"delete one store's", func() error {
			n, err := s.DeleteMany(ctx, "products", 6, nil)
			if n == 0 {
				return errors.New("nothing deleted")
			}
			return err
		}, "HIT", "MISS"},
		{"delete every store's", func() error {
			n, err := s.DeleteMany(ctx, "products", 0, nil)
			if n == 0 {
				return errors.New("nothing deleted")
			}
			return err
		}, "MISS", "MISS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fill()
			if err := tt.write(); err != nil {
				t.Fatal(err)
			}
			expect(tt.name, tt.store5, tt.store6)
		})
	}
	// The markers are in the events collection, one per store written.
	docs, err := inner.Find(ctx, EventsCollection, db.Query{StoreID: 0, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range docs {
		got[d["_id"].(string)] = true
	}
	for _, want := range []int64{0, 5, 6} {
		if !got[markerID(want)] {
			t.Errorf("no marker %s for store %d in %v", markerID(want), want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("markers %v, want 3", got)
	}
}

// node is one storeapi process: a cache, its fixture and its decorated store.
type node struct {
	f *fixture
	s db.Store
}

func newNode(t *testing.T, inner db.Store, opts Options) node {
	f := newFixture(t, opts)
	return node{f: f, s: WrapStore(inner, f.c)}
}

// The nodes share one sqlite.Store: the SQLite engine keeps its schema knowledge in
// the process, so two processes must not share one file; several nodes share MongoDB.
func TestTwoNodesSync(t *testing.T) {
	shared := openSQLite(t, filepath.Join(t.TempDir(), "shared.sqlite"))
	a := newNode(t, shared, Options{MaxMB: 4})
	b := newNode(t, shared, Options{MaxMB: 4})
	ctx := t.Context()
	for _, n := range []node{a, b} {
		for _, store := range []string{"5", "6"} {
			n.f.do("GET", "/v1/products.json", "X-Store-ID", store)
		}
	}
	if err := a.s.Insert(ctx, "products", product(5)); err != nil {
		t.Fatal(err)
	}
	want(t, "a, at once", a.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "MISS")
	want(t, "b, before it polls", b.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "HIT")
	if err := b.f.c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want(t, "b, after it polled", b.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "MISS")
	want(t, "b, other store", b.f.do("GET", "/v1/products.json", "X-Store-ID", "6"), 200, "HIT")
	// A node's own markers do not invalidate it a second time.
	if err := a.f.c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want(t, "a, own marker", a.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "HIT")
	// Nor does a marker already seen.
	if err := b.f.c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want(t, "b, marker seen", b.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "HIT")
	// A second write to the same store (same marker document, new version) is seen too.
	if _, err := a.s.DeleteMany(ctx, "products", 5, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.f.c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want(t, "b, second write", b.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "MISS")
}

// TestTwoNodesRun lets the poller run on the real clock: a write on one node must be
// seen by the other within a few poll intervals (the wait below is a deadline for a
// hung test, not a measurement).
func TestTwoNodesRun(t *testing.T) {
	shared := openSQLite(t, filepath.Join(t.TempDir(), "shared.sqlite"))
	opts := Options{MaxMB: 4, Poll: 20 * time.Millisecond, Now: time.Now}
	a := newNode(t, shared, opts)
	b := newNode(t, shared, opts)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.f.c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for round := range 3 {
		b.f.do("GET", "/v1/brands.json", "X-Store-ID", "9")
		want(t, "b filled", b.f.do("GET", "/v1/brands.json", "X-Store-ID", "9"), 200, "HIT")
		if err := a.s.Insert(t.Context(), "brands", product(9)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for b.f.do("GET", "/v1/brands.json", "X-Store-ID", "9").Header().Get("X-Cache") == "HIT" {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: node b never saw node a's write", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestMarkerPurge(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "db.sqlite"))
	n := newNode(t, inner, Options{MaxMB: 1})
	ctx := t.Context()
	for _, id := range []int64{5, 6, 7} {
		if err := n.s.Insert(ctx, "products", product(id)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 {
		c, err := inner.Count(ctx, EventsCollection, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := count(); got != 3 {
		t.Fatalf("%d markers, want 3", got)
	}
	if err := n.f.c.purge(ctx); err != nil || count() != 3 {
		t.Fatalf("fresh markers purged (err %v, %d left)", err, count())
	}
	n.f.clock.Advance(eventsRetention + time.Second)
	if err := n.s.Insert(ctx, "products", product(8)); err != nil {
		t.Fatal(err)
	}
	if err := n.f.c.purge(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 1 {
		t.Errorf("%d markers after the purge, want only the fresh one", got)
	}
	// Purging the markers (a DeleteMany of every store) invalidated nothing.
	n.f.do("GET", "/v1/products.json", "X-Store-ID", "5")
	if err := n.f.c.purge(ctx); err != nil {
		t.Fatal(err)
	}
	want(t, "after purge", n.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "HIT")
}

// TestPollGap drops the whole cache when polls failed for longer than markers are kept.
func TestPollGap(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "db.sqlite"))
	n := newNode(t, inner, Options{MaxMB: 1})
	n.f.do("GET", "/v1/products.json", "X-Store-ID", "5")
	n.f.clock.Advance(eventsRetention)
	if err := n.f.c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	want(t, "after a long gap", n.f.do("GET", "/v1/products.json", "X-Store-ID", "5"), 200, "MISS")
}
