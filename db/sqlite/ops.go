package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"storeapi/db"
	"storeapi/db/pipeline"
)

// Get returns the document with that id in that store, or db.ErrNotFound.
func (s *Store) Get(ctx context.Context, coll string, storeID int64, id string) (db.Doc, error) {
	if err := checkColl(coll); err != nil {
		return nil, err
	}
	if s.info(coll) == nil {
		return nil, db.ErrNotFound
	}
	rows, err := s.query(ctx, `SELECT json(doc) FROM `+quoteIdent(coll)+` WHERE id = ?1 AND store_id = ?2`, id, storeID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: get: %w", err)
		}
		return nil, db.ErrNotFound
	}
	var raw []byte
	if err := rows.Scan(&raw); err != nil {
		return nil, fmt.Errorf("sqlite: get: %w", err)
	}
	return decodeDoc(raw)
}

// readCompiled compiles with build against the published knowledge of coll and runs
// run on the result; when a path became multikey meanwhile (shapeGen moved), it
// compiles and runs again, so no query mixes the old and the new layout. build gets
// nil info when the collection does not exist.
func (s *Store) readCompiled(ctx context.Context, coll string, build func(ci *collInfo) (string, []any, error), run func(query string, args []any) error) error {
	for {
		g := s.shapeGen.Load()
		if g%2 == 1 {
			runtime.Gosched()
			continue
		}
		query, args, err := build(s.info(coll))
		if err != nil {
			return err
		}
		if err := run(query, args); err != nil {
			return err
		}
		if s.shapeGen.Load() == g {
			return nil
		}
	}
}

