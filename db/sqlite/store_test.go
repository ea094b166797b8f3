package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"storeapi/db"
	"storeapi/db/dbtest"
)

// indexedPaths are the paths the conformance suite filters and sorts on.
var indexedPaths = []string{"name", "price", "active", "big", "nope", "created_at", "dims.w", "dims.unit",
	"categories._id", "categories.name", "tags", "group", "status", "kind", "amount", "items.sku", "sku"}

// indexing wraps a Store so that every collection gets an index on each of
// indexedPaths, either before its first document (early) or before its first read
// (late, so the indexes are built over existing data). It runs the conformance suite
// through expression indexes and the multikey side table instead of json_each scans.
type indexing struct {
	*Store
	late bool
	mu   sync.Mutex
	done map[string]bool
}

func (w *indexing) ensure(ctx context.Context, coll string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done[coll] {
		return
	}
	w.done[coll] = true
	var idx []db.Index
	for _, p := range indexedPaths {
		idx = append(idx, db.Index{Paths: []string{p}})
	}
	if err := w.Store.EnsureIndexes(ctx, coll, idx); err != nil {
		panic(fmt.Sprintf("EnsureIndexes: %v", err))
	}
}

func (w *indexing) Insert(ctx context.Context, coll string, doc db.Doc, records ...db.Record) error {
	if !w.late {
		w.ensure(ctx, coll)
	}
	return w.Store.Insert(ctx, coll, doc, records...)
}

func (w *indexing) Find(ctx context.Context, coll string, q db.Query) ([]db.Doc, error) {
	w.ensure(ctx, coll)
	return w.Store.Find(ctx, coll, q)
}

func (w *indexing) Count(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	w.ensure(ctx, coll)
	return w.Store.Count(ctx, coll, storeID, conds)
}

func TestConformanceIndexed(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			dbtest.Run(t, func(t *testing.T) db.Store {
				return &indexing{Store: openTemp(t), late: late, done: map[string]bool{}}
			})
		})
	}
}

