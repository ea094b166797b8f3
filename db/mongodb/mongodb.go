// Package mongodb is the MongoDB engine of storeapi: db.Store over
// go.mongodb.org/mongo-driver/v2, for a real MongoDB (replica set or sharded cluster,
// shard key {store_id: 1, _id: 1}) and for FerretDB v1, the server its tests run on.
//
// It uses only what both servers do: no transactions, TTL indexes, positional updates
// or arrayFilters. Documents live one collection per resource with _id the 24-hex
// string, store_id an int64, integral numbers int64 and others double, and a hidden
// revision counter "_rev" that conditional writes check. Point reads and writes filter
// by {_id} alone (the only filter FerretDB's SQLite backend does not answer by scanning
// the collection) and check store_id on the document fetched.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"storeapi/db"
)

// lockStripes is how many mutexes serialise updates inside the process; documents are
// mapped onto them by hash, so memory stays bounded whatever the number of documents.
const lockStripes = 256

// maxUpdateAttempts bounds the read-modify-write retries when other processes keep
// changing the same document.
const maxUpdateAttempts = 100

// Store is the MongoDB engine. It implements db.Store; all methods are safe for
// concurrent use.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	seed   maphash.Seed
	locks  [lockStripes]sync.Mutex
	// ferret is set when the server is FerretDB, whose bugs some methods work around.
	ferret bool
	// transactions is set when the deployment runs multi-document transactions (a replica
	// set or sharded cluster): a write and its records then commit together.
	transactions bool
}

var _ db.Store = (*Store)(nil)

// Open connects to the MongoDB server at uri, checks that it answers, and returns a
// Store over database.
func Open(ctx context.Context, uri, database string) (*Store, error) {
	if database == "" {
		return nil, errors.New("mongodb: empty database name")
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("mongodb: connect: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mongodb: ping: %w", err)
	}
	s := &Store{client: client, db: client.Database(database), seed: maphash.MakeSeed()}
	info, err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err == nil {
		_, err = info.LookupErr("ferretdbVersion")
		s.ferret = err == nil
	}
	if !s.ferret {
		hello, err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Raw()
		if err == nil {
			_, setErr := hello.LookupErr("setName")
			msg, _ := hello.Lookup("msg").StringValueOK()
			s.transactions = setErr == nil || msg == "isdbgrid"
		}
	}
	return s, nil
}

// withRecords runs write and inserts the records after it: in one transaction when the
// deployment has them, else one after the other (a crash between them can lose a
// record; the README says so).
func (s *Store) withRecords(ctx context.Context, records []db.Record, write func(ctx context.Context) error) error {
	insert := func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		for _, r := range records {
			if err := s.insertOne(ctx, r.Coll, r.Doc); err != nil {
				return fmt.Errorf("mongodb: record in %s: %w", r.Coll, err)
			}
		}
		return nil
	}
	if len(records) == 0 || !s.transactions {
		return insert(ctx)
	}
	sess, err := s.client.StartSession()
	if err != nil {
		return fmt.Errorf("mongodb: session: %w", err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) { return nil, insert(ctx) })
	return err
}

// lock returns the mutex that serialises updates of one document in this process.
func (s *Store) lock(coll, id string) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(coll)
	h.WriteByte(0)
	h.WriteString(id)
	return &s.locks[h.Sum64()%lockStripes]
}

// fetch reads the stored document with that id by {_id} alone and checks its store.
// It returns the raw document and its revision (0 when it has none).
func (s *Store) fetch(ctx context.Context, coll string, storeID int64, id string) (bson.Raw, int64, error) {
	raw, err := s.db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, 0, db.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("mongodb: get %s %s: %w", coll, id, err)
	}
	if got, ok := rawInt64(raw.Lookup("store_id")); !ok || got != storeID {
		return nil, 0, db.ErrNotFound
	}
	rev, _ := rawInt64(raw.Lookup(revField))
	return raw, rev, nil
}

