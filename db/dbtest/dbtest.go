// Package dbtest is the conformance suite of the db.Store contract. Every engine
// (db/sqlite, db/mongodb) runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		dbtest.Run(t, func(t *testing.T) db.Store { return openFreshStore(t) })
//	}
//
// The suite speaks only through db.Store, so what passes here behaves the same behind
// the handlers whichever engine runs. It uses small data and no timing assertions.
//
// Besides what db.go states, it pins MongoDB's behaviour where an engine could differ:
//   - ranges compare within a type: price>=10 does not match the string "10", and
//     OpContains matches only strings (never numbers), as a literal;
//   - OpEq null matches null and missing fields; OpNe matches missing fields;
//   - sorting is by binary string order; a missing field sorts first ascending and last
//     descending; ties break by _id ascending whatever the direction; no sort is _id order;
//   - Fields through an array of objects ("categories._id") keep the array, each element
//     projected; missing fields are left out; _id always comes back;
//   - an Insert of an existing _id (in any store) and an Update that collides with a
//     unique index are db.ErrDuplicate;
//   - a collection never written to reads as empty, never as an error;
//   - pipelines carry json.Number numbers; an unknown stage is db.ErrUnsupported naming it;
//     a $group with several accumulators may be refused (FerretDB gets it wrong).
//
// It keeps within what FerretDB v1 stores: no array directly inside an array.
package dbtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"storeapi/db"
)

// Run runs every conformance subtest. open must return a Store over a database that
// holds no documents (a fresh one for each call) and must arrange its own cleanup
// (closing the Store, removing files) with t.Cleanup; the suite never calls Close.
func Run(t *testing.T, open func(t *testing.T) db.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s db.Store)
	}{
		{"InsertGet", testInsertGet},
		{"EmptyCollection", testEmptyCollection},
		{"StoreIsolation", testStoreIsolation},
		{"Duplicates", testDuplicates},
		{"Filters", testFilters},
		{"Sort", testSort},
		{"Projection", testProjection},
		{"Update", testUpdate},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"DeleteMany", testDeleteMany},
		{"Aggregate", testAggregate},
		{"Records", testRecords},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// id returns the n-th test id: 24 lowercase hex characters.
func id(n int) string { return fmt.Sprintf("%024x", n) }

// n is a json.Number literal.
func n(s string) json.Number { return json.Number(s) }

// obj and arr keep the document literals short.
type (
	obj = map[string]any
	arr = []any
)

// Values as the list-query parser produces them.
func vStr(s string) db.Value { return db.Value{Typed: s, Raw: s} }
func vBool(b bool) db.Value  { return db.Value{Typed: b, Raw: strconv.FormatBool(b)} }
func vNull() db.Value        { return db.Value{Typed: nil, Raw: "null"} }
func vInt(i int64) db.Value  { return db.Value{Typed: i, Raw: strconv.FormatInt(i, 10)} }
func vFloat(raw string) db.Value {
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		panic(err)
	}
	return db.Value{Typed: f, Raw: raw}
}

func cond(path string, op db.Op, vals ...db.Value) db.Cond {
	return db.Cond{Path: path, Op: op, Values: vals}
}

// clone deep-copies a document so that the test keeps an unshared expectation.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = clone(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = clone(e)
		}
		return a
	}
	return v
}

func insertAll(t *testing.T, s db.Store, coll string, docs ...db.Doc) {
	t.Helper()
	for _, d := range docs {
		if err := s.Insert(t.Context(), coll, clone(d).(db.Doc)); err != nil {
			t.Fatalf("Insert(%s, %v): %v", coll, d["_id"], err)
		}
	}
}

// checkForm fails unless v is in the db.Doc form: objects, arrays, strings, bools, nil
// and json.Number for every number.
func checkForm(t *testing.T, where string, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil, string, bool:
	case json.Number:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			t.Errorf("%s: json.Number %q is not a number", where, v)
		}
	case map[string]any:
		for k, e := range v {
			checkForm(t, where+"."+k, e)
		}
	case []any:
		for i, e := range v {
			checkForm(t, where+"["+strconv.Itoa(i)+"]", e)
		}
	default:
		t.Errorf("%s: %T %v is not in the db.Doc form", where, v, v)
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// sameDoc fails unless got is in the db.Doc form and deeply equal to want.
func sameDoc(t *testing.T, what string, got, want db.Doc) {
	t.Helper()
	checkForm(t, what, got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

// numeric maps every json.Number to float64 so that results can be compared by value
// whatever text the engine formats a computed number with.
func numeric(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return v
		}
		return f
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = numeric(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = numeric(e)
		}
		return a
	}
	return v
}

func ids(docs []db.Doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		s, _ := d["_id"].(string)
		out[i] = s
	}
	return out
}

func idList(ns ...int) []string {
	out := make([]string, len(ns))
	for i, k := range ns {
		out[i] = id(k)
	}
	return out
}

func find(t *testing.T, s db.Store, coll string, q db.Query) []db.Doc {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 1000
	}
	docs, err := s.Find(t.Context(), coll, q)
	if err != nil {
		t.Fatalf("Find(%s, %+v): %v", coll, q, err)
	}
	for i, d := range docs {
		checkForm(t, "Find result "+strconv.Itoa(i), d)
	}
	return docs
}

func count(t *testing.T, s db.Store, coll string, storeID int64, conds []db.Cond) int64 {
	t.Helper()
	c, err := s.Count(t.Context(), coll, storeID, conds)
	if err != nil {
		t.Fatalf("Count(%s, %d, %+v): %v", coll, storeID, conds, err)
	}
	return c
}

func mustGet(t *testing.T, s db.Store, coll string, storeID int64, docID string) db.Doc {
	t.Helper()
	d, err := s.Get(t.Context(), coll, storeID, docID)
	if err != nil {
		t.Fatalf("Get(%s, %d, %s): %v", coll, storeID, docID, err)
	}
	return d
}

func wantNotFound(t *testing.T, s db.Store, coll string, storeID int64, docID string) {
	t.Helper()
	d, err := s.Get(t.Context(), coll, storeID, docID)
	if !errors.Is(err, db.ErrNotFound) {
		t.Errorf("Get(%s, %d, %s) = %v, %v; want ErrNotFound", coll, storeID, docID, show(d), err)
	}
}