// Find returns the documents of the store matching q, in q's order (then _id
// ascending), projected to q.Fields.
func (s *Store) Find(ctx context.Context, coll string, q db.Query) ([]db.Doc, error) {
	if err := checkColl(coll); err != nil {
		return nil, err
	}
	for _, f := range q.Fields {
		if err := checkPath(f); err != nil {
			return nil, err
		}
	}
	var out []db.Doc
	err := s.readCompiled(ctx, coll, func(ci *collInfo) (string, []any, error) {
		c := newCompiler(ci, coll, q.StoreID)
		if query, ok, err := c.sortedFind(q); ok || err != nil {
			return query, c.args, err
		}
		if ci != nil {
			var err error
			if c.filterOnly, err = s.plan(ctx, ci, coll, q); err != nil {
				return "", nil, err
			}
		}
		where, err := c.where(q.Conds)
		if err != nil {
			return "", nil, err
		}
		order, err := c.orderBy(q.Sort)
		if err != nil {
			return "", nil, err
		}
		if ci == nil {
			return "", nil, nil
		}
		cols, _ := columns(q.Fields)
		query := "SELECT " + cols + " FROM " + quoteIdent(coll) + " AS t WHERE " + where + " ORDER BY " + order + c.page(q)
		return query, c.args, nil
	}, func(query string, args []any) error {
		out = nil
		if query == "" {
			return nil
		}
		var err error
		out, err = s.find(ctx, query, args, q.Fields)
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []db.Doc{}
	}
	return out, nil
}

// plan decides, for a page whose order an index gives, which conditions on multikey
// paths drive the query: it counts (up to probeLimit) the side-table matches of each;
// the rarest drives when it has fewer than probeLimit, and the others (all of them when
// every one is common) are only checked while SQLite walks the order's index. It
// returns the conditions to write as filters only.
func (s *Store) plan(ctx context.Context, ci *collInfo, coll string, q db.Query) (map[int]bool, error) {
	if !walkable(ci, q) {
		return nil, nil
	}
	counts := map[int]int64{}
	for i, cd := range q.Conds {
		c := newCompiler(ci, coll, q.StoreID)
		probe := c.sideProbe(cd)
		if probe == "" {
			continue
		}
		rows, err := s.query(ctx, probe, c.args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: probe: %w", err)
		}
		var n int64
		if rows.Next() {
			err = rows.Scan(&n)
		}
		if e := rows.Close(); err == nil {
			err = e
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: probe: %w", err)
		}
		counts[i] = n
	}
	if len(counts) == 0 {
		return nil, nil
	}
	driver, least := -1, int64(probeLimit)
	for i, n := range counts {
		if n < least {
			driver, least = i, n
		}
	}
	filterOnly := map[int]bool{}
	for i := range counts {
		if i != driver {
			filterOnly[i] = true
		}
	}
	return filterOnly, nil
}

func (s *Store) find(ctx context.Context, query string, args []any, fields []string) ([]db.Doc, error) {
	_, tops := columns(fields)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find: %w", err)
	}
	defer rows.Close()
	deep := false
	for _, f := range fields {
		deep = deep || strings.Contains(f, ".")
	}
	var out []db.Doc
	var id string
	var raw []byte
	cols := make([]sql.RawBytes, len(tops))
	dest := make([]any, len(tops)+1)
	dest[0] = &id
	for i := range cols {
		dest[i+1] = &cols[i]
	}
	for rows.Next() {
		var doc db.Doc
		if tops == nil {
			if err := rows.Scan(&id, &raw); err != nil {
				return nil, fmt.Errorf("sqlite: find: %w", err)
			}
			if doc, err = decodeDoc(raw); err != nil {
				return nil, err
			}
			if len(fields) > 0 {
				doc = pipeline.Project(doc, fields)
			}
		} else {
			if err := rows.Scan(dest...); err != nil {
				return nil, fmt.Errorf("sqlite: find: %w", err)
			}
			doc = make(db.Doc, len(tops)+1)
			doc["_id"] = id
			for i, top := range tops {
				if cols[i] == nil {
					continue
				}
				v, err := decodeValue(cols[i])
				if err != nil {
					return nil, err
				}
				doc[top] = v
			}
			if deep {
				doc = pipeline.Project(doc, fields)
			}
		}
		out = append(out, doc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find: %w", err)
	}
	return out, nil
}

// Count returns how many documents of the store match conds.
func (s *Store) Count(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	if err := checkColl(coll); err != nil {
		return 0, err
	}
	var n int64
	err := s.readCompiled(ctx, coll, func(ci *collInfo) (string, []any, error) {
		c := newCompiler(ci, coll, storeID)
		where, err := c.where(conds)
		if err != nil || ci == nil {
			return "", nil, err
		}
		if len(conds) == 0 {
			// Kept by every write (see storeapi_counts): no index walk.
			if storeID == 0 {
				return "SELECT coalesce(sum(n), 0) FROM storeapi_counts WHERE coll = '" + coll + "'", nil, nil
			}
			return "SELECT coalesce((SELECT n FROM storeapi_counts WHERE coll = '" + coll + "' AND store_id = ?1), 0)",
				[]any{storeID}, nil
		}
		if q := c.sideCount(conds); q != "" {
			return q, c.args, nil
		}
		return "SELECT count(*) FROM " + quoteIdent(coll) + " AS t WHERE " + where, c.args, nil
	}, func(query string, args []any) error {
		n = 0
		if query == "" {
			return nil
		}
		rows, err := s.query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("sqlite: count: %w", err)
		}
		defer rows.Close()
		if rows.Next() {
			if err := rows.Scan(&n); err != nil {
				return fmt.Errorf("sqlite: count: %w", err)
			}
		}
		return rows.Err()
	})
	return n, err
}

// encodeDoc is the stored JSON text of a document (keys sorted, HTML not escaped).
func encodeDoc(doc db.Doc) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("sqlite: encode document: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// docKeys reads the _id and store_id a document must carry.
func docKeys(doc db.Doc) (string, int64, error) {
	id, ok := doc["_id"].(string)
	if !ok || id == "" {
		return "", 0, errors.New("sqlite: document without a string _id")
	}
	n, ok := sqlNumber(doc["store_id"])
	if !ok {
		return "", 0, errors.New("sqlite: document without a numeric store_id")
	}
	storeID, ok := n.(int64)
	if !ok {
		return "", 0, errors.New("sqlite: document store_id is not an integer")
	}
	return id, storeID, nil
}

// Insert stores a new document, and the records with it in the same transaction;
// db.ErrDuplicate when its _id exists in the collection (in any store) or a unique
// index refuses it.
func (s *Store) Insert(ctx context.Context, coll string, doc db.Doc, records ...db.Record) error {
	if err := checkColl(coll); err != nil {
		return err
	}
	if err := s.warmInserts(ctx, coll, records); err != nil {
		return err
	}
	var p pending
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		p = pending{}
		if err := s.insertPending(ctx, tx, &p, coll, doc); err != nil {
			return err
		}
		return s.insertRecords(ctx, tx, &p, records)
	})
	if err != nil {
		return err
	}
	p.publish(s)
	return nil
}

