package resources

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"storeapi/db"
	"storeapi/db/sqlite"
)

func TestCountCache(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(ctx)
	gen := uint64(1)
	follow := true
	cc := newCountCache(func(string, int64) (uint64, bool) { return gen, follow }, 2)
	insert := func(id string) {
		if err := store.Insert(ctx, "products", db.Doc{"_id": id, "store_id": json.Number("1"), "sku": "a"}); err != nil {
			t.Fatal(err)
		}
	}
	conds := []db.Cond{{Path: "sku", Op: db.OpEq, Values: []db.Value{{Typed: "a", Raw: "a"}}}}
	count := func(want int64) {
		t.Helper()
		n, err := cc.count(ctx, store, "products", 1, conds)
		if err != nil || n != want {
			t.Fatalf("count %d (%v), want %d", n, err, want)
		}
	}
	insert("000000000000000000000001")
	count(1)
	insert("000000000000000000000002")
	count(1) // same generation: remembered
	gen++
	count(2) // a new generation counts again
	follow = false
	insert("000000000000000000000003")
	count(3) // a collection the generation does not follow is always counted
	follow = true
	for i := 0; i < 3; i++ { // more keys than the bound: the memory starts over
		if _, err := cc.count(ctx, store, "products", int64(10+i), conds); err != nil {
			t.Fatal(err)
		}
	}
	if len(cc.counts) > 2 {
		t.Errorf("%d counts remembered, bound 2", len(cc.counts))
	}
}