func testInsertGet(t *testing.T, s db.Store) {
	ctx := t.Context()
	full := db.Doc{
		"_id":      id(1),
		"store_id": n("1"),
		"name":     "Camisa ação \"quoted\" \\ 🙂",
		"int":      n("42"),
		"negative": n("-7"),
		"zero":     n("0"),
		"float":    n("19.9"),
		"big":      n("9007199254740993"), // above 2^53: must survive as an integer
		"t":        true,
		"f":        false,
		"null":     nil,
		"empty":    obj{},
		"none":     arr{},
		"nested":   obj{"a": obj{"b": obj{"c": "deep", "n": n("1.5")}}},
		// No array directly inside an array: FerretDB v1 refuses nested arrays.
		"list":    arr{n("1"), "two", true, nil, obj{"x": n("3")}, obj{"y": arr{n("4"), n("5")}}},
		"objects": arr{obj{"_id": "c1", "name": "One"}, obj{"_id": "c2", "name": "Two"}},
		"dollar":  "$not an operator",
	}
	insertAll(t, s, "things", full)
	sameDoc(t, "Get full document", mustGet(t, s, "things", 1, id(1)), full)

	// int64 and float64 are accepted and come back as json.Number.
	typed := db.Doc{"_id": id(2), "store_id": int64(1), "i": int64(5), "f": 2.5, "l": arr{int64(-1), 0.25}}
	if err := s.Insert(ctx, "things", typed); err != nil {
		t.Fatalf("Insert with int64/float64: %v", err)
	}
	sameDoc(t, "Get typed document", mustGet(t, s, "things", 1, id(2)),
		db.Doc{"_id": id(2), "store_id": n("1"), "i": n("5"), "f": n("2.5"), "l": arr{n("-1"), n("0.25")}})

	// The caller's map and the returned map are private copies.
	mine := db.Doc{"_id": id(3), "store_id": n("1"), "name": "before", "tags": arr{"a"}}
	if err := s.Insert(ctx, "things", mine); err != nil {
		t.Fatal(err)
	}
	mine["name"] = "changed by caller"
	got := mustGet(t, s, "things", 1, id(3))
	got["name"] = "changed by reader"
	got["tags"].([]any)[0] = "z"
	sameDoc(t, "Get after caller mutations", mustGet(t, s, "things", 1, id(3)),
		db.Doc{"_id": id(3), "store_id": n("1"), "name": "before", "tags": arr{"a"}})

	wantNotFound(t, s, "things", 1, id(404))

	// Collections are independent: the same id may exist in two of them.
	insertAll(t, s, "others", db.Doc{"_id": id(1), "store_id": n("1"), "other": true})
	sameDoc(t, "Get from second collection", mustGet(t, s, "others", 1, id(1)),
		db.Doc{"_id": id(1), "store_id": n("1"), "other": true})
	sameDoc(t, "first collection untouched", mustGet(t, s, "things", 1, id(1)), full)
}

func testEmptyCollection(t *testing.T, s db.Store) {
	ctx := t.Context()
	const coll = "never_written"
	wantNotFound(t, s, coll, 1, id(1))
	if docs := find(t, s, coll, db.Query{StoreID: 1, Conds: []db.Cond{cond("x", db.OpEq, vStr("y"))},
		Sort: []db.SortField{{Path: "x"}}, Fields: []string{"x"}}); len(docs) != 0 {
		t.Errorf("Find on empty collection = %s; want none", show(docs))
	}
	if c := count(t, s, coll, 1, nil); c != 0 {
		t.Errorf("Count on empty collection = %d; want 0", c)
	}
	if c, err := s.DeleteMany(ctx, coll, 0, nil); err != nil || c != 0 {
		t.Errorf("DeleteMany on empty collection = %d, %v; want 0, nil", c, err)
	}
	called := false
	_, err := s.Update(ctx, coll, 1, id(1), func(d db.Doc) (db.Doc, error) { called = true; return d, nil })
	if !errors.Is(err, db.ErrNotFound) || called {
		t.Errorf("Update on empty collection = %v (fn called: %v); want ErrNotFound, fn not called", err, called)
	}
	docs, err := s.Aggregate(ctx, coll, 1, []db.Doc{{"$count": "n"}})
	if err != nil || len(docs) != 0 {
		t.Errorf("Aggregate $count on empty collection = %s, %v; want no documents", show(docs), err)
	}
}

func testStoreIsolation(t *testing.T, s db.Store) {
	ctx := t.Context()
	const coll = "products"
	a := db.Doc{"_id": id(1), "store_id": n("1"), "sku": "same", "price": n("10"), "tags": arr{"x"}}
	b := db.Doc{"_id": id(2), "store_id": n("2"), "sku": "same", "price": n("10"), "tags": arr{"x"}}
	insertAll(t, s, coll, a, b)

	// Get.
	wantNotFound(t, s, coll, 2, id(1))
	wantNotFound(t, s, coll, 1, id(2))
	sameDoc(t, "own document", mustGet(t, s, coll, 2, id(2)), b)

	// Find and Count, without conditions and with conditions that match both.
	for _, conds := range [][]db.Cond{
		nil,
		{cond("sku", db.OpEq, vStr("same"))},
		{cond("_id", db.OpEq, vStr(id(1)), vStr(id(2)))},
		{cond("price", db.OpGte, vInt(0))},
		{cond("tags", db.OpNe, vStr("nope"))},
		{cond("store_id", db.OpEq, vInt(1), vInt(2))},
	} {
		got := ids(find(t, s, coll, db.Query{StoreID: 2, Conds: conds}))
		if !slices.Equal(got, idList(2)) {
			t.Errorf("Find store 2 %+v = %v; want only %v", conds, got, idList(2))
		}
		if c := count(t, s, coll, 2, conds); c != 1 {
			t.Errorf("Count store 2 %+v = %d; want 1", conds, c)
		}
	}
	if c := count(t, s, coll, 3, nil); c != 0 {
		t.Errorf("Count of a store without documents = %d; want 0", c)
	}

	// Update: neither replaced nor deleted, fn never sees the document.
	for _, next := range []db.Doc{{"sku": "stolen"}, nil} {
		called := false
		_, err := s.Update(ctx, coll, 2, id(1), func(db.Doc) (db.Doc, error) { called = true; return next, nil })
		if !errors.Is(err, db.ErrNotFound) || called {
			t.Errorf("Update of store 1's document from store 2 (next %v) = %v (fn called: %v); want ErrNotFound", next, err, called)
		}
	}
	sameDoc(t, "store 1 document after foreign updates", mustGet(t, s, coll, 1, id(1)), a)

	// DeleteMany.
	del, err := s.DeleteMany(ctx, coll, 2, []db.Cond{cond("_id", db.OpEq, vStr(id(1)))})
	if err != nil || del != 0 {
		t.Errorf("DeleteMany of store 1's id from store 2 = %d, %v; want 0, nil", del, err)
	}
	mustGet(t, s, coll, 1, id(1))

	// Aggregate, including a $match that names another store.
	got, err := s.Aggregate(ctx, coll, 2, []db.Doc{{"$match": db.Doc{"store_id": n("1")}}})
	if err != nil || len(got) != 0 {
		t.Errorf("Aggregate store 2 matching store_id 1 = %s, %v; want nothing", show(got), err)
	}
	got, err = s.Aggregate(ctx, coll, 2, []db.Doc{{"$group": db.Doc{"_id": nil, "n": db.Doc{"$sum": n("1")}}}})
	if err != nil {
		t.Fatalf("Aggregate $group: %v", err)
	}
	if want := []any{obj{"_id": nil, "n": 1.0}}; !reflect.DeepEqual(numeric(toAny(got)), want) {
		t.Errorf("Aggregate store 2 $group count = %s; want %s", show(got), show(want))
	}

	// Insert of the same id under another store is a duplicate, never an overwrite.
	err = s.Insert(ctx, coll, db.Doc{"_id": id(1), "store_id": n("2"), "sku": "other"})
	if !errors.Is(err, db.ErrDuplicate) {
		t.Errorf("Insert of an existing id under another store = %v; want ErrDuplicate", err)
	}
	sameDoc(t, "store 1 document after foreign insert", mustGet(t, s, coll, 1, id(1)), a)
}

