package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"

	"storeapi/db"
	"storeapi/db/pipeline"
)

var (
	collRe = regexp.MustCompile(`^[a-z_]+$`)
	pathRe = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)
)

// collInfo is what the engine knows of one collection. Values are immutable once
// published in Store.colls; writers publish a changed copy after commit.
type collInfo struct {
	name    string
	indexes []indexDef
	// paths maps every indexed path to whether it is multikey (some document has an
	// array along it, so its values live in the side table).
	paths map[string]bool
}

// indexDef is one declared index.
type indexDef struct {
	name   string
	paths  []string
	unique bool
}

func (c *collInfo) clone() *collInfo {
	n := &collInfo{name: c.name, indexes: append([]indexDef(nil), c.indexes...), paths: make(map[string]bool, len(c.paths))}
	for k, v := range c.paths {
		n.paths[k] = v
	}
	return n
}

// multikey reports whether the index uses a multikey path (so its expression index is
// dropped).
func (c *collInfo) multikey(ix indexDef) bool {
	for _, p := range ix.paths {
		if c.paths[p] {
			return true
		}
	}
	return false
}

// sorted reports whether ix is an active compound multikey index: its first path is
// multikey and its second a scalar path, so the engine keeps storeapi_mk2_<coll>
// rows (first path's value, second path's value, id) in that order, and a page of
// "first = v, sorted by second" is a walk of that index.
func (c *collInfo) sorted(ix indexDef) bool {
	if len(ix.paths) < 2 || !c.paths[ix.paths[0]] {
		return false
	}
	second := ix.paths[1]
	if second == "_id" || second == "store_id" || strings.HasPrefix(second, "_id.") {
		return false
	}
	return !c.paths[second]
}

// checkColl validates a collection name.
func checkColl(coll string) error {
	if !collRe.MatchString(coll) || strings.HasPrefix(coll, "storeapi_") || strings.HasPrefix(coll, "sqlite_") {
		return fmt.Errorf("sqlite: invalid collection name %q", coll)
	}
	return nil
}

// checkPath validates a dot path.
func checkPath(path string) error {
	if len(path) > 1024 || !pathRe.MatchString(path) {
		return fmt.Errorf("%w: invalid path %q", db.ErrUnsupported, path)
	}
	return nil
}

// quoteIdent quotes an SQL identifier (names are validated already; this is defence in
// depth).
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// jsonPath is the SQLite JSON path of validated segments, as an SQL string literal:
// '$."a"."b"'. Keys are double-quoted inside the path so that any key is one key.
func jsonPath(segs []string) string {
	var b strings.Builder
	b.WriteString("'$")
	for _, s := range segs {
		b.WriteString(`."`)
		b.WriteString(s)
		b.WriteString(`"`)
	}
	b.WriteString("'")
	return b.String()
}

func sideTable(coll string) string { return quoteIdent("storeapi_mk_" + coll) }

func sortedTable(coll string) string { return quoteIdent("storeapi_mk2_" + coll) }

// fillSorted is the statement that (re)computes a compound multikey index's rows from
// the side table and the documents, for one document (?3) or, without the id
// condition, for all.
func fillSorted(ci *collInfo, ix indexDef, oneDoc bool) string {
	by := ""
	if oneDoc {
		// Without statistics SQLite would pick the primary key (path first) and read
		// every value of the path.
		by = ` INDEXED BY ` + quoteIdent("storeapi_mkid_"+ci.name)
	}
	q := `INSERT INTO ` + sortedTable(ci.name) + ` (ix, store_id, v, k, id) SELECT '` + ix.name + `', m.store_id, m.v, ` +
		exprFor("t.", ix.paths[1]) + `, m.id FROM ` + sideTable(ci.name) + ` AS m` + by + ` JOIN ` + quoteIdent(ci.name) +
		` AS t ON t.id = m.id WHERE m.path = '` + ix.paths[0] + `' AND typeof(m.v) <> 'blob'`
	if oneDoc {
		q += ` AND m.id = ?1`
	}
	return q
}