// TestConformanceReopened runs the suite on a Store that was closed and opened again
// after its indexes were declared, so the persisted knowledge (multikey paths) is used.
func TestConformanceReopened(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) db.Store {
		path := filepath.Join(t.TempDir(), "re.db")
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		w := &indexing{Store: s, done: map[string]bool{}}
		for _, c := range []string{"things", "products", "items", "sorting", "projected", "orders", "carts", "events"} {
			w.ensure(t.Context(), c)
		}
		// Make some paths multikey before the suite writes anything.
		if err := s.Insert(t.Context(), "items", db.Doc{"_id": "seed", "store_id": int64(99), "tags": []any{"x"},
			"categories": []any{map[string]any{"_id": "x", "name": "x"}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		s, err = Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		ci := s.info("items")
		if ci == nil || !ci.paths["tags"] || !ci.paths["categories._id"] || ci.paths["name"] {
			t.Fatalf("reopened knowledge of items = %+v; want tags and categories._id multikey, name not", ci)
		}
		return &indexing{Store: s, done: map[string]bool{"things": true, "products": true, "items": true, "sorting": true,
			"projected": true, "orders": true, "carts": true, "events": true}}
	})
}

func num(s string) json.Number { return json.Number(s) }

func str(s string) db.Value { return db.Value{Typed: s, Raw: s} }

// explain returns SQLite's query plan of the statement Find would run.
func explain(t *testing.T, s *Store, coll string, q db.Query) string {
	t.Helper()
	c := newCompiler(s.info(coll), coll, q.StoreID)
	if query, ok, err := c.sortedFind(q); ok || err != nil {
		if err != nil {
			t.Fatal(err)
		}
		return plan(t, s, "EXPLAIN QUERY PLAN "+query, c.args)
	}
	fo, err := s.plan(t.Context(), s.info(coll), coll, q)
	if err != nil {
		t.Fatal(err)
	}
	c.filterOnly = fo
	where, err := c.where(q.Conds)
	if err != nil {
		t.Fatal(err)
	}
	order, err := c.orderBy(q.Sort)
	if err != nil {
		t.Fatal(err)
	}
	query := "EXPLAIN QUERY PLAN SELECT t.id, t.doc FROM " + quoteIdent(coll) + " AS t WHERE " + where + " ORDER BY " + order + " LIMIT " + c.arg(int64(20))
	return plan(t, s, query, c.args)
}

func plan(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

func TestPlans(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.EnsureIndexes(ctx, "products", []db.Index{
		{Paths: []string{"sku"}, Unique: true}, {Paths: []string{"price"}}, {Paths: []string{"categories._id"}},
		{Paths: []string{"categories._id", "name"}},
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.Insert(ctx, "products", db.Doc{"_id": fmt.Sprintf("%024x", i), "store_id": int64(1 + i%3),
			"sku": fmt.Sprintf("S%d", i), "price": int64(i), "name": fmt.Sprint(i % 7), "categories": []any{map[string]any{"_id": fmt.Sprintf("c%d", i%5)}}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		q       db.Query
		want    []string
		notWant []string
	}{
		{"sku equality uses the unique expression index", db.Query{StoreID: 1, Conds: []db.Cond{{Path: "sku", Op: db.OpEq, Values: []db.Value{str("S3")}}}},
			[]string{"storeapi_ix_products_"}, []string{"SCAN t"}},
		{"price range uses the price index", db.Query{StoreID: 1, Conds: []db.Cond{{Path: "price", Op: db.OpGte, Values: []db.Value{{Typed: int64(10), Raw: "10"}}}}},
			[]string{"storeapi_ix_products_", ">?"}, []string{"SCAN t"}},
		{"sort by price walks the price index", db.Query{StoreID: 1, Sort: []db.SortField{{Path: "price", Desc: true}}},
			[]string{"storeapi_ix_products_"}, []string{"USE TEMP B-TREE FOR ORDER BY", "SCAN"}},
		{"category filter uses the side table", db.Query{StoreID: 1, Conds: []db.Cond{{Path: "categories._id", Op: db.OpEq, Values: []db.Value{str("c1")}}}},
			[]string{"SEARCH m USING PRIMARY KEY (path=? AND store_id=? AND v=?)"}, []string{"SCAN"}},
		{"category sorted by name walks the compound index", db.Query{StoreID: 1, Limit: 5, Sort: []db.SortField{{Path: "name", Desc: true}},
			Conds: []db.Cond{{Path: "categories._id", Op: db.OpEq, Values: []db.Value{str("c1")}}}},
			[]string{"SEARCH x USING COVERING INDEX storeapi_mk2x_products (ix=? AND store_id=? AND v=?)", "SEARCH t USING PRIMARY KEY (id=?)"},
			[]string{"SCAN", "USE TEMP B-TREE FOR ORDER BY"}},
		{"no sort walks the store index in _id order", db.Query{StoreID: 1},
			[]string{"storeapi_st_products"}, []string{"TEMP B-TREE", "SCAN"}},
	}
	for _, tc := range tests {
		plan := explain(t, s, "products", tc.q)
		for _, w := range tc.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: plan lacks %q:\n%s", tc.name, w, plan)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(plan, w) {
				t.Errorf("%s: plan has %q:\n%s", tc.name, w, plan)
			}
		}
	}
}

func ids(docs []db.Doc) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d["_id"].(string))
	}
	slices.Sort(out)
	return out
}