func toAny(docs []db.Doc) []any {
	out := make([]any, len(docs))
	for i, d := range docs {
		out[i] = d
	}
	return out
}

func testDuplicates(t *testing.T, s db.Store) {
	ctx := t.Context()
	const coll = "products"
	idx := []db.Index{
		{Paths: []string{"sku"}, Unique: true},
		{Paths: []string{"slug", "kind"}, Unique: true},
		{Paths: []string{"categories._id"}},
		{Paths: []string{"price", "created_at"}},
	}
	for i := range 2 {
		if err := s.EnsureIndexes(ctx, coll, idx); err != nil {
			t.Fatalf("EnsureIndexes (call %d): %v", i+1, err)
		}
	}
	insertAll(t, s, coll,
		db.Doc{"_id": id(1), "store_id": n("1"), "sku": "A", "slug": "a", "kind": "x", "categories": arr{obj{"_id": "c1"}}},
		db.Doc{"_id": id(2), "store_id": n("2"), "sku": "A", "slug": "a", "kind": "x", "categories": arr{obj{"_id": "c1"}}},
		db.Doc{"_id": id(3), "store_id": n("1"), "sku": "B", "slug": "a", "kind": "y", "categories": arr{obj{"_id": "c1"}}},
	)

	tests := []struct {
		name string
		doc  db.Doc
	}{
		{"same _id", db.Doc{"_id": id(1), "store_id": n("1"), "sku": "fresh", "slug": "fresh"}},
		{"same sku in store", db.Doc{"_id": id(4), "store_id": n("1"), "sku": "A", "slug": "fresh"}},
		{"same compound key in store", db.Doc{"_id": id(5), "store_id": n("1"), "sku": "C", "slug": "a", "kind": "y"}},
	}
	for _, tc := range tests {
		if err := s.Insert(ctx, coll, tc.doc); !errors.Is(err, db.ErrDuplicate) {
			t.Errorf("Insert %s = %v; want ErrDuplicate", tc.name, err)
		}
	}
	if c := count(t, s, coll, 1, nil); c != 2 {
		t.Errorf("Count after refused inserts = %d; want 2", c)
	}

	// The indexes still serve queries, and EnsureIndexes stays idempotent with data present.
	if err := s.EnsureIndexes(ctx, coll, idx); err != nil {
		t.Fatalf("EnsureIndexes with data: %v", err)
	}
	got := ids(find(t, s, coll, db.Query{StoreID: 1, Conds: []db.Cond{cond("sku", db.OpEq, vStr("A"))}}))
	if !slices.Equal(got, idList(1)) {
		t.Errorf("Find sku=A in store 1 = %v; want %v", got, idList(1))
	}

	// An update that collides with a unique index is refused and changes nothing.
	before := mustGet(t, s, coll, 1, id(3))
	_, err := s.Update(ctx, coll, 1, id(3), func(d db.Doc) (db.Doc, error) { d["sku"] = "A"; return d, nil })
	if !errors.Is(err, db.ErrDuplicate) {
		t.Errorf("Update onto an existing sku = %v; want ErrDuplicate", err)
	}
	sameDoc(t, "document after refused update", mustGet(t, s, coll, 1, id(3)), before)
}

// filterDocs is the data of the filter table: store 1 documents 1..8, and document 9 of
// store 2, which matches nearly every condition and must never come back.
func filterDocs() []db.Doc {
	return []db.Doc{
		{"_id": id(1), "store_id": n("1"), "name": "Blue Shirt", "price": n("10"), "active": true,
			"created_at": "2026-01-01T00:00:00.000Z", "dims": obj{"w": n("5"), "unit": "cm"},
			"categories": arr{obj{"_id": "c1", "name": "Shirts"}, obj{"_id": "c2", "name": "Summer"}},
			"tags":       arr{"a", "b"}},
		{"_id": id(2), "store_id": n("1"), "name": "red SHIRT", "price": n("19.9"), "active": false,
			"created_at": "2026-01-02T00:00:00.000Z", "dims": obj{"w": n("12.5"), "unit": "in"},
			"categories": arr{obj{"_id": "c2", "name": "Summer"}}, "tags": arr{"b"}},
		{"_id": id(3), "store_id": n("1"), "name": "Shorts", "price": "10", "active": true,
			"created_at": "2026-01-03T00:00:00.000Z", "tags": arr{"c"}},
		{"_id": id(4), "store_id": n("1"), "name": "a.*b pattern", "price": n("25"), "active": nil,
			"created_at": "2026-01-04T00:00:00.000Z", "categories": arr{obj{"_id": "c3", "name": "Pants"}}},
		{"_id": id(5), "store_id": n("1"), "name": "Hat (wool)",
			"created_at": "2026-01-05T00:00:00.000Z", "dims": obj{"unit": "cm"}},
		{"_id": id(6), "store_id": n("1"), "name": "Sock", "price": nil, "active": false,
			"created_at": "2026-01-06T00:00:00.000Z", "tags": arr{"c", "d"}},
		{"_id": id(7), "store_id": n("1"), "name": "Zero", "price": n("0"), "active": true,
			"created_at": "2026-01-07T00:00:00.000Z"},
		{"_id": id(8), "store_id": n("1"), "name": "Refund", "price": n("-5"),
			"created_at": "2026-01-08T00:00:00.000Z", "big": n("9007199254740993")},
		{"_id": id(9), "store_id": n("2"), "name": "Blue Shirt", "price": n("10"), "active": true,
			"created_at": "2026-01-01T00:00:00.000Z", "dims": obj{"w": n("5"), "unit": "cm"},
			"categories": arr{obj{"_id": "c1", "name": "Shirts"}}, "tags": arr{"a"}},
	}
}

