// Package sqlite is the embedded storage engine of storeapi: db.Store over one SQLite
// database file, through modernc.org/sqlite (pure Go, no cgo).
//
// # Layout
//
// Each collection is one table named after it (^[a-z_]+$): (id TEXT PRIMARY KEY,
// store_id INTEGER, doc BLOB) WITHOUT ROWID, doc being the document as SQLite JSONB
// (json_extract on JSONB needs no parse: about three times faster than on text), plus
// an index on store_id, which with the primary key orders a store's documents by _id.
// Ids are unique per collection across stores, as MongoDB's _id is, so an insert of an
// existing id under another store is ErrDuplicate. storeapi_counts keeps the number of
// documents of each store, written in the same transaction as the documents, so that
// the count of a whole store costs nothing.
//
// Declared indexes (EnsureIndexes) become expression indexes on (store_id,
// json_extract(doc, '$."path"'), ...) while no document has an array along the path.
// The engine checks every document it writes; the first one that puts an array on an
// indexed path makes the path multikey (as MongoDB marks an index multikey): from then
// on its values (every array element, with MongoDB's path rules) are kept in
// storeapi_mk_<collection> (path, store_id, v, id), written in the same transaction as
// the document, and filters on the path are answered from there. A compound index whose
// first path is multikey and second a scalar ({"categories._id", "price"}) is also kept
// as rows (store_id, v, second value, id) in storeapi_mk2_<collection>, so that a
// category page sorted by price is a walk of 20 index entries. The engine remembers
// indexes and multikey paths in storeapi_indexes and storeapi_paths.
//
// Filters on paths that are not indexed compile to json_type / json_each expressions
// with the same semantics, evaluated over the store's rows. When a page is sorted by an
// indexed path (or by _id) and filtered on a multikey path, the engine counts the
// matches first (up to probeLimit) and either reads the few matches and sorts them, or
// walks the order's index checking each row, whichever reads fewer rows.
//
// Queries are parameterised SQL: values are always bound; paths are checked against
// ^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$ and written as quoted JSON path literals.
//
// # Durability and concurrency
//
// The database runs in WAL mode with synchronous=NORMAL: a commit is in the WAL (in the
// operating system) before Insert or Update returns, so every acknowledged write
// survives the process being killed (kill -9, a crash; TestCrash checks it); only an
// operating-system crash or power loss can lose the last commits before a checkpoint,
// which FULL would prevent at the price of an fsync per write. Writes go through one
// connection, serialised in Go, each in a BEGIN IMMEDIATE transaction; Update reads,
// calls its function and writes inside that transaction, so concurrent updates never
// lose each other's changes. Reads use a pool of runtime.NumCPU() read-only
// connections, which WAL lets run alongside the writer.
//
// # Semantics and limits
//
// Filters follow MongoDB (see db.Op). Sorting orders values the way SQLite orders
// json_extract results: null and missing first, then numbers, then strings; booleans
// sort as the numbers 0 and 1 and objects and arrays as their JSON text (MongoDB puts
// objects, arrays and booleans after strings), and a sort path that crosses an array
// sorts by its smallest value ascending and largest descending when it is indexed, as
// missing when it is not. Unique indexes, as SQLite's, let several documents lack the
// indexed field (MongoDB would allow only one), and a unique compound index stops being
// enforced once one of its paths is multikey. Aggregate runs the pipeline in Go
// (package db/pipeline) over at most MaxAggregateDocs documents: those the first
// $match selects when it can be turned into SQL, else all the store's.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"storeapi/db"
)

// MaxAggregateDocs is the most documents Aggregate feeds into a pipeline; a larger
// input fails with an error wrapping db.ErrUnsupported.
const MaxAggregateDocs = 100_000

// maxCachedStmts bounds each prepared-statement cache.
const maxCachedStmts = 512

// Store is a db.Store over one SQLite database file. It is safe for concurrent use.
type Store struct {
	writer *sql.DB       // one connection: every write
	reader *sql.DB       // read-only pool
	wsem   chan struct{} // serialises write transactions

	wstmts stmtCache
	rstmts stmtCache

	mu    sync.Mutex           // guards colls (the map; *collInfo values are immutable)
	colls map[string]*collInfo // collections that exist, with their indexes

	maxAggregate int          // MaxAggregateDocs; lowered by tests
	unlock       func() error // releases the lock file

	// shapeGen counts changes of how paths must be queried (a path becoming multikey
	// drops its expression index): odd while such a change commits. Readers compile
	// against a snapshot and run again when it moved under them.
	shapeGen atomic.Uint64
}