// Get returns the document with that id in that store, or db.ErrNotFound.
func (s *Store) Get(ctx context.Context, coll string, storeID int64, id string) (db.Doc, error) {
	raw, _, err := s.fetch(ctx, coll, storeID, id)
	if err != nil {
		return nil, err
	}
	return toDoc(raw)
}

// Find returns the documents of q.StoreID matching q, in q's order (ties by _id),
// projected to q.Fields.
func (s *Store) Find(ctx context.Context, coll string, q db.Query) ([]db.Doc, error) {
	filter, err := compileFilter(q.StoreID, false, q.Conds)
	if err != nil {
		return nil, err
	}
	sort, err := compileSort(q.Sort)
	if err != nil {
		return nil, err
	}
	opts := options.Find().SetSort(sort)
	if q.Offset > 0 {
		opts.SetSkip(int64(q.Offset))
	}
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	if len(q.Fields) > 0 {
		proj, err := compileProjection(q.Fields)
		if err != nil {
			return nil, err
		}
		opts.SetProjection(proj)
	}
	cur, err := s.db.Collection(coll).Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: find %s: %w", coll, err)
	}
	return readAll(ctx, cur)
}

// readAll drains a cursor into documents of the db.Doc form.
func readAll(ctx context.Context, cur *mongo.Cursor) ([]db.Doc, error) {
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	var out []db.Doc
	for cur.Next(ctx) {
		d, err := toDoc(cur.Current)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("mongodb: read cursor: %w", err)
	}
	return out, nil
}

// Count returns how many documents of the store match conds.
func (s *Store) Count(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	filter, err := compileFilter(storeID, false, conds)
	if err != nil {
		return 0, err
	}
	n, err := s.db.Collection(coll).CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("mongodb: count %s: %w", coll, err)
	}
	return n, nil
}

// Insert stores a new document; db.ErrDuplicate when its _id or a unique index is taken.
func (s *Store) Insert(ctx context.Context, coll string, doc db.Doc, records ...db.Record) error {
	return s.withRecords(ctx, records, func(ctx context.Context) error { return s.insertOne(ctx, coll, doc) })
}

// insertOne stores one new document.
func (s *Store) insertOne(ctx context.Context, coll string, doc db.Doc) error {
	id, ok := doc["_id"].(string)
	if !ok || id == "" {
		return fmt.Errorf("mongodb: insert %s: _id must be a string", coll)
	}
	storeID, err := docStoreID(doc["store_id"])
	if err != nil {
		return fmt.Errorf("mongodb: insert %s: %w", coll, err)
	}
	d, err := storedDoc(doc, id, storeID, 1)
	if err != nil {
		return fmt.Errorf("mongodb: insert %s: %w", coll, err)
	}
	if _, err := s.db.Collection(coll).InsertOne(ctx, d); err != nil {
		if isDuplicate(err) {
			return fmt.Errorf("%w: %s", db.ErrDuplicate, duplicateMessage(err))
		}
		return fmt.Errorf("mongodb: insert %s: %w", coll, err)
	}
	return nil
}