func testFilters(t *testing.T, s db.Store) {
	const coll = "items"
	insertAll(t, s, coll, filterDocs()...)
	all := []int{1, 2, 3, 4, 5, 6, 7, 8}

	tests := []struct {
		name  string
		conds []db.Cond
		want  []int
	}{
		{"no conditions", nil, all},
		{"eq string", []db.Cond{cond("name", db.OpEq, vStr("Blue Shirt"))}, []int{1}},
		{"eq string is case-sensitive", []db.Cond{cond("name", db.OpEq, vStr("blue shirt"))}, nil},
		{"eq any of strings", []db.Cond{cond("name", db.OpEq, vStr("Shorts"), vStr("Sock"), vStr("nope"))}, []int{3, 6}},
		{"eq number matches number and numeric string", []db.Cond{cond("price", db.OpEq, vFloat("10"))}, []int{1, 3}},
		{"eq int64 matches number and numeric string", []db.Cond{cond("price", db.OpEq, vInt(10))}, []int{1, 3}},
		{"eq decimal", []db.Cond{cond("price", db.OpEq, vFloat("19.9"))}, []int{2}},
		{"eq negative", []db.Cond{cond("price", db.OpEq, vInt(-5))}, []int{8}},
		{"eq zero", []db.Cond{cond("price", db.OpEq, vFloat("0"))}, []int{7}},
		{"eq any of numbers", []db.Cond{cond("price", db.OpEq, vInt(10), vFloat("25"))}, []int{1, 3, 4}},
		{"eq string does not match number", []db.Cond{cond("price", db.OpEq, vStr("25"))}, nil},
		{"eq large int64", []db.Cond{cond("big", db.OpEq, vInt(9007199254740993))}, []int{8}},
		{"eq null matches null and missing", []db.Cond{cond("price", db.OpEq, vNull())}, []int{5, 6}},
		{"eq true", []db.Cond{cond("active", db.OpEq, vBool(true))}, []int{1, 3, 7}},
		{"eq false", []db.Cond{cond("active", db.OpEq, vBool(false))}, []int{2, 6}},
		{"eq bool or null", []db.Cond{cond("active", db.OpEq, vBool(false), vNull())}, []int{2, 4, 5, 6, 8}},
		{"eq null on bool field", []db.Cond{cond("active", db.OpEq, vNull())}, []int{4, 5, 8}},
		{"eq _id", []db.Cond{cond("_id", db.OpEq, vStr(id(2)))}, []int{2}},
		{"eq _id of other store", []db.Cond{cond("_id", db.OpEq, vStr(id(9)))}, nil},
		{"eq unknown field", []db.Cond{cond("nope", db.OpEq, vStr("x"))}, nil},
		{"eq null on unknown field", []db.Cond{cond("nope", db.OpEq, vNull())}, all},

		{"ne number excludes numeric string, keeps missing and null", []db.Cond{cond("price", db.OpNe, vInt(10))}, []int{2, 4, 5, 6, 7, 8}},
		{"ne numbers", []db.Cond{cond("price", db.OpNe, vInt(10), vInt(25))}, []int{2, 5, 6, 7, 8}},
		{"ne null", []db.Cond{cond("price", db.OpNe, vNull())}, []int{1, 2, 3, 4, 7, 8}},
		{"ne true", []db.Cond{cond("active", db.OpNe, vBool(true))}, []int{2, 4, 5, 6, 8}},
		{"ne string", []db.Cond{cond("name", db.OpNe, vStr("Sock"))}, []int{1, 2, 3, 4, 5, 7, 8}},
		{"ne _id", []db.Cond{cond("_id", db.OpNe, vStr(id(1)))}, []int{2, 3, 4, 5, 6, 7, 8}},
		{"ne unknown field", []db.Cond{cond("nope", db.OpNe, vStr("x"))}, all},

		{"gte number skips strings and null", []db.Cond{cond("price", db.OpGte, vInt(10))}, []int{1, 2, 4}},
		{"gte decimal", []db.Cond{cond("price", db.OpGte, vFloat("-5.5"))}, []int{1, 2, 4, 7, 8}},
		{"lte number", []db.Cond{cond("price", db.OpLte, vFloat("0"))}, []int{7, 8}},
		{"range", []db.Cond{cond("price", db.OpGte, vInt(0)), cond("price", db.OpLte, vFloat("19.9"))}, []int{1, 2, 7}},
		{"gte string timestamps", []db.Cond{cond("created_at", db.OpGte, vStr("2026-01-07T00:00:00.000Z"))}, []int{7, 8}},
		{"lte string timestamps", []db.Cond{cond("created_at", db.OpLte, vStr("2026-01-02T00:00:00.000Z"))}, []int{1, 2}},
		{"string range", []db.Cond{cond("created_at", db.OpGte, vStr("2026-01-03")), cond("created_at", db.OpLte, vStr("2026-01-04T23"))}, []int{3, 4}},
		{"gte string skips numbers", []db.Cond{cond("price", db.OpGte, vStr("0"))}, []int{3}},

		{"contains case-insensitive", []db.Cond{cond("name", db.OpContains, vStr("shirt"))}, []int{1, 2}},
		{"contains upper case", []db.Cond{cond("name", db.OpContains, vStr("SHIRT"))}, []int{1, 2}},
		{"contains is literal, not a regex", []db.Cond{cond("name", db.OpContains, vStr(".*"))}, []int{4}},
		{"contains with parenthesis", []db.Cond{cond("name", db.OpContains, vStr("(wool"))}, []int{5}},
		{"contains regex anchors literally", []db.Cond{cond("name", db.OpContains, vStr("^Blue"))}, nil},
		{"contains percent and underscore literally", []db.Cond{cond("name", db.OpContains, vStr("%_"))}, nil},
		{"contains letter", []db.Cond{cond("name", db.OpContains, vStr("o"))}, []int{3, 5, 6, 7}},
		{"contains matches only strings", []db.Cond{cond("price", db.OpContains, vStr("1"))}, []int{3}},

		{"nested eq", []db.Cond{cond("dims.unit", db.OpEq, vStr("cm"))}, []int{1, 5}},
		{"nested gte", []db.Cond{cond("dims.w", db.OpGte, vInt(10))}, []int{2}},
		{"nested eq null", []db.Cond{cond("dims.w", db.OpEq, vNull())}, []int{3, 4, 5, 6, 7, 8}},
		{"nested ne", []db.Cond{cond("dims.unit", db.OpNe, vStr("cm"))}, []int{2, 3, 4, 6, 7, 8}},
		{"array of objects eq", []db.Cond{cond("categories._id", db.OpEq, vStr("c2"))}, []int{1, 2}},
		{"array of objects eq any", []db.Cond{cond("categories._id", db.OpEq, vStr("c3"), vStr("c1"))}, []int{1, 4}},
		{"array of objects ne: no element equals", []db.Cond{cond("categories._id", db.OpNe, vStr("c2"))}, []int{3, 4, 5, 6, 7, 8}},
		{"array of objects contains", []db.Cond{cond("categories.name", db.OpContains, vStr("SUMM"))}, []int{1, 2}},
		{"array of scalars eq", []db.Cond{cond("tags", db.OpEq, vStr("c"))}, []int{3, 6}},
		{"array of scalars ne", []db.Cond{cond("tags", db.OpNe, vStr("b"))}, []int{3, 4, 5, 6, 7, 8}},
		{"array of scalars ne any", []db.Cond{cond("tags", db.OpNe, vStr("a"), vStr("d"))}, []int{2, 3, 4, 5, 7, 8}},

		{"and", []db.Cond{cond("active", db.OpEq, vBool(true)), cond("price", db.OpGte, vInt(5))}, []int{1}},
		{"and across arrays", []db.Cond{cond("tags", db.OpEq, vStr("b")), cond("categories._id", db.OpNe, vStr("c1"))}, []int{2}},
		{"and contradicting", []db.Cond{cond("name", db.OpEq, vStr("Sock")), cond("name", db.OpNe, vStr("Sock"))}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := idList(tc.want...)
			got := ids(find(t, s, coll, db.Query{StoreID: 1, Conds: tc.conds}))
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("Find %+v:\n got  %v\n want %v", tc.conds, got, want)
			}
			if c := count(t, s, coll, 1, tc.conds); c != int64(len(want)) {
				t.Errorf("Count %+v = %d; want %d", tc.conds, c, len(want))
			}
		})
	}

	// Whole documents come back unchanged from Find.
	docs := find(t, s, coll, db.Query{StoreID: 1, Conds: []db.Cond{cond("_id", db.OpEq, vStr(id(1)), vStr(id(8)))}})
	if len(docs) != 2 {
		t.Fatalf("Find two ids = %d documents; want 2", len(docs))
	}
	src := filterDocs()
	sameDoc(t, "Find document 1", docs[0], src[0])
	sameDoc(t, "Find document 8", docs[1], src[7])
}

