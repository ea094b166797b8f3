package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"storeapi/db"
)

// The operation labels of the database metrics.
var dbOps = [...]string{"get", "find", "count", "insert", "update", "aggregate", "ensure_indexes", "delete_many", "ping", "close"}

// dbOp indexes dbOps.
type dbOp int

const (
	opGet dbOp = iota
	opFind
	opCount
	opInsert
	opUpdate
	opAggregate
	opEnsureIndexes
	opDeleteMany
	opPing
	opClose
)

// WrapStore returns inner decorated to observe every call's latency and count its
// failures in m. Answers that are not failures — db.ErrNotFound, db.ErrDuplicate, an
// update function's own error, and a context canceled by the client going away — are
// not counted as errors.
func WrapStore(inner db.Store, m *Metrics) db.Store {
	s := &store{Store: inner, m: m}
	for i, op := range dbOps {
		s.observers[i] = m.dbDuration.WithLabelValues(op)
		s.errors[i] = m.dbErrors.WithLabelValues(op)
	}
	return s
}

// store is the instrumenting decorator of WrapStore.
type store struct {
	db.Store
	m         *Metrics
	observers [len(dbOps)]prometheus.Observer
	errors    [len(dbOps)]prometheus.Counter
}

// done records one call of op that started at start and ended with err; skip is an
// error that is the caller's own (an update function's).
func (s *store) done(op dbOp, start time.Time, err, skip error) {
	s.observers[op].Observe(time.Since(start).Seconds())
	if err == nil || errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrDuplicate) ||
		errors.Is(err, context.Canceled) || (skip != nil && errors.Is(err, skip)) {
		return
	}
	s.errors[op].Inc()
}

// Get observes the inner Get.
func (s *store) Get(ctx context.Context, coll string, storeID int64, id string) (db.Doc, error) {
	start := time.Now()
	d, err := s.Store.Get(ctx, coll, storeID, id)
	s.done(opGet, start, err, nil)
	return d, err
}

// Find observes the inner Find.
func (s *store) Find(ctx context.Context, coll string, q db.Query) ([]db.Doc, error) {
	start := time.Now()
	d, err := s.Store.Find(ctx, coll, q)
	s.done(opFind, start, err, nil)
	return d, err
}

// Count observes the inner Count.
func (s *store) Count(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	start := time.Now()
	n, err := s.Store.Count(ctx, coll, storeID, conds)
	s.done(opCount, start, err, nil)
	return n, err
}

// Insert observes the inner Insert.
func (s *store) Insert(ctx context.Context, coll string, doc db.Doc, records ...db.Record) error {
	start := time.Now()
	err := s.Store.Insert(ctx, coll, doc, records...)
	s.done(opInsert, start, err, nil)
	return err
}

// Update observes the inner Update; the update function's own error is not a failure.
func (s *store) Update(ctx context.Context, coll string, storeID int64, id string, fn db.UpdateFunc, records ...db.Record) (db.Doc, error) {
	start := time.Now()
	var fnErr error
	d, err := s.Store.Update(ctx, coll, storeID, id, func(cur db.Doc) (db.Doc, error) {
		next, err := fn(cur)
		fnErr = err
		return next, err
	}, records...)
	s.done(opUpdate, start, err, fnErr)
	return d, err
}

// Aggregate observes the inner Aggregate; db.ErrUnsupported is the client's 400.
func (s *store) Aggregate(ctx context.Context, coll string, storeID int64, pipeline []db.Doc) ([]db.Doc, error) {
	start := time.Now()
	d, err := s.Store.Aggregate(ctx, coll, storeID, pipeline)
	if errors.Is(err, db.ErrUnsupported) {
		s.done(opAggregate, start, nil, nil)
	} else {
		s.done(opAggregate, start, err, nil)
	}
	return d, err
}

// EnsureIndexes observes the inner EnsureIndexes.
func (s *store) EnsureIndexes(ctx context.Context, coll string, indexes []db.Index) error {
	start := time.Now()
	err := s.Store.EnsureIndexes(ctx, coll, indexes)
	s.done(opEnsureIndexes, start, err, nil)
	return err
}

// DeleteMany observes the inner DeleteMany.
func (s *store) DeleteMany(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	start := time.Now()
	n, err := s.Store.DeleteMany(ctx, coll, storeID, conds)
	s.done(opDeleteMany, start, err, nil)
	return n, err
}

// Ping observes the inner Ping.
func (s *store) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.Store.Ping(ctx)
	s.done(opPing, start, err, nil)
	return err
}

// Close observes the inner Close.
func (s *store) Close(ctx context.Context) error {
	start := time.Now()
	err := s.Store.Close(ctx)
	s.done(opClose, start, err, nil)
	return err
}