// TestMultikeyFlip checks that a path indexed as a scalar keeps answering right when a
// document first puts an array on it, when that document changes, and when it goes.
func TestMultikeyFlip(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.EnsureIndexes(ctx, "p", []db.Index{{Paths: []string{"code"}, Unique: true}, {Paths: []string{"v.x"}}}); err != nil {
		t.Fatal(err)
	}
	ins := func(d db.Doc) {
		t.Helper()
		if err := s.Insert(ctx, "p", d); err != nil {
			t.Fatal(err)
		}
	}
	find := func(path string, v db.Value) []string {
		t.Helper()
		docs, err := s.Find(ctx, "p", db.Query{StoreID: 1, Conds: []db.Cond{{Path: path, Op: db.OpEq, Values: []db.Value{v}}}})
		if err != nil {
			t.Fatal(err)
		}
		return ids(docs)
	}
	ins(db.Doc{"_id": "a", "store_id": int64(1), "code": "A", "v": map[string]any{"x": int64(1)}})
	ins(db.Doc{"_id": "b", "store_id": int64(1), "code": "B", "v": map[string]any{"x": int64(2)}})
	if s.info("p").paths["code"] || s.info("p").paths["v.x"] {
		t.Fatalf("paths multikey before any array: %+v", s.info("p").paths)
	}
	if got := find("v.x", db.Value{Typed: int64(2), Raw: "2"}); !slices.Equal(got, []string{"b"}) {
		t.Errorf("v.x=2 before flip = %v", got)
	}

	ins(db.Doc{"_id": "c", "store_id": int64(1), "code": []any{"C1", "C2"}, "v": []any{map[string]any{"x": int64(2)}, map[string]any{"x": int64(3)}}})
	if !s.info("p").paths["code"] || !s.info("p").paths["v.x"] {
		t.Fatalf("paths not multikey after an array: %+v", s.info("p").paths)
	}
	for _, tc := range []struct {
		path string
		v    db.Value
		want []string
	}{
		{"v.x", db.Value{Typed: int64(2), Raw: "2"}, []string{"b", "c"}},
		{"v.x", db.Value{Typed: int64(1), Raw: "1"}, []string{"a"}},
		{"code", str("C2"), []string{"c"}},
		{"code", str("A"), []string{"a"}},
		{"v.x", db.Value{Typed: nil, Raw: "null"}, nil},
	} {
		if got := find(tc.path, tc.v); !slices.Equal(got, tc.want) {
			t.Errorf("%s=%v after flip = %v; want %v", tc.path, tc.v.Typed, got, tc.want)
		}
	}
	// The unique index now holds across array elements.
	for _, code := range []any{"C1", []any{"Z", "A"}} {
		err := s.Insert(ctx, "p", db.Doc{"_id": "d", "store_id": int64(1), "code": code})
		if !errors.Is(err, db.ErrDuplicate) {
			t.Errorf("Insert code %v = %v; want ErrDuplicate", code, err)
		}
	}
	// Other stores may reuse the value.
	ins(db.Doc{"_id": "e", "store_id": int64(2), "code": "C1"})

	// Updating and deleting keep the side table right.
	if _, err := s.Update(ctx, "p", 1, "c", func(d db.Doc) (db.Doc, error) {
		d["code"] = "C3"
		delete(d, "v")
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := find("code", str("C2")); got != nil {
		t.Errorf("old value still found: %v", got)
	}
	if got := find("code", str("C3")); !slices.Equal(got, []string{"c"}) {
		t.Errorf("new value = %v", got)
	}
	if got := find("v.x", db.Value{Typed: nil, Raw: "null"}); !slices.Equal(got, []string{"c"}) {
		t.Errorf("v.x=null after removing v = %v", got)
	}
	if _, err := s.Update(ctx, "p", 1, "c", func(db.Doc) (db.Doc, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteMany(ctx, "p", 0, []db.Cond{{Path: "code", Op: db.OpEq, Values: []db.Value{str("A")}}}); err != nil || n != 1 {
		t.Errorf("DeleteMany code=A = %d, %v", n, err)
	}
	var side int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM storeapi_mk_p WHERE id IN ('a', 'c')`).Scan(&side); err != nil || side != 0 {
		t.Errorf("side rows of deleted documents = %d, %v; want 0", side, err)
	}
	ins(db.Doc{"_id": "f", "store_id": int64(1), "code": "C2"})
}

func TestContainsUnicode(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for i, name := range []string{"Camisa Açaí", "ÁGUA de coco", "plain", "100% off_now"} {
		if err := s.Insert(ctx, "p", db.Doc{"_id": fmt.Sprint(i), "store_id": int64(1), "name": name, "tags": []any{name}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EnsureIndexes(ctx, "p", []db.Index{{Paths: []string{"tags"}}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"name", "tags"} {
		for _, tc := range []struct {
			needle string
			want   []string
		}{
			{"AÇAÍ", []string{"0"}},
			{"água", []string{"1"}},
			{"A", []string{"0", "1", "2"}},
			{"%", []string{"3"}},
			{"_", []string{"3"}},
			{"% off_", []string{"3"}},
			{"", []string{"0", "1", "2", "3"}},
		} {
			docs, err := s.Find(ctx, "p", db.Query{StoreID: 1, Conds: []db.Cond{{Path: path, Op: db.OpContains, Values: []db.Value{str(tc.needle)}}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(docs); !slices.Equal(got, tc.want) {
				t.Errorf("%s contains %q = %v; want %v", path, tc.needle, got, tc.want)
			}
		}
	}
}

func TestNumericSegments(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	docs := []db.Doc{
		{"_id": "a", "store_id": int64(1), "items": []any{map[string]any{"sku": "x"}, map[string]any{"sku": "y"}}},
		{"_id": "b", "store_id": int64(1), "items": []any{map[string]any{"sku": "y"}}},
		{"_id": "c", "store_id": int64(1), "items": map[string]any{"0": map[string]any{"sku": "y"}}},
		{"_id": "d", "store_id": int64(1), "items": []any{map[string]any{"0": map[string]any{"sku": "y"}}}},
	}
	for _, d := range docs {
		if err := s.Insert(ctx, "p", d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Find(ctx, "p", db.Query{StoreID: 1, Conds: []db.Cond{{Path: "items.0.sku", Op: db.OpEq, Values: []db.Value{str("y")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "c", "d"}; !slices.Equal(ids(got), want) {
		t.Errorf("items.0.sku=y = %v; want %v", ids(got), want)
	}
}

func TestBadInput(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.Insert(ctx, "p", db.Doc{"_id": "a", "store_id": int64(1), "x": "1"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{`a"b`, `a'b`, "a..b", "", "$where", "a.", "a b", `x") OR 1=1 --`} {
		_, err := s.Find(ctx, "p", db.Query{StoreID: 1, Conds: []db.Cond{{Path: path, Op: db.OpEq, Values: []db.Value{str("1")}}}})
		if !errors.Is(err, db.ErrUnsupported) {
			t.Errorf("Find path %q = %v; want ErrUnsupported", path, err)
		}
		if _, err := s.Find(ctx, "p", db.Query{StoreID: 1, Sort: []db.SortField{{Path: path}}}); !errors.Is(err, db.ErrUnsupported) {
			t.Errorf("Find sort %q = %v; want ErrUnsupported", path, err)
		}
		if _, err := s.Find(ctx, "p", db.Query{StoreID: 1, Fields: []string{path}}); !errors.Is(err, db.ErrUnsupported) {
			t.Errorf("Find fields %q = %v; want ErrUnsupported", path, err)
		}
	}
	for _, coll := range []string{"P", "a-b", "storeapi_paths", "sqlite_master", "x;drop", ""} {
		if _, err := s.Find(ctx, coll, db.Query{StoreID: 1}); err == nil {
			t.Errorf("Find in collection %q succeeded", coll)
		}
	}
	for _, d := range []db.Doc{{"store_id": int64(1)}, {"_id": "z"}, {"_id": "z", "store_id": "1"}, {"_id": "z", "store_id": 1.5}} {
		if err := s.Insert(ctx, "p", d); err == nil {
			t.Errorf("Insert %v succeeded", d)
		}
	}
	// A deep path without an index is refused rather than expanded without bound.
	deep := strings.Repeat("a.", 40) + "b"
	if _, err := s.Find(ctx, "p", db.Query{StoreID: 1, Conds: []db.Cond{{Path: deep, Op: db.OpEq, Values: []db.Value{str("1")}}}}); !errors.Is(err, db.ErrUnsupported) {
		t.Errorf("Find on a 41-segment path = %v; want ErrUnsupported", err)
	}
}

func TestMatchConds(t *testing.T) {
	got := matchConds(map[string]any{
		"a":    "x",
		"b":    map[string]any{"$gt": num("1"), "$lte": num("5"), "$ne": "z"},
		"c":    map[string]any{"$in": []any{"p", num("2")}},
		"d":    map[string]any{"$in": []any{map[string]any{"o": 1}}},
		"$or":  []any{map[string]any{"e": "x"}},
		"$and": []any{map[string]any{"f": true}},
		"g.h":  nil,
		"bad'": "x",
	})
	want := map[string]db.Op{"a": db.OpEq, "b": db.OpGte, "c": db.OpEq, "f": db.OpEq, "g.h": db.OpEq}
	seen := map[string]int{}
	for _, cd := range got {
		seen[cd.Path]++
		if op, ok := want[cd.Path]; !ok || (cd.Path != "b" && op != cd.Op) {
			t.Errorf("unexpected condition %+v", cd)
		}
	}
	if seen["b"] != 2 || seen["a"] != 1 || seen["c"] != 1 || seen["f"] != 1 || seen["g.h"] != 1 {
		t.Errorf("conditions = %+v", got)
	}
}

// FuzzFind throws arbitrary paths, operators and values at Find and Count: they must
// answer or fail with an error, never panic, and never reach SQL with a bad path.
func FuzzFind(f *testing.F) {
	f.Add("name", 0, "x", int64(1), true, "price")
	f.Add("categories._id", 1, "c1", int64(-3), false, "-x")
	f.Add(`a"); DROP TABLE p; --`, 4, "%_'\"", int64(0), true, "a.b.0")
	f.Add("items.0.sku", 2, "", int64(9007199254740993), false, "tags")
	s := openTemp(f)
	ctx := context.Background()
	if err := s.EnsureIndexes(ctx, "p", []db.Index{{Paths: []string{"tags"}}, {Paths: []string{"price"}}}); err != nil {
		f.Fatal(err)
	}
	for i, d := range []db.Doc{
		{"_id": "a", "store_id": int64(1), "name": "x", "price": int64(1), "tags": []any{"x", "y"}, "items": []any{map[string]any{"sku": "x"}}},
		{"_id": "b", "store_id": int64(1), "name": "Y", "price": "1", "categories": []any{map[string]any{"_id": "c1"}}},
	} {
		if err := s.Insert(ctx, "p", d); err != nil {
			f.Fatal(i, err)
		}
	}
	f.Fuzz(func(t *testing.T, path string, op int, sv string, iv int64, useInt bool, sortPath string) {
		v := db.Value{Typed: sv, Raw: sv}
		if useInt {
			v = db.Value{Typed: iv, Raw: fmt.Sprint(iv)}
		}
		conds := []db.Cond{{Path: path, Op: db.Op(op % 6), Values: []db.Value{v, {Typed: nil, Raw: "null"}}}}
		q := db.Query{StoreID: 1, Conds: conds, Sort: []db.SortField{{Path: strings.TrimPrefix(sortPath, "-"), Desc: strings.HasPrefix(sortPath, "-")}},
			Fields: []string{path}, Limit: 5}
		_, ferr := s.Find(ctx, "p", q)
		_, cerr := s.Count(ctx, "p", 1, conds)
		if checkPath(path) != nil && (ferr == nil || cerr == nil) {
			t.Errorf("invalid path %q accepted: %v %v", path, ferr, cerr)
		}
		for _, err := range []error{ferr, cerr} {
			if err != nil && !errors.Is(err, db.ErrUnsupported) {
				t.Errorf("path %q op %d: unexpected error %v", path, op, err)
			}
		}
		if n, err := s.Count(ctx, "p", 1, nil); err != nil || n != 2 {
			t.Fatalf("documents changed: %d, %v", n, err)
		}
	})
}

func TestAggregateBound(t *testing.T) {
	s := openTemp(t)
	s.maxAggregate = 5
	ctx := t.Context()
	for i := range 8 {
		if err := s.Insert(ctx, "o", db.Doc{"_id": fmt.Sprint(i), "store_id": int64(1), "status": []string{"a", "b"}[i%2], "n": int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		pipeline []db.Doc
		want     string // "" for the bound error
	}{
		{"over the bound", []db.Doc{{"$count": "n"}}, ""},
		{"first $match that is not pushed down", []db.Doc{{"$match": db.Doc{"status": db.Doc{"$ne": "a"}}}, {"$count": "n"}}, ""},
		{"first $match pushed down brings it under", []db.Doc{{"$match": db.Doc{"status": "a"}}, {"$count": "n"}}, `[{"n":4}]`},
		{"pushed-down range keeps exact semantics", []db.Doc{{"$match": db.Doc{"n": db.Doc{"$gt": num("5")}}}, {"$count": "n"}}, `[{"n":2}]`},
		{"pushed-down $in", []db.Doc{{"$match": db.Doc{"n": db.Doc{"$in": []any{num("1"), num("2"), "3"}}}}, {"$count": "n"}}, `[{"n":2}]`},
	}
	for _, tc := range tests {
		got, err := s.Aggregate(ctx, "o", 1, tc.pipeline)
		if tc.want == "" {
			if !errors.Is(err, db.ErrUnsupported) || !strings.Contains(err.Error(), "more than 5") {
				t.Errorf("%s: Aggregate = %v, %v; want the bound error", tc.name, got, err)
			}
			continue
		}
		b, _ := json.Marshal(got)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: Aggregate = %s, %v; want %s", tc.name, b, err, tc.want)
		}
	}
}

// TestCounts checks the per-store document counts against the documents through every
// kind of write.
func TestCounts(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	check := func(when string) {
		t.Helper()
		var total int64
		for st := int64(1); st <= 3; st++ {
			docs, err := s.Find(ctx, "c", db.Query{StoreID: st})
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.Count(ctx, "c", st, nil)
			if err != nil || n != int64(len(docs)) {
				t.Errorf("%s: Count store %d = %d, %v; %d documents", when, st, n, err, len(docs))
			}
			total += n
		}
		if n, err := s.Count(ctx, "c", 0, nil); err != nil || n != total {
			t.Errorf("%s: Count of every store = %d, %v; want %d", when, n, err, total)
		}
	}
	for i := range 30 {
		if err := s.Insert(ctx, "c", db.Doc{"_id": fmt.Sprint(i), "store_id": int64(1 + i%3), "k": int64(i % 4)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Insert(ctx, "c", db.Doc{"_id": "0", "store_id": int64(2)}); !errors.Is(err, db.ErrDuplicate) {
		t.Fatalf("duplicate insert = %v", err)
	}
	check("after inserts")
	for _, id := range []string{"1", "2", "3"} {
		if _, err := s.Update(ctx, "c", int64(1+mustAtoi(id)%3), id, func(db.Doc) (db.Doc, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Update(ctx, "c", 1, "0", func(d db.Doc) (db.Doc, error) { d["k"] = int64(9); return d, nil }); err != nil {
		t.Fatal(err)
	}
	check("after updates")
	if _, err := s.DeleteMany(ctx, "c", 0, []db.Cond{{Path: "k", Op: db.OpEq, Values: []db.Value{{Typed: int64(1), Raw: "1"}}}}); err != nil {
		t.Fatal(err)
	}
	check("after DeleteMany")
	path := s.writerPath(t)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, path); err != nil {
		t.Fatal(err)
	} else {
		defer s.Close(ctx)
		n, err := s.Count(ctx, "c", 1, nil)
		if err != nil || n == 0 {
			t.Errorf("Count after reopen = %d, %v", n, err)
		}
	}
}

func mustAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// writerPath is the file of the main database, from SQLite itself.
func (s *Store) writerPath(t *testing.T) string {
	t.Helper()
	var seq int
	var name, file string
	if err := s.writer.QueryRowContext(t.Context(), "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	return file
}

// FuzzDecodeScalar checks the decoder fast path against encoding/json.
func FuzzDecodeScalar(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `12.5e3`, `-0`, `01`, `true`, `null`, `"é"`, `1e999`, `"\u0000"`, `-`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, ok := decodeScalar(raw)
		if !ok {
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil || dec.More() {
			t.Fatalf("decodeScalar(%q) = %#v, but encoding/json fails: %v", raw, v, err)
		}
		if want != v {
			t.Fatalf("decodeScalar(%q) = %#v; encoding/json gives %#v", raw, v, want)
		}
	})
}

// TestUpgrade opens a database that lacks what later versions keep (per-store counts,
// compound multikey rows) and checks that Open rebuilds them.
func TestUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	ctx := t.Context()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx, "p", []db.Index{{Paths: []string{"cats", "price"}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := s.Insert(ctx, "p", db.Doc{"_id": fmt.Sprint(i), "store_id": int64(1), "cats": []any{"a", "b"}, "price": int64(10 - i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM storeapi_counts; DROP TABLE storeapi_mk2_p`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close(ctx)
	if n, err := s.Count(ctx, "p", 1, nil); err != nil || n != 10 {
		t.Errorf("Count after upgrade = %d, %v; want 10", n, err)
	}
	q := db.Query{StoreID: 1, Limit: 3, Sort: []db.SortField{{Path: "price"}}, Conds: []db.Cond{{Path: "cats", Op: db.OpEq, Values: []db.Value{str("b")}}}}
	if _, ok, _ := newCompiler(s.info("p"), "p", 1).sortedFind(q); !ok {
		t.Fatal("the compound index does not serve the query")
	}
	docs, err := s.Find(ctx, "p", q)
	if err != nil {
		t.Fatal(err)
	}
	if got := idsInOrder(docs); !slices.Equal(got, []string{"9", "8", "7"}) {
		t.Errorf("Find after upgrade = %v; want [9 8 7]", got)
	}
}

func TestSingleOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.db")
	ctx := t.Context()
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := Open(ctx, path); err == nil {
		b.Close(ctx)
		t.Fatal("second Open of an open file succeeded")
	} else if !strings.Contains(err.Error(), "already open") {
		t.Errorf("second Open = %v; want an already-open error", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	b.Close(ctx)
}