func testSort(t *testing.T, s db.Store) {
	const coll = "sorting"
	insertAll(t, s, coll,
		db.Doc{"_id": id(1), "store_id": n("1"), "group": "b", "price": n("3"), "name": "cherry", "dims": obj{"w": n("6")}},
		db.Doc{"_id": id(2), "store_id": n("1"), "group": "a", "price": n("1"), "name": "apple", "dims": obj{"w": n("5")}},
		db.Doc{"_id": id(3), "store_id": n("1"), "group": "b", "price": n("3"), "name": "Banana", "dims": obj{"w": n("4")}},
		db.Doc{"_id": id(4), "store_id": n("1"), "group": "a", "price": n("2.5"), "name": "date", "dims": obj{"w": n("3")}},
		db.Doc{"_id": id(5), "store_id": n("1"), "group": "b", "price": n("1"), "name": "Elder", "dims": obj{"w": n("2")}},
		db.Doc{"_id": id(6), "store_id": n("1"), "price": n("10"), "name": "fig", "dims": obj{"w": n("1.5")}},
		db.Doc{"_id": id(7), "store_id": n("2"), "group": "a", "price": n("0"), "name": "aaa", "dims": obj{"w": n("0")}},
	)
	asc := func(p string) db.SortField { return db.SortField{Path: p} }
	desc := func(p string) db.SortField { return db.SortField{Path: p, Desc: true} }

	tests := []struct {
		name   string
		sort   []db.SortField
		conds  []db.Cond
		limit  int
		offset int
		want   []int
	}{
		{"no sort is _id order", nil, nil, 0, 0, []int{1, 2, 3, 4, 5, 6}},
		{"number asc, ties by _id", []db.SortField{asc("price")}, nil, 0, 0, []int{2, 5, 4, 1, 3, 6}},
		{"number desc, ties by _id asc", []db.SortField{desc("price")}, nil, 0, 0, []int{6, 1, 3, 4, 2, 5}},
		{"string asc is binary (upper case first)", []db.SortField{asc("name")}, nil, 0, 0, []int{3, 5, 2, 1, 4, 6}},
		{"missing sorts first asc", []db.SortField{asc("group"), desc("price")}, nil, 0, 0, []int{6, 4, 2, 1, 3, 5}},
		{"missing sorts last desc", []db.SortField{desc("group"), asc("price")}, nil, 0, 0, []int{5, 1, 3, 2, 4, 6}},
		{"nested path", []db.SortField{asc("dims.w")}, nil, 0, 0, []int{6, 5, 4, 3, 2, 1}},
		{"_id desc", []db.SortField{desc("_id")}, nil, 0, 0, []int{6, 5, 4, 3, 2, 1}},
		{"page 1", []db.SortField{asc("price")}, nil, 2, 0, []int{2, 5}},
		{"page 2", []db.SortField{asc("price")}, nil, 2, 2, []int{4, 1}},
		{"last page short", []db.SortField{asc("price")}, nil, 4, 4, []int{3, 6}},
		{"offset past the end", []db.SortField{asc("price")}, nil, 10, 6, nil},
		{"limit 1", []db.SortField{desc("dims.w")}, nil, 1, 0, []int{1}},
		{"filter, sort, page", []db.SortField{desc("price")}, []db.Cond{cond("group", db.OpEq, vStr("b"))}, 2, 1, []int{3, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(find(t, s, coll, db.Query{StoreID: 1, Conds: tc.conds, Sort: tc.sort, Limit: tc.limit, Offset: tc.offset}))
			if want := idList(tc.want...); !slices.Equal(got, want) {
				t.Errorf("Find sort %+v limit %d offset %d:\n got  %v\n want %v", tc.sort, tc.limit, tc.offset, got, want)
			}
		})
	}
}

