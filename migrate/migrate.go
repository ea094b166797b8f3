// Package migrate moves one store's data between storage engines: Export writes every
// document of the store as NDJSON, Import reads it back into any engine, and Copy does
// both at once. The token secret must be the same on both sides for API keys and tokens
// to keep working (credentials hold bcrypt hashes and a key version, not keys).
package migrate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"storeapi/db"
)

// Collections are the store-scoped collections a store's data lives in: the 13
// resources, then the internal ones (credentials, the store id reservation).
var Collections = []string{
	"stores", "authentications", "credentials", "store_ids",
	"products", "categories", "brands", "collections", "grids",
	"customers", "carts", "orders", "applications", "procedures", "triggers",
	"sequences",
}

// pageSize is how many documents one read fetches.
const pageSize = 500

// Line is one exported document.
type Line struct {
	Collection string `json:"collection"`
	Doc        db.Doc `json:"doc"`
}

// Counts are how many documents moved per collection.
type Counts map[string]int

// Export writes every document of storeID to w, one Line per line, collection by
// collection in _id order.
func Export(ctx context.Context, store db.Store, storeID int64, w io.Writer) (Counts, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	counts := Counts{}
	err := each(ctx, store, storeID, func(coll string, doc db.Doc) error {
		counts[coll]++
		return enc.Encode(Line{Collection: coll, Doc: doc})
	})
	if err != nil {
		return counts, err
	}
	return counts, bw.Flush()
}

// each calls fn for every document of the store, paging by _id.
func each(ctx context.Context, store db.Store, storeID int64, fn func(coll string, doc db.Doc) error) error {
	for _, coll := range Collections {
		after := ""
		for {
			q := db.Query{StoreID: storeID, Sort: []db.SortField{{Path: "_id"}}, Limit: pageSize}
			if after != "" {
				q.Conds = []db.Cond{{Path: "_id", Op: db.OpGte, Values: []db.Value{{Typed: after, Raw: after}}}}
			}
			docs, err := store.Find(ctx, coll, q)
			if err != nil {
				return fmt.Errorf("migrate: reading %s: %w", coll, err)
			}
			n := 0
			for _, d := range docs {
				id, _ := d["_id"].(string)
				if id == after {
					continue // the page boundary, already written
				}
				if err := fn(coll, d); err != nil {
					return err
				}
				after = id
				n++
			}
			if n == 0 {
				break
			}
		}
	}
	return nil
}

// Import stores every Line read from r. A document whose _id exists is replaced when
// replace is true and skipped otherwise. Every document must belong to storeID (0:
// accept the store of the first line and hold every other line to it).
func Import(ctx context.Context, store db.Store, storeID int64, r io.Reader, replace bool) (Counts, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	counts := Counts{}
	for {
		var line Line
		err := dec.Decode(&line)
		if errors.Is(err, io.EOF) {
			return counts, nil
		}
		if err != nil {
			return counts, fmt.Errorf("migrate: line %d: %w", sum(counts)+1, err)
		}
		if storeID, err = checkLine(line, storeID); err != nil {
			return counts, err
		}
		if err := put(ctx, store, storeID, line, replace); err != nil {
			return counts, err
		}
		counts[line.Collection]++
	}
}

// Copy moves a store from one engine to another.
func Copy(ctx context.Context, from, to db.Store, storeID int64, replace bool) (Counts, error) {
	counts := Counts{}
	err := each(ctx, from, storeID, func(coll string, doc db.Doc) error {
		if err := put(ctx, to, storeID, Line{Collection: coll, Doc: doc}, replace); err != nil {
			return err
		}
		counts[coll]++
		return nil
	})
	return counts, err
}

// checkLine validates an imported line and returns the store it belongs to.
func checkLine(line Line, storeID int64) (int64, error) {
	known := false
	for _, c := range Collections {
		known = known || c == line.Collection
	}
	if !known {
		return storeID, fmt.Errorf("migrate: unknown collection %q", line.Collection)
	}
	id, _ := line.Doc["_id"].(string)
	if !db.ValidID(id) {
		return storeID, fmt.Errorf("migrate: a %s document has no valid _id", line.Collection)
	}
	n, ok := line.Doc["store_id"].(json.Number)
	got, err := n.Int64()
	if !ok || err != nil || got <= 0 {
		return storeID, fmt.Errorf("migrate: %s %s has no valid store_id", line.Collection, id)
	}
	if storeID != 0 && got != storeID {
		return storeID, fmt.Errorf("migrate: %s %s belongs to store %d, not %d", line.Collection, id, got, storeID)
	}
	return got, nil
}

// put inserts a document, replacing or skipping one with the same _id.
func put(ctx context.Context, store db.Store, storeID int64, line Line, replace bool) error {
	err := store.Insert(ctx, line.Collection, line.Doc)
	if !errors.Is(err, db.ErrDuplicate) {
		return err
	}
	if !replace {
		return nil
	}
	id := line.Doc["_id"].(string)
	_, err = store.Update(ctx, line.Collection, storeID, id, func(db.Doc) (db.Doc, error) { return line.Doc, nil })
	return err
}

// sum adds the counts.
func sum(c Counts) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}
