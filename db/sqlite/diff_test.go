package sqlite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"storeapi/db"
)

// randDoc is a document with the shapes real documents have and some they should not:
// missing fields, nulls, numbers stored as strings, arrays of objects and of scalars.
func randDoc(r *rand.Rand, storeID int64, i int) db.Doc {
	d := db.Doc{"_id": fmt.Sprintf("%024x", i), "store_id": storeID}
	pick := func(vals ...any) any { return vals[r.IntN(len(vals))] }
	if r.IntN(8) > 0 {
		d["price"] = pick(int64(r.IntN(20)), float64(r.IntN(40))/2, strconv.Itoa(r.IntN(20)), nil, true)
	}
	if r.IntN(6) > 0 {
		d["name"] = pick("Blue", "blue shirt", "Red", "AÇAÍ bowl", "zeta", "10")
	}
	if r.IntN(5) > 0 {
		var cats []any
		for range r.IntN(4) {
			cats = append(cats, map[string]any{"_id": "c" + strconv.Itoa(r.IntN(5)), "name": pick("One", "Two", "three")})
		}
		d["categories"] = cats
	}
	if r.IntN(4) > 0 {
		d["tags"] = pick([]any{"a"}, []any{"a", "b"}, []any{}, "a", []any{"c", int64(1)})
	}
	if r.IntN(3) > 0 {
		d["flag"] = r.IntN(2) == 0
	}
	d["n"] = int64(r.IntN(7))
	return d
}

func randCond(r *rand.Rand) db.Cond {
	paths := []string{"price", "name", "categories._id", "categories.name", "tags", "flag", "n", "_id"}
	vals := []db.Value{
		{Typed: "c1", Raw: "c1"}, {Typed: "c3", Raw: "c3"}, {Typed: "a", Raw: "a"}, {Typed: "Blue", Raw: "Blue"},
		{Typed: int64(5), Raw: "5"}, {Typed: 7.5, Raw: "7.5"}, {Typed: nil, Raw: "null"}, {Typed: true, Raw: "true"},
		{Typed: "One", Raw: "One"}, {Typed: int64(1), Raw: "1"}, {Typed: "b", Raw: "b"},
	}
	cd := db.Cond{Path: paths[r.IntN(len(paths))], Op: db.Op(r.IntN(5))}
	for range 1 + r.IntN(2) {
		cd.Values = append(cd.Values, vals[r.IntN(len(vals))])
	}
	if cd.Op == db.OpContains {
		cd.Values = []db.Value{{Typed: "b", Raw: "b"}}
		if r.IntN(2) == 0 {
			cd.Values = []db.Value{{Typed: "açaí", Raw: "açaí"}}
		}
	}
	return cd
}

// TestIndexesAgree runs random queries against two stores with the same documents,
// one without indexes (json_each expansion), one with single, compound and multikey
// indexes (expression indexes, side tables), through inserts, updates and deletes.
// Both must answer alike.
func TestIndexesAgree(t *testing.T) {
	plain, indexed := openTemp(t), openTemp(t)
	ctx := t.Context()
	idx := []db.Index{
		{Paths: []string{"categories._id", "price"}}, {Paths: []string{"tags", "price"}}, {Paths: []string{"categories._id", "name"}},
		{Paths: []string{"price"}}, {Paths: []string{"name"}}, {Paths: []string{"tags"}}, {Paths: []string{"flag"}},
		{Paths: []string{"categories.name"}},
	}
	if err := indexed.EnsureIndexes(ctx, "p", idx[:4]); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	const docs = 300
	for i := range docs {
		d := randDoc(r, int64(1+i%2), i)
		for _, s := range []*Store{plain, indexed} {
			if err := s.Insert(ctx, "p", d); err != nil {
				t.Fatal(err)
			}
		}
		if i == docs/2 {
			// The rest of the indexes arrive with data present.
			if err := indexed.EnsureIndexes(ctx, "p", idx[4:]); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(round int) {
		t.Helper()
		for range 150 {
			q := db.Query{StoreID: int64(1 + r.IntN(2)), Limit: 1 + r.IntN(12), Offset: r.IntN(4)}
			for range r.IntN(3) {
				q.Conds = append(q.Conds, randCond(r))
			}
			if r.IntN(3) == 0 {
				// The shape the compound indexes serve.
				q.Conds = append(q.Conds, db.Cond{Path: []string{"categories._id", "tags"}[r.IntN(2)], Op: db.OpEq,
					Values: []db.Value{{Typed: []string{"c1", "c2", "a", "b"}[r.IntN(4)], Raw: "x"}}})
			}
			for range r.IntN(3) {
				q.Sort = append(q.Sort, db.SortField{Path: []string{"price", "name", "n", "flag", "_id"}[r.IntN(5)], Desc: r.IntN(2) == 0})
			}
			a, err := plain.Find(ctx, "p", q)
			if err != nil {
				t.Fatalf("plain Find %+v: %v", q, err)
			}
			b, err := indexed.Find(ctx, "p", q)
			if err != nil {
				t.Fatalf("indexed Find %+v: %v", q, err)
			}
			if ga, gb := idsInOrder(a), idsInOrder(b); !slices.Equal(ga, gb) {
				t.Errorf("round %d: Find %+v:\n plain   %v\n indexed %v", round, q, ga, gb)
			}
			ca, err := plain.Count(ctx, "p", q.StoreID, q.Conds)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := indexed.Count(ctx, "p", q.StoreID, q.Conds)
			if err != nil {
				t.Fatal(err)
			}
			if ca != cb {
				t.Errorf("round %d: Count %+v: plain %d, indexed %d", round, q.Conds, ca, cb)
			}
		}
	}
	check(0)
	// Change documents: replace some, delete some, delete many.
	for i := range docs / 3 {
		id := fmt.Sprintf("%024x", r.IntN(docs))
		next := randDoc(r, 0, 0)
		del := i%5 == 0
		storeID := int64(1 + r.IntN(2))
		for _, s := range []*Store{plain, indexed} {
			_, err := s.Update(ctx, "p", storeID, id, func(db.Doc) (db.Doc, error) {
				if del {
					return nil, nil
				}
				return next, nil
			})
			if err != nil && !errors.Is(err, db.ErrNotFound) {
				t.Fatal(err)
			}
		}
	}
	for _, s := range []*Store{plain, indexed} {
		if _, err := s.DeleteMany(ctx, "p", 0, []db.Cond{{Path: "tags", Op: db.OpEq, Values: []db.Value{{Typed: "b", Raw: "b"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	check(1)
}

func idsInOrder(docs []db.Doc) []string {
	out := []string{}
	for _, d := range docs {
		out = append(out, d["_id"].(string))
	}
	return out
}