// docStoreID reads a document's store_id in any of the accepted number forms.
func docStoreID(v any) (int64, error) {
	n, _, err := typed(v)
	if err == nil {
		switch n := n.(type) {
		case int64:
			return n, nil
		case float64:
			if i := int64(n); float64(i) == n {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("store_id %v is not an integer", v)
}

// isDuplicate reports a write refused by a unique index. FerretDB v1 answers an update
// that breaks one with an InternalError carrying SQLite's message instead of E11000.
func isDuplicate(err error) bool {
	return mongo.IsDuplicateKeyError(err) || strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// duplicateMessage keeps the server's description of the refused key for logs.
func duplicateMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "E11000"); i >= 0 {
		return msg[i:]
	}
	return msg
}

// Update replaces (or, when fn returns nil, deletes) one document with what fn returns.
//
// Updates of one document are serialised inside the process by a striped lock, and
// every write is conditional on the revision read ({_id, _rev}), so that updates from
// other processes are never lost either: a write that finds the document changed
// reads it again and calls fn again with the newer version. FerretDB v1 evaluates that
// filter and then writes by _id, not atomically, so against it only the in-process lock
// holds: run one process per FerretDB (as the embedded setup does).
func (s *Store) Update(ctx context.Context, coll string, storeID int64, id string, fn db.UpdateFunc, records ...db.Record) (db.Doc, error) {
	var result db.Doc
	err := s.withRecords(ctx, records, func(ctx context.Context) error {
		var err error
		result, err = s.update(ctx, coll, storeID, id, fn)
		return err
	})
	return result, err
}

// update is Update without records.
func (s *Store) update(ctx context.Context, coll string, storeID int64, id string, fn db.UpdateFunc) (db.Doc, error) {
	mu := s.lock(coll, id)
	mu.Lock()
	defer mu.Unlock()

	c := s.db.Collection(coll)
	for range maxUpdateAttempts {
		raw, rev, err := s.fetch(ctx, coll, storeID, id)
		if err != nil {
			return nil, err
		}
		cur, err := toDoc(raw)
		if err != nil {
			return nil, err
		}
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		cond := bson.D{{Key: "_id", Value: id}, {Key: revField, Value: rev}}
		if rev == 0 {
			// Written by something else than this engine: no revision yet.
			cond[1].Value = bson.D{{Key: "$exists", Value: false}}
		}
		if next == nil {
			res, err := c.DeleteOne(ctx, cond)
			if err != nil {
				return nil, fmt.Errorf("mongodb: delete %s %s: %w", coll, id, err)
			}
			if res.DeletedCount == 1 {
				return nil, nil
			}
			continue
		}
		d, err := storedDoc(next, id, storeID, rev+1)
		if err != nil {
			return nil, fmt.Errorf("mongodb: update %s %s: %w", coll, id, err)
		}
		stored, err := bson.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("mongodb: update %s %s: %w", coll, id, err)
		}
		res, err := c.ReplaceOne(ctx, cond, bson.Raw(stored))
		if err != nil {
			if isDuplicate(err) {
				return nil, fmt.Errorf("%w: %s", db.ErrDuplicate, duplicateMessage(err))
			}
			return nil, fmt.Errorf("mongodb: update %s %s: %w", coll, id, err)
		}
		if res.MatchedCount == 1 {
			return toDoc(stored)
		}
	}
	return nil, fmt.Errorf("mongodb: update %s %s: still changing after %d attempts", coll, id, maxUpdateAttempts)
}

// Aggregate runs pipeline over the store's documents: a $match on store_id comes first.
// A stage or operator the server refuses is db.ErrUnsupported with the server's words.
func (s *Store) Aggregate(ctx context.Context, coll string, storeID int64, pipeline []db.Doc) ([]db.Doc, error) {
	p := make(bson.A, 0, len(pipeline)+1)
	p = append(p, bson.D{{Key: "$match", Value: bson.D{{Key: "store_id", Value: storeID}}}})
	for i, stage := range pipeline {
		if err := s.checkStage(stage); err != nil {
			return nil, err
		}
		st, err := toBSON(map[string]any(stage))
		if err != nil {
			return nil, fmt.Errorf("%w: stage %d: %v", db.ErrUnsupported, i, err)
		}
		p = append(p, st)
	}
	cur, err := s.db.Collection(coll).Aggregate(ctx, p)
	if err != nil {
		return nil, aggregateError(coll, err)
	}
	docs, err := readAll(ctx, cur)
	if err != nil {
		return nil, aggregateError(coll, err)
	}
	return docs, nil
}

// checkStage refuses what the server would answer wrongly rather than with an error:
// FerretDB v1 computes only the first accumulator of a $group (the others come out 0).
func (s *Store) checkStage(stage db.Doc) error {
	if !s.ferret {
		return nil
	}
	if g, ok := stage["$group"].(map[string]any); ok {
		accumulators := len(g)
		if _, ok := g["_id"]; ok {
			accumulators--
		}
		if accumulators > 1 {
			return fmt.Errorf("%w: $group with more than one accumulator on FerretDB", db.ErrUnsupported)
		}
	}
	return nil
}

// serverStateCodes are command error codes about the server's state rather than the
// request: they stay internal errors.
var serverStateCodes = map[int32]bool{
	6: true, 7: true, 13: true, 18: true, 50: true, 89: true, 91: true, 189: true,
	262: true, 9001: true, 10107: true, 11600: true, 11601: true, 11602: true,
	13435: true, 13436: true,
}

// aggregateError maps the server's refusal of a pipeline (an unknown or unimplemented
// stage or operator, a malformed argument) to db.ErrUnsupported.
func aggregateError(coll string, err error) error {
	var ce mongo.CommandError
	if errors.As(err, &ce) && ce.Code != 0 && !serverStateCodes[ce.Code] &&
		!mongo.IsNetworkError(err) && !mongo.IsTimeout(err) {
		return fmt.Errorf("%w: %s", db.ErrUnsupported, ce.Message)
	}
	return fmt.Errorf("mongodb: aggregate %s: %w", coll, err)
}

// EnsureIndexes creates the indexes that do not exist yet: {store_id: 1, _id: 1} (the
// shard key) and one {store_id: 1, <paths>: 1} per declared index, named after its keys
// and uniqueness. It lists the existing indexes and creates each missing one alone:
// FerretDB v1 drops the connection when one createIndexes batch holds an existing index.
func (s *Store) EnsureIndexes(ctx context.Context, coll string, indexes []db.Index) error {
	models := []mongo.IndexModel{{
		Keys:    bson.D{{Key: "store_id", Value: 1}, {Key: "_id", Value: 1}},
		Options: options.Index().SetName("store_id_1__id_1"),
	}}
	names := []string{"store_id_1__id_1"}
	for _, ix := range indexes {
		keys := bson.D{{Key: "store_id", Value: 1}}
		name := "store_id_1"
		for _, p := range ix.Paths {
			if err := checkPath(p); err != nil {
				return err
			}
			keys = append(keys, bson.E{Key: p, Value: 1})
			name += "_" + p + "_1"
		}
		opts := options.Index()
		if ix.Unique {
			opts.SetUnique(true)
			name += "_unique"
		}
		models = append(models, mongo.IndexModel{Keys: keys, Options: opts.SetName(name)})
		names = append(names, name)
	}

	iv := s.db.Collection(coll).Indexes()
	specs, err := iv.ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("mongodb: indexes of %s: %w", coll, err)
	}
	exists := make(map[string]bool, len(specs))
	for _, sp := range specs {
		exists[sp.Name] = true
	}
	for i, m := range models {
		if exists[names[i]] {
			continue
		}
		exists[names[i]] = true
		if _, err := iv.CreateOne(ctx, m); err != nil {
			return fmt.Errorf("mongodb: index %s of %s: %w", names[i], coll, err)
		}
	}
	return nil
}

// DeleteMany deletes the store's documents matching conds (storeID 0: every store's)
// and returns how many it deleted.
func (s *Store) DeleteMany(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	filter, err := compileFilter(storeID, storeID == 0, conds)
	if err != nil {
		return 0, err
	}
	res, err := s.db.Collection(coll).DeleteMany(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("mongodb: delete from %s: %w", coll, err)
	}
	return res.DeletedCount, nil
}

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongodb: ping: %w", err)
	}
	return nil
}

// Close disconnects from the server.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongodb: close: %w", err)
	}
	return nil
}