func hashName(parts ...string) string {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

const metaDDL = `
CREATE TABLE IF NOT EXISTS storeapi_collections (coll TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storeapi_indexes (
	coll TEXT NOT NULL, name TEXT NOT NULL, paths TEXT NOT NULL, uniq INTEGER NOT NULL,
	PRIMARY KEY (coll, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storeapi_counts (
	coll TEXT NOT NULL, store_id INTEGER NOT NULL, n INTEGER NOT NULL,
	PRIMARY KEY (coll, store_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storeapi_paths (
	coll TEXT NOT NULL, path TEXT NOT NULL, multikey INTEGER NOT NULL,
	PRIMARY KEY (coll, path)) WITHOUT ROWID;
`

// init creates the engine's own tables and loads what it knows of the collections.
func (s *Store) init(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, metaDDL); err != nil {
		return fmt.Errorf("sqlite: create meta tables: %w", err)
	}
	rows, err := s.writer.QueryContext(ctx, `SELECT coll FROM storeapi_collections`)
	if err != nil {
		return fmt.Errorf("sqlite: load collections: %w", err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return err
		}
		s.colls[c] = &collInfo{name: c, paths: map[string]bool{}}
	}
	rows.Close()
	for c := range s.colls {
		// Tables a database written by an earlier version may lack.
		if _, err := s.writer.ExecContext(ctx, collDDL(c)); err != nil {
			return fmt.Errorf("sqlite: upgrade collection %s: %w", c, err)
		}
	}
	if err := s.rebuildCounts(ctx); err != nil {
		return err
	}
	rows, err = s.writer.QueryContext(ctx, `SELECT coll, name, paths, uniq FROM storeapi_indexes ORDER BY coll, name`)
	if err != nil {
		return fmt.Errorf("sqlite: load indexes: %w", err)
	}
	for rows.Next() {
		var c, name, paths string
		var uniq bool
		if err := rows.Scan(&c, &name, &paths, &uniq); err != nil {
			rows.Close()
			return err
		}
		if ci := s.colls[c]; ci != nil {
			ci.indexes = append(ci.indexes, indexDef{name: name, paths: strings.Split(paths, ","), unique: uniq})
		}
	}
	rows.Close()
	rows, err = s.writer.QueryContext(ctx, `SELECT coll, path, multikey FROM storeapi_paths`)
	if err != nil {
		return fmt.Errorf("sqlite: load paths: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, p string
		var mk bool
		if err := rows.Scan(&c, &p, &mk); err != nil {
			return err
		}
		if ci := s.colls[c]; ci != nil {
			ci.paths[p] = mk
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	// Compound multikey indexes of a database written before they were kept.
	for _, ci := range s.colls {
		for _, ix := range ci.indexes {
			if !ci.sorted(ix) {
				continue
			}
			var have bool
			if err := s.writer.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+sortedTable(ci.name)+` WHERE ix = ?)`, ix.name).Scan(&have); err != nil {
				return fmt.Errorf("sqlite: check compound index: %w", err)
			}
			if !have {
				if _, err := s.writer.ExecContext(ctx, fillSorted(ci, ix, false)); err != nil {
					return fmt.Errorf("sqlite: fill compound index: %w", err)
				}
			}
		}
	}
	return nil
}

// rebuildCounts fills storeapi_counts from the collections when it is empty while
// documents exist (a database written before the table existed).
func (s *Store) rebuildCounts(ctx context.Context) error {
	var have int64
	if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM storeapi_counts`).Scan(&have); err != nil || have > 0 {
		return err
	}
	for c := range s.colls {
		t := quoteIdent(c)
		if _, err := s.writer.ExecContext(ctx, `INSERT INTO storeapi_counts (coll, store_id, n) SELECT '`+c+`', store_id, count(*) FROM `+t+` GROUP BY store_id`); err != nil {
			return fmt.Errorf("sqlite: rebuild counts: %w", err)
		}
	}
	return nil
}

// info returns the published knowledge of a collection, nil if it does not exist.
func (s *Store) info(coll string) *collInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.colls[coll]
}

// publish makes a collection's new knowledge visible to readers; call after commit.
func (s *Store) publish(ci *collInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.colls[ci.name] = ci
}

// collDDL creates a collection's tables and indexes (idempotent).
func collDDL(coll string) string {
	t := quoteIdent(coll)
	return `CREATE TABLE IF NOT EXISTS ` + t + ` (id TEXT PRIMARY KEY NOT NULL, store_id INTEGER NOT NULL, doc BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ` + quoteIdent("storeapi_st_"+coll) + ` ON ` + t + ` (store_id);
CREATE TABLE IF NOT EXISTS ` + sideTable(coll) + ` (path TEXT NOT NULL, store_id INTEGER NOT NULL, v NOT NULL, id TEXT NOT NULL,
	PRIMARY KEY (path, store_id, v, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ` + quoteIdent("storeapi_mkid_"+coll) + ` ON ` + sideTable(coll) + ` (id, path, v);
CREATE TABLE IF NOT EXISTS ` + sortedTable(coll) + ` (ix TEXT NOT NULL, store_id INTEGER NOT NULL, v NOT NULL, k, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ` + quoteIdent("storeapi_mk2x_"+coll) + ` ON ` + sortedTable(coll) + ` (ix, store_id, v, k, id);
CREATE INDEX IF NOT EXISTS ` + quoteIdent("storeapi_mk2id_"+coll) + ` ON ` + sortedTable(coll) + ` (id);
INSERT OR IGNORE INTO storeapi_collections (coll) VALUES ('` + coll + `');`
}

// createColl creates a collection's tables inside tx and returns its (empty) info.
func (s *Store) createColl(ctx context.Context, tx *sql.Tx, coll string) (*collInfo, error) {
	if _, err := tx.ExecContext(ctx, collDDL(coll)); err != nil {
		return nil, fmt.Errorf("sqlite: create collection %s: %w", coll, err)
	}
	return &collInfo{name: coll, paths: map[string]bool{}}, nil
}

// EnsureIndexes declares indexes on coll (creating the collection if needed). An index
// whose paths have never held arrays becomes an SQLite expression index on (store_id,
// json_extract(doc, path)...); a path that has becomes multikey (see the package
// documentation). Idempotent. A unique index that existing documents violate is
// ErrDuplicate.
func (s *Store) EnsureIndexes(ctx context.Context, coll string, indexes []db.Index) error {
	if err := checkColl(coll); err != nil {
		return err
	}
	for _, ix := range indexes {
		if len(ix.Paths) == 0 {
			return fmt.Errorf("sqlite: index without paths on %s", coll)
		}
		for _, p := range ix.Paths {
			if err := checkPath(p); err != nil {
				return err
			}
		}
	}
	var next *collInfo
	flipped := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		ci := s.info(coll)
		if ci == nil {
			var err error
			if ci, err = s.createColl(ctx, tx, coll); err != nil {
				return err
			}
		}
		ci = ci.clone()
		for _, ix := range indexes {
			def := indexDef{paths: ix.Paths, unique: ix.Unique}
			def.name = "storeapi_ix_" + coll + "_" + hashName(append([]string{strconv.FormatBool(ix.Unique)}, ix.Paths...)...)
			if hasIndex(ci, def.name) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO storeapi_indexes (coll, name, paths, uniq) VALUES (?, ?, ?, ?)`,
				coll, def.name, strings.Join(def.paths, ","), def.unique); err != nil {
				return fmt.Errorf("sqlite: record index: %w", err)
			}
			ci.indexes = append(ci.indexes, def)
			for _, p := range def.paths {
				if _, tracked := ci.paths[p]; tracked || p == "_id" || p == "store_id" {
					continue
				}
				mk, err := s.scanShape(ctx, tx, coll, p)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO storeapi_paths (coll, path, multikey) VALUES (?, ?, 0)`, coll, p); err != nil {
					return fmt.Errorf("sqlite: record path: %w", err)
				}
				ci.paths[p] = false
				if mk {
					if err := s.makeMultikey(ctx, tx, ci, p); err != nil {
						return err
					}
					flipped = true
				}
			}
			if ci.multikey(def) {
				if def.unique && len(def.paths) == 1 {
					if err := s.createSideUnique(ctx, tx, ci, def); err != nil {
						return err
					}
				}
				if ci.sorted(def) {
					if _, err := tx.ExecContext(ctx, fillSorted(ci, def, false)); err != nil {
						return fmt.Errorf("sqlite: fill compound index: %w", err)
					}
				}
				continue
			}
			if err := s.createExprIndex(ctx, tx, coll, def); err != nil {
				return err
			}
		}
		next = ci
		return nil
	})
	if err != nil {
		return err
	}
	s.publishChecked(next, flipped)
	return nil
}

// publishChecked publishes ci; when paths became multikey it moves shapeGen so that
// readers that compiled against the old knowledge run again.
func (s *Store) publishChecked(ci *collInfo, flipped bool) {
	if ci == nil {
		return
	}
	if flipped {
		s.shapeGen.Add(1) // odd: readers retry until it is even again
		s.publish(ci)
		s.shapeGen.Add(1)
		return
	}
	s.publish(ci)
}

func hasIndex(ci *collInfo, name string) bool {
	for _, ix := range ci.indexes {
		if ix.name == name {
			return true
		}
	}
	return false
}

// exprFor is the SQL expression an index or a query uses for a path's scalar value.
func exprFor(alias, path string) string {
	switch path {
	case "_id":
		return alias + "id"
	case "store_id":
		return alias + "store_id"
	}
	return "json_extract(" + alias + "doc, " + jsonPath(strings.Split(path, ".")) + ")"
}

func (s *Store) createExprIndex(ctx context.Context, tx *sql.Tx, coll string, def indexDef) error {
	cols := []string{"store_id"}
	for _, p := range def.paths {
		if p != "store_id" {
			cols = append(cols, exprFor("", p))
		}
	}
	u := ""
	if def.unique {
		u = "UNIQUE "
	}
	ddl := `CREATE ` + u + `INDEX IF NOT EXISTS ` + quoteIdent(def.name) + ` ON ` + quoteIdent(coll) + ` (` + strings.Join(cols, ", ") + `)`
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: unique index on %s %v: %v", db.ErrDuplicate, coll, def.paths, err)
		}
		return fmt.Errorf("sqlite: create index on %s %v: %w", coll, def.paths, err)
	}
	return nil
}

// createSideUnique enforces a unique index on a multikey path in the side table:
// no two documents of a store share a scalar value there.
func (s *Store) createSideUnique(ctx context.Context, tx *sql.Tx, ci *collInfo, def indexDef) error {
	name := quoteIdent("storeapi_mku_" + ci.name + "_" + hashName(def.paths[0]))
	ddl := `CREATE UNIQUE INDEX IF NOT EXISTS ` + name + ` ON ` + sideTable(ci.name) +
		` (store_id, v) WHERE path = '` + def.paths[0] + `' AND typeof(v) <> 'blob'`
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: unique index on %s %v: %v", db.ErrDuplicate, ci.name, def.paths, err)
		}
		return fmt.Errorf("sqlite: create index on %s %v: %w", ci.name, def.paths, err)
	}
	return nil
}

// scanShape reports whether any document of coll has an array along path.
func (s *Store) scanShape(ctx context.Context, tx *sql.Tx, coll, path string) (bool, error) {
	found := false
	err := s.eachDoc(ctx, tx, coll, func(_ string, _ int64, doc db.Doc) bool {
		if isMulti(doc, path) {
			found = true
			return false
		}
		return true
	})
	return found, err
}

// eachDoc decodes every document of coll in tx until fn returns false.
func (s *Store) eachDoc(ctx context.Context, tx *sql.Tx, coll string, fn func(id string, storeID int64, doc db.Doc) bool) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, store_id, json(doc) FROM `+quoteIdent(coll))
	if err != nil {
		return fmt.Errorf("sqlite: scan %s: %w", coll, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var storeID int64
		var raw []byte
		if err := rows.Scan(&id, &storeID, &raw); err != nil {
			return err
		}
		doc, err := decodeDoc(raw)
		if err != nil {
			return err
		}
		if !fn(id, storeID, doc) {
			break
		}
	}
	return rows.Err()
}

// isMulti reports whether doc has an array along path (crossed or at its end).
func isMulti(doc db.Doc, path string) bool {
	vals, via := pipeline.Lookup(doc, path)
	if via {
		return true
	}
	for _, v := range vals {
		if _, ok := v.([]any); ok {
			return true
		}
	}
	return false
}

// makeMultikey turns path into a multikey path inside tx: records it, drops the
// expression indexes using it, enforces single-path unique indexes in the side table,
// and fills the side table with every document's values.
func (s *Store) makeMultikey(ctx context.Context, tx *sql.Tx, ci *collInfo, path string) error {
	ci.paths[path] = true
	if _, err := tx.ExecContext(ctx, `UPDATE storeapi_paths SET multikey = 1 WHERE coll = ? AND path = ?`, ci.name, path); err != nil {
		return fmt.Errorf("sqlite: record multikey path: %w", err)
	}
	for _, ix := range ci.indexes {
		uses := false
		for _, p := range ix.paths {
			uses = uses || p == path
		}
		if !uses {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DROP INDEX IF EXISTS `+quoteIdent(ix.name)); err != nil {
			return fmt.Errorf("sqlite: drop index: %w", err)
		}
	}
	ins := `INSERT INTO ` + sideTable(ci.name) + ` (path, store_id, v, id) VALUES (?, ?, ?, ?)`
	st, err := tx.PrepareContext(ctx, ins)
	if err != nil {
		return err
	}
	defer st.Close()
	var werr error
	err = s.eachDoc(ctx, tx, ci.name, func(id string, storeID int64, doc db.Doc) bool {
		for _, v := range sideValues(doc, path) {
			if _, werr = st.ExecContext(ctx, path, storeID, v, id); werr != nil {
				return false
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("sqlite: fill multikey path %s: %w", path, err)
	}
	for _, ix := range ci.indexes {
		if ix.unique && len(ix.paths) == 1 && ix.paths[0] == path {
			if err := s.createSideUnique(ctx, tx, ci, ix); err != nil {
				return err
			}
		}
		if len(ix.paths) < 2 {
			continue
		}
		switch {
		case ix.paths[1] == path: // the sort path is no scalar any more
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+sortedTable(ci.name)+` WHERE ix = ?`, ix.name); err != nil {
				return fmt.Errorf("sqlite: drop compound index: %w", err)
			}
		case ix.paths[0] == path && ci.sorted(ix):
			if _, err := tx.ExecContext(ctx, fillSorted(ci, ix, false)); err != nil {
				return fmt.Errorf("sqlite: fill compound index: %w", err)
			}
		}
	}
	return nil
}

// Side-table encodings of the values that are not numbers or strings (which are
// stored as themselves): blobs sort after every number and string.
var (
	sideNull   = []byte{0}
	sideFalse  = []byte{1}
	sideTrue   = []byte{2}
	sideExists = []byte{3} // an object or array value: the path exists, matches no scalar
)

// sideValues returns the distinct side-table values of doc at path, with MongoDB's
// path rules (every array element, and arrays at the end expanded).
func sideValues(doc db.Doc, path string) []any {
	vals, _ := pipeline.Lookup(doc, path)
	seen := map[string]bool{}
	var out []any
	add := func(v any) {
		var enc any
		var k string
		switch x := v.(type) {
		case nil:
			enc, k = sideNull, "null"
		case bool:
			enc, k = sideFalse, "false"
			if x {
				enc, k = sideTrue, "true"
			}
		case string:
			enc, k = x, "s"+x
		case map[string]any, []any:
			enc, k = sideExists, "exists"
		default:
			n, ok := sqlNumber(v)
			if !ok {
				return
			}
			enc, k = n, fmt.Sprintf("n%v", n)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, enc)
		}
	}
	for _, v := range vals {
		add(v)
		if a, ok := v.([]any); ok {
			for _, e := range a {
				add(e)
			}
		}
	}
	return out
}

// sqlNumber converts a document number to the int64 or float64 SQLite compares it as
// (json_extract gives the same: integers that fit are INTEGER, others REAL).
func sqlNumber(v any) (any, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return nil, false
			}
		}
		return f, true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return nil, false
}

// Side-table statements of writeShapes.
func sideInsert(coll string) string {
	return `INSERT INTO ` + sideTable(coll) + ` (path, store_id, v, id) VALUES (?, ?, ?, ?)`
}
func sideDeleteID(coll string) string {
	return `DELETE FROM ` + sideTable(coll) + ` INDEXED BY ` + quoteIdent("storeapi_mkid_"+coll) + ` WHERE id = ?`
}
func sideDeleteIDPath(coll string) string {
	return `DELETE FROM ` + sideTable(coll) + ` INDEXED BY ` + quoteIdent("storeapi_mkid_"+coll) + ` WHERE id = ? AND path = ?`
}

func sortedDeleteID(coll string) string {
	return `DELETE FROM ` + sortedTable(coll) + ` INDEXED BY ` + quoteIdent("storeapi_mk2id_"+coll) + ` WHERE id = ?`
}
func sortedDeleteIxID(coll string) string {
	return `DELETE FROM ` + sortedTable(coll) + ` INDEXED BY ` + quoteIdent("storeapi_mk2id_"+coll) + ` WHERE ix = ? AND id = ?`
}

// sideStmts are the statements writeShapes uses on ci, for Store.warm.
func sideStmts(ci *collInfo) []string {
	if len(ci.paths) == 0 {
		return nil
	}
	out := []string{sideInsert(ci.name), sideDeleteID(ci.name), sideDeleteIDPath(ci.name), sortedDeleteID(ci.name), sortedDeleteIxID(ci.name)}
	for _, ix := range ci.indexes {
		if ci.sorted(ix) {
			out = append(out, fillSorted(ci, ix, true))
		}
	}
	return out
}

// writeShapes keeps the side table and the multikey flags right for a document just
// written (doc, replacing an older version when replaced) or deleted (doc nil) inside
// tx. ci is the writer's private copy; it reports whether a path became multikey.
func (s *Store) writeShapes(ctx context.Context, tx *sql.Tx, ci *collInfo, id string, storeID int64, doc db.Doc, replaced bool) (bool, error) {
	if doc == nil {
		if _, err := s.txExec(ctx, tx, sideDeleteID(ci.name), id); err != nil {
			return false, fmt.Errorf("sqlite: clear multikey values: %w", err)
		}
		if _, err := s.txExec(ctx, tx, sortedDeleteID(ci.name), id); err != nil {
			return false, fmt.Errorf("sqlite: clear compound index: %w", err)
		}
		return false, nil
	}
	var flipped map[string]bool
	for p, mk := range ci.paths {
		if !mk && isMulti(doc, p) {
			// The fill reads every row, this document's new version included.
			if err := s.makeMultikey(ctx, tx, ci, p); err != nil {
				return false, err
			}
			if flipped == nil {
				flipped = map[string]bool{}
			}
			flipped[p] = true
		}
	}
	ins := sideInsert(ci.name)
	for p, mk := range ci.paths {
		if !mk || flipped[p] {
			continue
		}
		if replaced {
			if _, err := s.txExec(ctx, tx, sideDeleteIDPath(ci.name), id, p); err != nil {
				return false, fmt.Errorf("sqlite: clear multikey values: %w", err)
			}
		}
		for _, v := range sideValues(doc, p) {
			if _, err := s.txExec(ctx, tx, ins, p, storeID, v, id); err != nil {
				if isUniqueViolation(err) {
					return false, fmt.Errorf("%w: %s %s", db.ErrDuplicate, ci.name, p)
				}
				return false, fmt.Errorf("sqlite: write multikey values: %w", err)
			}
		}
	}
	for _, ix := range ci.indexes {
		if !ci.sorted(ix) || flipped[ix.paths[0]] {
			continue // inactive, or filled whole by makeMultikey just now
		}
		if replaced {
			if _, err := s.txExec(ctx, tx, sortedDeleteIxID(ci.name), ix.name, id); err != nil {
				return false, fmt.Errorf("sqlite: clear compound index: %w", err)
			}
		}
		if _, err := s.txExec(ctx, tx, fillSorted(ci, ix, true), id); err != nil {
			return false, fmt.Errorf("sqlite: write compound index: %w", err)
		}
	}
	return flipped != nil, nil
}
