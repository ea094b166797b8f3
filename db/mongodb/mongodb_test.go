package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"storeapi/db"
	"storeapi/db/dbtest"
	"storeapi/db/embedded"
)

// serverURI is the embedded FerretDB that every test of this binary talks to; it is
// set once by TestMain and only read afterwards.
var serverURI string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mongodb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(context.Background(), dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Stop()
	serverURI = srv.URI()
	return m.Run()
}

// dbCounter names a fresh database for every opened store.
var dbCounter atomic.Int64

// openStore opens a Store over a database nothing else uses.
func openStore(t *testing.T) *Store {
	t.Helper()
	return openNamed(t, fmt.Sprintf("test%d", dbCounter.Add(1)))
}

func openNamed(t *testing.T, name string) *Store {
	t.Helper()
	s, err := Open(t.Context(), serverURI, name)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) db.Store { return openStore(t) })
}

// TestUpdateAcrossStores runs updates through two Stores on one database, as two
// processes would: their in-process locks do not see each other, so only the revision
// check keeps an update from being lost. The second store writes while the first one's
// fn runs, which makes the first one's write conflict every time.
func TestUpdateAcrossStores(t *testing.T) {
	name := fmt.Sprintf("test%d", dbCounter.Add(1))
	a, b := openNamed(t, name), openNamed(t, name)
	ctx := t.Context()
	const id = "0123456789abcdef01234567"
	if err := a.Insert(ctx, "carts", db.Doc{"_id": id, "store_id": int64(1), "items": []any{}}); err != nil {
		t.Fatal(err)
	}
	appendItem := func(v string) db.UpdateFunc {
		return func(cur db.Doc) (db.Doc, error) {
			cur["items"] = append(cur["items"].([]any), v)
			return cur, nil
		}
	}

	calls := 0
	got, err := a.Update(ctx, "carts", 1, id, func(cur db.Doc) (db.Doc, error) {
		calls++
		if calls == 1 {
			if _, err := b.Update(ctx, "carts", 1, id, appendItem("from b")); err != nil {
				t.Errorf("nested Update through b: %v", err)
			}
		}
		return appendItem("from a")(cur)
	})
	if err != nil {
		t.Fatalf("Update through a: %v", err)
	}
	if calls != 2 {
		t.Errorf("fn called %d times; want 2 (the first write conflicts)", calls)
	}
	want := []any{"from b", "from a"}
	if !slices.Equal(got["items"].([]any), want) {
		t.Errorf("Update result items = %v; want %v", got["items"], want)
	}
	if doc, err := b.Get(ctx, "carts", 1, id); err != nil || !slices.Equal(doc["items"].([]any), want) {
		t.Errorf("Get through b = %v, %v; want items %v", doc, err, want)
	}

	// A delete that conflicts also reads again, and deletes the newer version.
	var seen []any
	calls = 0
	_, err = a.Update(ctx, "carts", 1, id, func(cur db.Doc) (db.Doc, error) {
		calls++
		if calls == 1 {
			if _, err := b.Update(ctx, "carts", 1, id, appendItem("late")); err != nil {
				t.Errorf("nested Update through b: %v", err)
			}
		}
		seen = cur["items"].([]any)
		return nil, nil
	})
	if err != nil || calls != 2 || len(seen) != 3 {
		t.Errorf("conflicting delete = %v, fn called %d times, last saw %v; want nil, 2, three items", err, calls, seen)
	}
	if _, err := b.Get(ctx, "carts", 1, id); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("Get after delete = %v; want ErrNotFound", err)
	}
}

// TestStoredForm checks what lands in the database: string _id, int64 store_id and
// integers, doubles, a revision that grows, and documents written by other tools (no
// revision, int32 numbers, ObjectIds) are read and updated all the same.
func TestStoredForm(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	const id = "0123456789abcdef01234567"
	c := s.db.Collection("things")
	if err := s.Insert(ctx, "things", db.Doc{"_id": id, "store_id": json.Number("7"),
		"i": json.Number("3"), "f": json.Number("2.5"), "big": json.Number("1e300"), "_rev": json.Number("99")}); err != nil {
		t.Fatal(err)
	}
	raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bson.Type{"_id": bson.TypeString, "store_id": bson.TypeInt64, "i": bson.TypeInt64,
		"f": bson.TypeDouble, "big": bson.TypeDouble, revField: bson.TypeInt64}
	for k, want := range types {
		if got := raw.Lookup(k).Type; got != want {
			t.Errorf("stored %s has BSON type %v; want %v", k, got, want)
		}
	}
	if rev, _ := rawInt64(raw.Lookup(revField)); rev != 1 {
		t.Errorf("stored revision = %d; want 1 (a client's _rev is not kept)", rev)
	}
	if _, err := s.Update(ctx, "things", 7, id, func(d db.Doc) (db.Doc, error) { return d, nil }); err != nil {
		t.Fatal(err)
	}
	raw, _ = c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if rev, _ := rawInt64(raw.Lookup(revField)); rev != 2 {
		t.Errorf("revision after one update = %d; want 2", rev)
	}

	// A document written by another tool.
	const foreign = "89abcdef0123456789abcdef"
	oid := bson.NewObjectID()
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: foreign}, {Key: "store_id", Value: int32(7)},
		{Key: "n", Value: int32(4)}, {Key: "ref", Value: oid}, {Key: "whole", Value: 3.0}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "things", 7, foreign)
	if err != nil {
		t.Fatal(err)
	}
	want := db.Doc{"_id": foreign, "store_id": json.Number("7"), "n": json.Number("4"), "ref": oid.Hex(), "whole": json.Number("3")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Get foreign document = %v; want %v", got, want)
	}
	if _, err := s.Update(ctx, "things", 7, foreign, func(d db.Doc) (db.Doc, error) { d["n"] = int64(5); return d, nil }); err != nil {
		t.Errorf("Update of a document without revision: %v", err)
	}
	if d, _ := s.Get(ctx, "things", 7, foreign); d["n"] != json.Number("5") {
		t.Errorf("after Update n = %#v; want 5", d["n"])
	}
}

func TestAggregateUnsupported(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		name  string
		stage db.Doc
		want  string
	}{
		{"not implemented stage", db.Doc{"$facet": db.Doc{"a": []any{}}}, "$facet"},
		{"unknown stage", db.Doc{"$nope": db.Doc{}}, "$nope"},
		{"unknown accumulator", db.Doc{"$group": db.Doc{"_id": nil, "x": db.Doc{"$median": "$a"}}}, "$median"},
		{"bad argument", db.Doc{"$limit": "ten"}, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Aggregate(t.Context(), "c", 1, []db.Doc{tc.stage})
			if !errors.Is(err, db.ErrUnsupported) {
				t.Fatalf("Aggregate %v = %v; want ErrUnsupported", tc.stage, err)
			}
			t.Logf("%v", err)
		})
	}
}