var _ db.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and returns a Store. The
// caller closes it with Close. One Store at a time may have a file open (path+".lock"
// holds an advisory lock): a second Open of it, here or in another process, fails.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	unlock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, path)
	if err != nil {
		_ = unlock()
		return nil, err
	}
	s.unlock = unlock
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	drv := &sqlite.Driver{}
	if err := drv.RegisterDeterministicScalarFunction("storeapi_lower", 1, lowerFunc); err != nil {
		return nil, fmt.Errorf("sqlite: register function: %w", err)
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	base := u.String()
	common := "&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)" +
		"&_pragma=cache_size(-32000)&_pragma=mmap_size(268435456)"
	// A larger automatic checkpoint than SQLite's 1,000 pages: pages written again and
	// again (index roots, counts) go back to the database file less often, which
	// takes a third off write latency; journal_size_limit truncates the WAL after.
	writer := sql.OpenDB(connector{drv, base + "?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(10000)" +
		"&_pragma=journal_size_limit(67108864)&_txlock=immediate" + common})
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	s := &Store{writer: writer, wsem: make(chan struct{}, 1), colls: map[string]*collInfo{}, maxAggregate: MaxAggregateDocs}
	if err := s.init(ctx); err != nil {
		_ = writer.Close()
		return nil, err
	}
	n := max(2, runtime.NumCPU())
	s.reader = sql.OpenDB(connector{drv, base + "?_pragma=query_only(1)" + common})
	s.reader.SetMaxOpenConns(n)
	s.reader.SetMaxIdleConns(n)
	s.reader.SetConnMaxLifetime(0)
	s.reader.SetConnMaxIdleTime(0)
	if err := s.Ping(ctx); err != nil {
		_ = s.reader.Close()
		_ = writer.Close()
		return nil, err
	}
	return s, nil
}

// connector opens connections of one DSN through a Driver of this Store, so that the
// functions registered on it reach only these connections.
type connector struct {
	drv *sqlite.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// lowerFunc is storeapi_lower(x): x lower-cased with Unicode rules (SQLite's lower()
// knows only ASCII). Used by OpContains when the needle is not ASCII.
func lowerFunc(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return strings.ToLower(v), nil
	case []byte:
		if utf8.Valid(v) {
			return strings.ToLower(string(v)), nil
		}
	}
	return nil, nil
}

// Ping reports whether the database answers, on a read connection and on the writer.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the statements and connections; the Store is unusable afterwards.
//
// It deliberately runs no ANALYZE (nor PRAGMA optimize, which may): statistics would
// tell SQLite that store_id has few distinct values, and it would then scan whole
// tables for a small store instead of using the indexes that start with store_id.
func (s *Store) Close(context.Context) error {
	s.rstmts.close()
	s.wstmts.close()
	err := s.reader.Close()
	if e := s.writer.Close(); e != nil && err == nil {
		err = e
	}
	if s.unlock != nil {
		if e := s.unlock(); e != nil && err == nil {
			err = e
		}
		s.unlock = nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// lockWriter takes the write lock, or gives up when ctx ends.
func (s *Store) lockWriter(ctx context.Context) error {
	select {
	case s.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlockWriter() { <-s.wsem }

// writeTx runs fn in one write transaction (BEGIN IMMEDIATE on the single writer
// connection) and commits it when fn succeeds.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// stmtCache keeps prepared statements by SQL text, up to maxCachedStmts; beyond that
// statements are prepared per use.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns a cached statement for query on d, preparing it if needed; nil (and no
// error) when the cache is full.
func (c *stmtCache) get(ctx context.Context, d *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	if full {
		return nil, nil
	}
	st, err := d.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		_ = st.Close()
		return prev, nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = nil
}

// query runs a read statement on the reader pool, through the statement cache.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.rstmts.get(ctx, s.reader, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.reader.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// lookup returns the cached statement for query, nil if there is none.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// warm prepares write statements on the writer connection ahead of a transaction
// (inside one the only connection is taken), so that txStmt finds them cached.
func (s *Store) warm(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if s.wstmts.lookup(q) != nil {
			continue
		}
		if _, err := s.wstmts.get(ctx, s.writer, q); err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	return nil
}

// txStmt returns query prepared for tx: the cached statement when warm prepared it,
// else a statement prepared in tx (closed with it).
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st := s.wstmts.lookup(query); st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *Store) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