func testProjection(t *testing.T, s db.Store) {
	const coll = "projected"
	doc := db.Doc{"_id": id(1), "store_id": n("1"), "name": "Shirt", "price": n("9.5"), "sku": "S1",
		"dims":       obj{"w": n("2"), "h": n("3"), "unit": "cm"},
		"categories": arr{obj{"_id": "c1", "name": "One"}, obj{"_id": "c2", "name": "Two"}},
		"tags":       arr{"a", "b"}}
	insertAll(t, s, coll, doc,
		db.Doc{"_id": id(2), "store_id": n("1"), "name": "Bare", "price": n("1")})

	tests := []struct {
		name   string
		fields []string
		want   []db.Doc
	}{
		{"whole documents", nil, []db.Doc{doc, {"_id": id(2), "store_id": n("1"), "name": "Bare", "price": n("1")}}},
		{"one field, _id always", []string{"name"}, []db.Doc{{"_id": id(1), "name": "Shirt"}, {"_id": id(2), "name": "Bare"}}},
		{"missing fields are left out", []string{"sku", "price", "nope"}, []db.Doc{
			{"_id": id(1), "sku": "S1", "price": n("9.5")}, {"_id": id(2), "price": n("1")}}},
		{"only _id", []string{"_id"}, []db.Doc{{"_id": id(1)}, {"_id": id(2)}}},
		{"store_id when asked", []string{"store_id"}, []db.Doc{{"_id": id(1), "store_id": n("1")}, {"_id": id(2), "store_id": n("1")}}},
		{"dot paths into an object", []string{"dims.w", "dims.unit"}, []db.Doc{{"_id": id(1), "dims": obj{"w": n("2"), "unit": "cm"}}, {"_id": id(2)}}},
		{"whole object", []string{"dims"}, []db.Doc{{"_id": id(1), "dims": doc["dims"]}, {"_id": id(2)}}},
		{"dot path through an array of objects", []string{"categories._id"}, []db.Doc{
			{"_id": id(1), "categories": arr{obj{"_id": "c1"}, obj{"_id": "c2"}}}, {"_id": id(2)}}},
		{"array of scalars", []string{"tags", "name"}, []db.Doc{{"_id": id(1), "tags": arr{"a", "b"}, "name": "Shirt"}, {"_id": id(2), "name": "Bare"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := find(t, s, coll, db.Query{StoreID: 1, Fields: tc.fields})
			if len(got) != len(tc.want) {
				t.Fatalf("Find fields %v = %s; want %s", tc.fields, show(got), show(tc.want))
			}
			for i := range got {
				sameDoc(t, fmt.Sprintf("Find fields %v [%d]", tc.fields, i), got[i], tc.want[i])
			}
		})
	}

	// Sorting by a field that is not projected.
	got := find(t, s, coll, db.Query{StoreID: 1, Fields: []string{"name"}, Sort: []db.SortField{{Path: "price"}}})
	if want := []db.Doc{{"_id": id(2), "name": "Bare"}, {"_id": id(1), "name": "Shirt"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Find fields [name] sort price = %s; want %s", show(got), show(want))
	}
}

func testUpdate(t *testing.T, s db.Store) {
	ctx := t.Context()
	const coll = "orders"
	orig := db.Doc{"_id": id(1), "store_id": n("1"), "status": "open", "items": arr{obj{"sku": "a", "qty": n("1")}}, "note": "x"}
	insertAll(t, s, coll, orig, db.Doc{"_id": id(2), "store_id": n("1"), "status": "open"})

	t.Run("replace", func(t *testing.T) {
		var seen db.Doc
		got, err := s.Update(ctx, coll, 1, id(1), func(cur db.Doc) (db.Doc, error) {
			seen = clone(cur).(db.Doc)
			cur["status"] = "paid"
			delete(cur, "note")
			cur["items"] = append(cur["items"].([]any), obj{"sku": "b", "qty": int64(2)})
			cur["total"] = 12.5
			return cur, nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		sameDoc(t, "fn's current document", seen, orig)
		want := db.Doc{"_id": id(1), "store_id": n("1"), "status": "paid",
			"items": arr{obj{"sku": "a", "qty": n("1")}, obj{"sku": "b", "qty": n("2")}}, "total": n("12.5")}
		sameDoc(t, "Update result", got, want)
		sameDoc(t, "Get after Update", mustGet(t, s, coll, 1, id(1)), want)
	})

	t.Run("_id and store_id are forced", func(t *testing.T) {
		got, err := s.Update(ctx, coll, 1, id(2), func(db.Doc) (db.Doc, error) {
			return db.Doc{"_id": id(99), "store_id": int64(2), "status": "moved"}, nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		want := db.Doc{"_id": id(2), "store_id": n("1"), "status": "moved"}
		sameDoc(t, "Update result", got, want)
		sameDoc(t, "Get after Update", mustGet(t, s, coll, 1, id(2)), want)
		wantNotFound(t, s, coll, 2, id(99))
		wantNotFound(t, s, coll, 1, id(99))
		wantNotFound(t, s, coll, 2, id(2))

		got, err = s.Update(ctx, coll, 1, id(2), func(db.Doc) (db.Doc, error) {
			return db.Doc{"status": "bare"}, nil
		})
		if err != nil {
			t.Fatalf("Update without _id and store_id: %v", err)
		}
		want = db.Doc{"_id": id(2), "store_id": n("1"), "status": "bare"}
		sameDoc(t, "Update result without keys", got, want)
		sameDoc(t, "Get after Update without keys", mustGet(t, s, coll, 1, id(2)), want)
	})

	t.Run("fn error aborts", func(t *testing.T) {
		before := mustGet(t, s, coll, 1, id(1))
		errStop := errors.New("stop here")
		got, err := s.Update(ctx, coll, 1, id(1), func(cur db.Doc) (db.Doc, error) {
			cur["status"] = "cancelled"
			cur["items"].([]any)[0].(map[string]any)["qty"] = n("100")
			return cur, errStop
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Update with failing fn = %s, %v; want the fn's error", show(got), err)
		}
		sameDoc(t, "document after aborted update", mustGet(t, s, coll, 1, id(1)), before)
	})

	t.Run("not found", func(t *testing.T) {
		called := false
		_, err := s.Update(ctx, coll, 1, id(404), func(d db.Doc) (db.Doc, error) { called = true; return d, nil })
		if !errors.Is(err, db.ErrNotFound) || called {
			t.Errorf("Update of a missing id = %v (fn called: %v); want ErrNotFound, fn not called", err, called)
		}
		wantNotFound(t, s, coll, 1, id(404))
	})

	t.Run("sequential", func(t *testing.T) {
		for range 5 {
			_, err := s.Update(ctx, coll, 1, id(2), func(cur db.Doc) (db.Doc, error) {
				c, _ := cur["counter"].(json.Number)
				k, _ := c.Int64()
				cur["counter"] = k + 1
				return cur, nil
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
		}
		if got := mustGet(t, s, coll, 1, id(2))["counter"]; got != n("5") {
			t.Errorf("counter after 5 increments = %#v; want json.Number(\"5\")", got)
		}
	})

	t.Run("delete with nil", func(t *testing.T) {
		got, err := s.Update(ctx, coll, 1, id(2), func(db.Doc) (db.Doc, error) { return nil, nil })
		if err != nil || got != nil {
			t.Fatalf("Update returning nil = %s, %v; want nil, nil", show(got), err)
		}
		wantNotFound(t, s, coll, 1, id(2))
		if c := count(t, s, coll, 1, nil); c != 1 {
			t.Errorf("Count after delete = %d; want 1", c)
		}
		called := false
		_, err = s.Update(ctx, coll, 1, id(2), func(d db.Doc) (db.Doc, error) { called = true; return d, nil })
		if !errors.Is(err, db.ErrNotFound) || called {
			t.Errorf("Update after delete = %v (fn called: %v); want ErrNotFound", err, called)
		}
		// The id is free again.
		insertAll(t, s, coll, db.Doc{"_id": id(2), "store_id": n("1"), "status": "again"})
	})
}

func testConcurrentUpdates(t *testing.T, s db.Store) {
	const (
		coll    = "carts"
		writers = 50
	)
	insertAll(t, s, coll, db.Doc{"_id": id(1), "store_id": n("1"), "items": arr{}})
	ctx := context.WithoutCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := s.Update(ctx, coll, 1, id(1), func(cur db.Doc) (db.Doc, error) {
				items, _ := cur["items"].([]any)
				cur["items"] = append(items, "v"+strconv.Itoa(i))
				return cur, nil
			})
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Update: %v", err)
	}
	items, _ := mustGet(t, s, coll, 1, id(1))["items"].([]any)
	seen := make(map[string]bool, len(items))
	for _, v := range items {
		str, _ := v.(string)
		seen[str] = true
	}
	for i := range writers {
		if !seen["v"+strconv.Itoa(i)] {
			t.Errorf("value v%d lost", i)
		}
	}
	if len(items) != writers {
		t.Errorf("items has %d values; want %d", len(items), writers)
	}
}

func testDeleteMany(t *testing.T, s db.Store) {
	ctx := t.Context()
	const coll = "events"
	insertAll(t, s, coll,
		db.Doc{"_id": id(1), "store_id": n("1"), "kind": "y", "created_at": "2026-01-01T00:00:00.000Z"},
		db.Doc{"_id": id(2), "store_id": n("1"), "kind": "y", "created_at": "2026-01-05T00:00:00.000Z"},
		db.Doc{"_id": id(3), "store_id": n("1"), "kind": "x", "created_at": "2026-01-09T00:00:00.000Z"},
		db.Doc{"_id": id(4), "store_id": n("2"), "kind": "x", "created_at": "2026-01-01T00:00:00.000Z"},
		db.Doc{"_id": id(5), "store_id": n("2"), "kind": "y", "created_at": "2026-01-09T00:00:00.000Z"},
		db.Doc{"_id": id(6), "store_id": n("1"), "kind": "y", "created_at": "2026-01-10T00:00:00.000Z"},
	)
	exists := func(storeID int64, k int) bool {
		_, err := s.Get(ctx, coll, storeID, id(k))
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		return err == nil
	}
	steps := []struct {
		name    string
		storeID int64
		conds   []db.Cond
		want    int64
		gone    []int
	}{
		{"store-scoped with condition", 1, []db.Cond{cond("kind", db.OpEq, vStr("x"))}, 1, []int{3}},
		{"nothing matches", 1, []db.Cond{cond("kind", db.OpEq, vStr("x"))}, 0, []int{3}},
		{"every store, older than", 0, []db.Cond{cond("created_at", db.OpLte, vStr("2026-01-05T00:00:00.000Z"))}, 3, []int{1, 2, 3, 4}},
		{"whole store", 1, nil, 1, []int{1, 2, 3, 4, 6}},
	}
	for _, st := range steps {
		got, err := s.DeleteMany(ctx, coll, st.storeID, st.conds)
		if err != nil || got != st.want {
			t.Errorf("DeleteMany %s = %d, %v; want %d", st.name, got, err, st.want)
		}
		for k := 1; k <= 6; k++ {
			storeID := int64(1)
			if k == 4 || k == 5 {
				storeID = 2
			}
			if gone := slices.Contains(st.gone, k); exists(storeID, k) == gone {
				t.Errorf("after DeleteMany %s: document %d exists = %v; want %v", st.name, k, !gone, !gone)
			}
		}
	}
}

func testAggregate(t *testing.T, s db.Store) {
	ctx := t.Context()
	const coll = "orders"
	docs := []db.Doc{
		{"_id": id(1), "store_id": n("1"), "status": "paid", "amount": n("10"), "items": arr{obj{"sku": "a", "qty": n("1")}, obj{"sku": "b", "qty": n("2")}}},
		{"_id": id(2), "store_id": n("1"), "status": "paid", "amount": n("20.5"), "items": arr{obj{"sku": "a", "qty": n("3")}}},
		{"_id": id(3), "store_id": n("1"), "status": "open", "amount": n("5"), "items": arr{obj{"sku": "b", "qty": n("1")}}},
		{"_id": id(4), "store_id": n("1"), "status": "paid", "amount": n("7"), "items": arr{}},
		{"_id": id(5), "store_id": n("2"), "status": "paid", "amount": n("1000"), "items": arr{obj{"sku": "a", "qty": n("100")}}},
	}
	insertAll(t, s, coll, docs...)

	tests := []struct {
		name     string
		pipeline []db.Doc
		want     []any // compared after numbers become float64
		// mayRefuse accepts db.ErrUnsupported instead of the result (FerretDB v1
		// computes only the first accumulator of a $group, so that engine refuses it).
		mayRefuse bool
	}{
		{"empty pipeline returns the store's documents", nil,
			numeric(toAny(docs[:4])).([]any), false},
		{"$match $group $sum", []db.Doc{
			{"$match": db.Doc{"status": "paid"}},
			{"$group": db.Doc{"_id": "$status", "total": db.Doc{"$sum": "$amount"}}},
		}, []any{obj{"_id": "paid", "total": 37.5}}, false},
		{"$group with two accumulators", []db.Doc{
			{"$match": db.Doc{"status": "paid"}},
			{"$group": db.Doc{"_id": "$status", "total": db.Doc{"$sum": "$amount"}, "n": db.Doc{"$sum": n("1")}}},
		}, []any{obj{"_id": "paid", "total": 37.5, "n": 3.0}}, true},
		{"$group $sort", []db.Doc{
			{"$group": db.Doc{"_id": "$status", "n": db.Doc{"$sum": n("1")}}},
			{"$sort": db.Doc{"_id": n("1")}},
		}, []any{obj{"_id": "open", "n": 1.0}, obj{"_id": "paid", "n": 3.0}}, false},
		{"$sort $limit $project", []db.Doc{
			{"$sort": db.Doc{"amount": n("-1")}},
			{"$limit": n("2")},
			{"$project": db.Doc{"status": n("1"), "amount": true}},
		}, []any{obj{"_id": id(2), "status": "paid", "amount": 20.5}, obj{"_id": id(1), "status": "paid", "amount": 10.0}}, false},
		{"$skip", []db.Doc{
			{"$sort": db.Doc{"amount": n("1")}},
			{"$skip": n("3")},
			{"$project": db.Doc{"amount": n("1")}},
		}, []any{obj{"_id": id(2), "amount": 20.5}}, false},
		{"$count", []db.Doc{{"$match": db.Doc{"status": "paid"}}, {"$count": "n"}}, []any{obj{"n": 3.0}}, false},
		{"$match with operator and json.Number", []db.Doc{
			{"$match": db.Doc{"amount": db.Doc{"$gte": n("10")}}}, {"$count": "n"},
		}, []any{obj{"n": 2.0}}, false},
		{"$unwind $group", []db.Doc{
			{"$unwind": "$items"},
			{"$group": db.Doc{"_id": "$items.sku", "qty": db.Doc{"$sum": "$items.qty"}}},
			{"$sort": db.Doc{"_id": n("1")}},
		}, []any{obj{"_id": "a", "qty": 4.0}, obj{"_id": "b", "qty": 3.0}}, false},
		{"$match on another store finds nothing", []db.Doc{{"$match": db.Doc{"store_id": n("2")}}}, []any{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Aggregate(ctx, coll, 1, tc.pipeline)
			if tc.mayRefuse && errors.Is(err, db.ErrUnsupported) {
				t.Skipf("engine refuses: %v", err)
			}
			if err != nil {
				t.Fatalf("Aggregate %s: %v", show(tc.pipeline), err)
			}
			for i, d := range got {
				checkForm(t, "Aggregate result "+strconv.Itoa(i), d)
			}
			if tc.pipeline == nil {
				sort.Slice(got, func(i, j int) bool { return got[i]["_id"].(string) < got[j]["_id"].(string) })
			}
			if g := numeric(toAny(got)); !reflect.DeepEqual(g, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("Aggregate %s:\n got  %s\n want %s", show(tc.pipeline), show(got), show(tc.want))
			}
		})
	}

	t.Run("unsupported stage", func(t *testing.T) {
		_, err := s.Aggregate(ctx, coll, 1, []db.Doc{{"$bogusStage": db.Doc{}}})
		if !errors.Is(err, db.ErrUnsupported) || !strings.Contains(err.Error(), "$bogusStage") {
			t.Errorf("Aggregate with an unknown stage = %v; want ErrUnsupported naming $bogusStage", err)
		}
	})
}

func testPing(t *testing.T, s db.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testRecords checks that the records of a write are stored when, and only when, the
// write applies.
func testRecords(t *testing.T, s db.Store) {
	ctx := context.Background()
	rec := func(i int) db.Record {
		return db.Record{Coll: "events", Doc: db.Doc{"_id": id(900 + i), "store_id": int64(1), "n": n(fmt.Sprint(i))}}
	}
	has := func(i int) bool {
		_, err := s.Get(ctx, "events", 1, id(900+i))
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	if err := s.Insert(ctx, "things", db.Doc{"_id": id(1), "store_id": int64(1), "v": n("1")}, rec(1), rec(2)); err != nil {
		t.Fatal(err)
	}
	if !has(1) || !has(2) {
		t.Errorf("records of an insert are missing")
	}
	if err := s.Insert(ctx, "things", db.Doc{"_id": id(1), "store_id": int64(1)}, rec(3)); !errors.Is(err, db.ErrDuplicate) {
		t.Fatalf("duplicate insert: %v", err)
	}
	if has(3) {
		t.Errorf("a refused insert stored its record")
	}
	boom := errors.New("boom")
	if _, err := s.Update(ctx, "things", 1, id(1), func(db.Doc) (db.Doc, error) { return nil, boom }, rec(4)); !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	if _, err := s.Update(ctx, "things", 2, id(1), func(d db.Doc) (db.Doc, error) { return d, nil }, rec(5)); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("update of another store: %v", err)
	}
	if has(4) || has(5) {
		t.Errorf("a failed update stored its record")
	}
	if _, err := s.Update(ctx, "things", 1, id(1), func(d db.Doc) (db.Doc, error) { d["v"] = n("2"); return d, nil }, rec(6)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "things", 1, id(1), func(db.Doc) (db.Doc, error) { return nil, nil }, rec(7)); err != nil {
		t.Fatal(err)
	}
	if !has(6) || !has(7) {
		t.Errorf("records of an applied update or delete are missing")
	}
}