// warmInserts prepares the insert statements of coll and of the records' collections.
func (s *Store) warmInserts(ctx context.Context, coll string, records []db.Record) error {
	colls := []string{coll}
	for _, r := range records {
		if err := checkColl(r.Coll); err != nil {
			return err
		}
		colls = append(colls, r.Coll)
	}
	for _, c := range colls {
		if ci := s.info(c); ci != nil {
			if err := s.warm(ctx, append(sideStmts(ci), insertStmt(c), countAdd)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// pending is what a write transaction learned about collections (created, a path
// turned multikey), published once it commits.
type pending struct {
	infos   map[string]*collInfo
	flipped map[string]bool
}

// info is a collection's knowledge as this transaction sees it.
func (p *pending) info(s *Store, coll string) *collInfo {
	if ci, ok := p.infos[coll]; ok {
		return ci
	}
	return s.info(coll)
}

// learn keeps what an insert learned.
func (p *pending) learn(coll string, ci *collInfo, flipped bool) {
	if ci == nil {
		return
	}
	if p.infos == nil {
		p.infos, p.flipped = map[string]*collInfo{}, map[string]bool{}
	}
	p.infos[coll] = ci
	p.flipped[coll] = p.flipped[coll] || flipped
}

// publish makes what the committed transaction learned visible.
func (p *pending) publish(s *Store) {
	for coll, ci := range p.infos {
		s.publishChecked(ci, p.flipped[coll])
	}
}

// insertPending inserts doc inside tx, keeping what it learns in p.
func (s *Store) insertPending(ctx context.Context, tx *sql.Tx, p *pending, coll string, doc db.Doc) error {
	next, flipped, err := s.insertTx(ctx, tx, coll, p.info(s, coll), doc)
	if err != nil {
		return err
	}
	p.learn(coll, next, flipped)
	return nil
}

// insertRecords inserts the records of a write inside its transaction.
func (s *Store) insertRecords(ctx context.Context, tx *sql.Tx, p *pending, records []db.Record) error {
	for _, r := range records {
		if err := checkColl(r.Coll); err != nil {
			return err
		}
		if err := s.insertPending(ctx, tx, p, r.Coll, r.Doc); err != nil {
			return fmt.Errorf("sqlite: record in %s: %w", r.Coll, err)
		}
	}
	return nil
}

// countAdd adds ?3 to the document count of store ?2 in collection ?1.
const countAdd = `INSERT INTO storeapi_counts (coll, store_id, n) VALUES (?1, ?2, ?3)
	ON CONFLICT (coll, store_id) DO UPDATE SET n = n + excluded.n`

func insertStmt(coll string) string {
	return `INSERT INTO ` + quoteIdent(coll) + ` (id, store_id, doc) VALUES (?1, ?2, jsonb(?3))`
}

// insertTx inserts doc inside tx. ci is the collection's current knowledge (nil if it
// does not exist yet); when the insert changes it, the new knowledge is returned
// (to publish after commit), with whether a path became multikey.
func (s *Store) insertTx(ctx context.Context, tx *sql.Tx, coll string, ci *collInfo, doc db.Doc) (*collInfo, bool, error) {
	id, storeID, err := docKeys(doc)
	if err != nil {
		return nil, false, err
	}
	raw, err := encodeDoc(doc)
	if err != nil {
		return nil, false, err
	}
	changed := false
	if ci == nil {
		if ci, err = s.createColl(ctx, tx, coll); err != nil {
			return nil, false, err
		}
		changed = true
	}
	if _, err := s.txExec(ctx, tx, insertStmt(coll), id, storeID, raw); err != nil {
		if isUniqueViolation(err) {
			return nil, false, fmt.Errorf("%w: %s %s: %v", db.ErrDuplicate, coll, id, err)
		}
		return nil, false, fmt.Errorf("sqlite: insert: %w", err)
	}
	if _, err := s.txExec(ctx, tx, countAdd, coll, storeID, 1); err != nil {
		return nil, false, fmt.Errorf("sqlite: count: %w", err)
	}
	flipped := false
	if len(ci.paths) > 0 {
		ci = ci.clone()
		if flipped, err = s.writeShapes(ctx, tx, ci, id, storeID, doc, false); err != nil {
			return nil, false, err
		}
	}
	if !changed && !flipped {
		return nil, false, nil
	}
	return ci, flipped, nil
}

// Update replaces (or, when fn returns nil, deletes) one document in a single write
// transaction: read, fn, write, and the records with it. db.ErrNotFound when the store has no such document;
// fn's error is returned unchanged. The returned document is the stored one, in the
// db.Doc form. fn runs while the Store's write lock is held: it may read from the
// Store but must not write to it.
func (s *Store) Update(ctx context.Context, coll string, storeID int64, id string, fn db.UpdateFunc, records ...db.Record) (db.Doc, error) {
	if err := checkColl(coll); err != nil {
		return nil, err
	}
	if len(records) > 0 {
		if err := s.warmInserts(ctx, coll, records); err != nil {
			return nil, err
		}
	}
	sel := `SELECT json(doc) FROM ` + quoteIdent(coll) + ` WHERE id = ?1 AND store_id = ?2`
	upd := `UPDATE ` + quoteIdent(coll) + ` SET doc = jsonb(?1) WHERE id = ?2`
	del := `DELETE FROM ` + quoteIdent(coll) + ` WHERE id = ?1`
	if ci := s.info(coll); ci != nil {
		if err := s.warm(ctx, append(sideStmts(ci), sel, upd, del, countAdd)...); err != nil {
			return nil, err
		}
	}
	var result db.Doc
	var next *collInfo
	var p pending
	flipped := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		p = pending{}
		ci := s.info(coll)
		if ci == nil {
			return db.ErrNotFound
		}
		rows, err := s.txQuery(ctx, tx, sel, id, storeID)
		if err != nil {
			return fmt.Errorf("sqlite: update: %w", err)
		}
		var raw []byte
		found := rows.Next()
		if found {
			err = rows.Scan(&raw)
		}
		if e := rows.Close(); err == nil {
			err = e
		}
		if err != nil {
			return fmt.Errorf("sqlite: update: %w", err)
		}
		if !found {
			return db.ErrNotFound
		}
		cur, err := decodeDoc(raw)
		if err != nil {
			return err
		}
		nd, err := fn(cur)
		if err != nil {
			return err
		}
		if nd == nil {
			if _, err := s.txExec(ctx, tx, del, id); err != nil {
				return fmt.Errorf("sqlite: delete: %w", err)
			}
			if _, err := s.txExec(ctx, tx, countAdd, coll, storeID, -1); err != nil {
				return fmt.Errorf("sqlite: count: %w", err)
			}
			if len(ci.paths) > 0 {
				if _, err = s.writeShapes(ctx, tx, ci, id, storeID, nil, true); err != nil {
					return err
				}
			}
			return s.insertRecords(ctx, tx, &p, records)
		}
		forced := make(db.Doc, len(nd)+2)
		for k, v := range nd {
			forced[k] = v
		}
		forced["_id"] = id
		forced["store_id"] = json.Number(strconv.FormatInt(storeID, 10))
		if raw, err = encodeDoc(forced); err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, upd, raw, id); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: %s %s: %v", db.ErrDuplicate, coll, id, err)
			}
			return fmt.Errorf("sqlite: update: %w", err)
		}
		if result, err = decodeDoc(raw); err != nil {
			return err
		}
		if len(ci.paths) > 0 {
			ci = ci.clone()
			if flipped, err = s.writeShapes(ctx, tx, ci, id, storeID, result, true); err != nil {
				return err
			}
			if flipped {
				next = ci
			}
		}
		return s.insertRecords(ctx, tx, &p, records)
	})
	if err != nil {
		return nil, err
	}
	s.publishChecked(next, flipped)
	p.publish(s)
	return result, nil
}

