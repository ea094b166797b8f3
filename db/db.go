// Package db is the storage seam of storeapi: the one interface through which every
// package reads and writes documents, and the query type that lists are expressed in.
//
// Engines (db/sqlite, db/mongodb) implement Store. Nothing outside an engine imports a
// database driver, so handlers, auth, cache and webhooks do not know which engine runs.
//
// Documents are JSON values in their decoded form: map[string]any objects, []any arrays,
// string, bool, nil and json.Number for every number. Engines return documents in exactly
// that form and accept them (int64 and float64 numbers are accepted too).
//
// Every document carries "_id" (24 lowercase hex characters) and "store_id" (int64 in
// the filter, json.Number in the document). Every engine method is scoped to one store:
// a document of another store is reported as ErrNotFound, never returned or changed.
package db

import (
	"context"
	"errors"
)

// Sentinel errors every engine reports (wrapped with %w where useful).
var (
	// ErrNotFound means no document with that id exists in that store.
	ErrNotFound = errors.New("db: document not found")
	// ErrDuplicate means a unique index refused the write.
	ErrDuplicate = errors.New("db: duplicate key")
	// ErrUnsupported means the engine cannot run the request (an aggregation stage or
	// operator it does not know); the message names what.
	ErrUnsupported = errors.New("db: unsupported")
)

// Doc is one JSON document.
type Doc = map[string]any

// Op is a filter operator of the list grammar (SPEC §4).
type Op int

// The filter operators. Each compares the value(s) at a dot path with the condition's
// values; a path that crosses an array matches when any element matches (MongoDB's rule),
// except OpNe, which matches when no element equals any value.
const (
	OpEq       Op = iota // any of Values equals the field
	OpNe                 // none of Values equals the field (missing fields match)
	OpGte                // field >= Values[0]
	OpLte                // field <= Values[0]
	OpContains           // field is a string containing Values[0] (a literal), case-insensitively
)

// String names the operator as the query string writes it.
func (o Op) String() string {
	switch o {
	case OpEq:
		return "="
	case OpNe:
		return "!="
	case OpGte:
		return ">="
	case OpLte:
		return "<="
	case OpContains:
		return "%="
	}
	return "?"
}

// Value is one typed value of a condition.
//
// Typed is what the client's text means: nil, bool, float64 (or int64) for numbers, or
// the string itself. Raw is the text as sent. For equality (OpEq, OpNe) a numeric Typed
// also matches the same digits stored as a string (Raw): "price=10" finds 10 and "10".
type Value struct {
	Typed any
	Raw   string
}

// Cond is one filter condition: the value(s) at Path (dot notation through objects and
// arrays, e.g. "categories._id") compared with Values by Op. Path never starts with '$'
// and never contains an empty segment; parsers guarantee it.
type Cond struct {
	Path   string
	Op     Op
	Values []Value
}

// SortField orders a list by the value at Path, ascending unless Desc.
type SortField struct {
	Path string
	Desc bool
}

// Query is one list request against a collection. Conds are ANDed. Engines always add
// the store to the filter and break sort ties by _id so that pages are stable.
type Query struct {
	StoreID int64
	Conds   []Cond
	Sort    []SortField
	// Fields are the dot paths to return; "_id" always comes back. Empty returns whole documents.
	Fields []string
	// Limit is the page size (> 0); Offset the number of matching documents skipped.
	Limit  int
	Offset int
}

// Index declares an index an engine should keep on a collection, after store_id which
// every index starts with. Paths may cross arrays ("categories._id").
type Index struct {
	Paths  []string
	Unique bool
}

// Record is a document to insert into another collection together with a write (a
// trigger, a webhook queue entry): engines store it in the same atomic write where they
// can, so that a write is never left without its records nor a record without its write.
type Record struct {
	Coll string
	Doc  Doc
}

// UpdateFunc receives the current document (a private copy the function may change) and
// returns the document to store in its place, or nil to delete it. An error aborts the
// update and is returned by Store.Update unchanged.
type UpdateFunc func(current Doc) (next Doc, err error)

// Store is the storage seam. Collections are named by resource ("products").
// All methods are safe for concurrent use.
type Store interface {
	// Get returns the document with that id in that store, or ErrNotFound.
	Get(ctx context.Context, coll string, storeID int64, id string) (Doc, error)
	// Find returns the documents matching q, in q's order, projected to q.Fields.
	Find(ctx context.Context, coll string, q Query) ([]Doc, error)
	// Count returns how many documents of the store match conds.
	Count(ctx context.Context, coll string, storeID int64, conds []Cond) (int64, error)
	// Insert stores a new document; doc has "_id" and "store_id" set. ErrDuplicate when a
	// unique index refuses it. The records are inserted with it: atomically where the
	// engine has transactions (SQLite, MongoDB replica sets), else right after it.
	Insert(ctx context.Context, coll string, doc Doc, records ...Record) error
	// Update atomically replaces (or deletes) one document with what fn returns. Concurrent
	// updates of one document are serialised: fn always sees the latest committed version,
	// so no update is lost. ErrNotFound when the document does not exist in that store.
	// The _id and store_id of the returned document are forced to the current ones. The
	// records are inserted when the change applies (as with Insert), never when fn fails.
	// fn must not write to the Store (engines may hold a write lock while it runs).
	Update(ctx context.Context, coll string, storeID int64, id string, fn UpdateFunc, records ...Record) (Doc, error)
	// Aggregate runs a read-only pipeline over the store's documents. The engine prepends
	// the store filter; stages are already checked against the allowed list by the caller.
	// ErrUnsupported (wrapped, naming the stage or operator) when the engine cannot run it.
	Aggregate(ctx context.Context, coll string, storeID int64, pipeline []Doc) ([]Doc, error)
	// EnsureIndexes creates the indexes that do not exist yet (idempotent).
	EnsureIndexes(ctx context.Context, coll string, indexes []Index) error
	// DeleteMany deletes the store's documents matching conds (storeID 0: every store's)
	// and returns how many it deleted. Used by purges, not by clients.
	DeleteMany(ctx context.Context, coll string, storeID int64, conds []Cond) (int64, error)
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the engine's resources.
	Close(ctx context.Context) error
}