// DeleteMany deletes the store's documents matching conds (storeID 0: every store's)
// and returns how many it deleted.
func (s *Store) DeleteMany(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	if err := checkColl(coll); err != nil {
		return 0, err
	}
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		ci := s.info(coll)
		c := newCompiler(ci, coll, storeID)
		where, err := c.where(conds)
		if err != nil || ci == nil {
			return err
		}
		sel := `SELECT t.id FROM ` + quoteIdent(coll) + ` AS t WHERE ` + where
		rows, err := tx.QueryContext(ctx, `DELETE FROM `+quoteIdent(coll)+` WHERE id IN (`+sel+`) RETURNING id, store_id`, c.args...)
		if err != nil {
			return fmt.Errorf("sqlite: delete many: %w", err)
		}
		var deleted []string
		perStore := map[int64]int64{}
		for rows.Next() {
			var id string
			var st int64
			if err := rows.Scan(&id, &st); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: delete many: %w", err)
			}
			deleted = append(deleted, id)
			perStore[st]++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: delete many: %w", err)
		}
		n = int64(len(deleted))
		for st, k := range perStore {
			if _, err := tx.ExecContext(ctx, countAdd, coll, st, -k); err != nil {
				return fmt.Errorf("sqlite: count: %w", err)
			}
		}
		if len(ci.paths) == 0 || n == 0 {
			return nil
		}
		st, err := tx.PrepareContext(ctx, sideDeleteID(coll))
		if err != nil {
			return err
		}
		defer st.Close()
		st2, err := tx.PrepareContext(ctx, sortedDeleteID(coll))
		if err != nil {
			return err
		}
		defer st2.Close()
		for _, id := range deleted {
			if _, err := st.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("sqlite: delete many: %w", err)
			}
			if _, err := st2.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("sqlite: delete many: %w", err)
			}
		}
		return nil
	})
	return n, err
}

// Aggregate runs the pipeline in Go over the store's documents: those the first $match
// selects when it can be turned into SQL (a superset; the stage itself still runs),
// else all of them, at most MaxAggregateDocs.
func (s *Store) Aggregate(ctx context.Context, coll string, storeID int64, stages []db.Doc) ([]db.Doc, error) {
	if err := checkColl(coll); err != nil {
		return nil, err
	}
	var pre []db.Cond
	if len(stages) > 0 {
		if m, ok := stages[0]["$match"].(map[string]any); ok && len(stages[0]) == 1 {
			pre = matchConds(m)
		}
	}
	var docs []db.Doc
	err := s.readCompiled(ctx, coll, func(ci *collInfo) (string, []any, error) {
		c := newCompiler(ci, coll, storeID)
		where, err := c.where(pre)
		if err != nil || ci == nil {
			return "", nil, err
		}
		return "SELECT t.id, json(t.doc) FROM " + quoteIdent(coll) + " AS t WHERE " + where + " ORDER BY t.id LIMIT " +
			c.arg(int64(s.maxAggregate+1)), c.args, nil
	}, func(query string, args []any) error {
		docs = nil
		if query == "" {
			return nil
		}
		var err error
		docs, err = s.find(ctx, query, args, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(docs) > s.maxAggregate {
		return nil, fmt.Errorf("%w: aggregation over more than %d documents (filter with a first $match)", db.ErrUnsupported, s.maxAggregate)
	}
	out, err := pipeline.Run(docs, stages)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []db.Doc{}
	}
	return out, nil
}

// matchConds turns what it can of a $match filter into conditions that select a
// superset of its documents: equality to scalars, $eq, $in of scalars, and range
// bounds ($gt and $lt as the inclusive bounds). The rest is left to the pipeline.
func matchConds(filter map[string]any) []db.Cond {
	var out []db.Cond
	for k, v := range filter {
		if k == "$and" {
			if list, ok := v.([]any); ok {
				for _, e := range list {
					if m, ok := e.(map[string]any); ok {
						out = append(out, matchConds(m)...)
					}
				}
			}
			continue
		}
		if strings.HasPrefix(k, "$") || checkPath(k) != nil {
			continue
		}
		if ops, ok := v.(map[string]any); ok {
			for op, arg := range ops {
				var cd db.Cond
				switch op {
				case "$eq":
					cd.Op = db.OpEq
				case "$in":
					cd.Op = db.OpEq
				case "$gt", "$gte":
					cd.Op = db.OpGte
				case "$lt", "$lte":
					cd.Op = db.OpLte
				default:
					continue
				}
				args := []any{arg}
				if op == "$in" {
					list, ok := arg.([]any)
					if !ok || len(list) == 0 {
						continue
					}
					args = list
				}
				cd.Path = k
				if cd.Values = scalarValues(args); cd.Values != nil {
					out = append(out, cd)
				}
			}
			continue
		}
		if vals := scalarValues([]any{v}); vals != nil {
			out = append(out, db.Cond{Path: k, Op: db.OpEq, Values: vals})
		}
	}
	return out
}

// scalarValues converts $match operands to condition values; nil when any is not a
// scalar (the condition is then not pushed down).
func scalarValues(args []any) []db.Value {
	out := make([]db.Value, 0, len(args))
	for _, a := range args {
		switch x := a.(type) {
		case nil, bool, string:
			out = append(out, db.Value{Typed: x})
		default:
			n, ok := sqlNumber(a)
			if !ok {
				return nil
			}
			out = append(out, db.Value{Typed: n})
		}
	}
	return out
}
