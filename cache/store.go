package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"storeapi/db"
)

// WrapStore returns inner decorated so that every write that may have changed a store —
// an Insert, Update or DeleteMany that succeeded or failed in a way that does not rule
// a change out — calls c.Changed for that store (DeleteMany with store id 0: for every
// store). Writes refused with db.ErrNotFound, db.ErrDuplicate or the update function's
// own error changed nothing and invalidate nothing; neither do writes to
// Options.SkipCollections or EventsCollection. Reads pass straight through.
//
// When Options.Store was nil, inner becomes the database the change markers are
// written to and polled from (the first WrapStore call decides).
func WrapStore(inner db.Store, c *Cache) db.Store {
	c.events.CompareAndSwap(nil, &eventStore{inner})
	return &store{Store: inner, c: c}
}

// store is the invalidating decorator of WrapStore.
type store struct {
	db.Store
	c *Cache
}

// Insert inserts through the inner store, then reports the change.
func (s *store) Insert(ctx context.Context, coll string, doc db.Doc, records ...db.Record) error {
	err := s.Store.Insert(ctx, coll, doc, records...)
	if s.c.skip[coll] || errors.Is(err, db.ErrDuplicate) {
		return err
	}
	id, ok := db.Int64(doc["store_id"])
	if !ok {
		if err != nil {
			return err
		}
		id = 0 // a document without a readable store: refresh everything
	}
	s.c.Changed(ctx, id)
	return err
}

// Update updates through the inner store, then reports the change.
func (s *store) Update(ctx context.Context, coll string, storeID int64, id string, fn db.UpdateFunc, records ...db.Record) (db.Doc, error) {
	var fnErr error
	doc, err := s.Store.Update(ctx, coll, storeID, id, func(cur db.Doc) (db.Doc, error) {
		next, err := fn(cur)
		fnErr = err
		return next, err
	}, records...)
	if s.c.skip[coll] || errors.Is(err, db.ErrNotFound) || (err != nil && fnErr != nil && errors.Is(err, fnErr)) {
		return doc, err
	}
	s.c.Changed(ctx, storeID)
	return doc, err
}

// DeleteMany deletes through the inner store, then reports the change when anything
// may have gone.
func (s *store) DeleteMany(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	n, err := s.Store.DeleteMany(ctx, coll, storeID, conds)
	if s.c.skip[coll] || (n == 0 && err == nil) {
		return n, err
	}
	s.c.Changed(ctx, storeID)
	return n, err
}

// markerID is the _id of a store's marker: its id in 24 lowercase hex digits (store 0,
// "every store", is all zeros).
func markerID(storeID int64) string {
	return fmt.Sprintf("%024x", uint64(storeID))
}

// record upserts storeID's marker with a new version: an Update of the store's marker,
// or an Insert the first time. It is noted as seen first, so this node's own poll
// does not invalidate the store a second time.
func (c *Cache) record(ctx context.Context, es db.Store, storeID int64) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markerTimeout)
	defer cancel()
	at, v := db.Timestamp(c.now()), db.NewID()
	c.noteSeen(storeID, seenMarker{v: v, at: at})
	id := markerID(storeID)
	doc := func() db.Doc {
		return db.Doc{"_id": id, "store_id": int64(0), "store": storeID, "at": at, "v": v}
	}
	update := func() error {
		_, err := es.Update(ctx, EventsCollection, 0, id, func(db.Doc) (db.Doc, error) { return doc(), nil })
		return err
	}
	err := update()
	if errors.Is(err, db.ErrNotFound) {
		err = es.Insert(ctx, EventsCollection, doc())
		if errors.Is(err, db.ErrDuplicate) {
			err = update() // another node inserted it first
		}
	}
	if err != nil {
		return fmt.Errorf("cache: marker of store %d: %w", storeID, err)
	}
	return nil
}

// noteSeen remembers m as the latest marker of storeID.
func (c *Cache) noteSeen(storeID int64, m seenMarker) {
	c.seenMu.Lock()
	c.seen[storeID] = m
	c.seenMu.Unlock()
}

// Run reads the other nodes' change markers every Poll and invalidates the stores they
// name, and purges markers older than a minute. It returns when ctx ends, after
// stopping bigcache's cleaner (Close). Without a marker database (no Options.Store
// and no WrapStore) or with a negative Poll it only waits for ctx. Poll failures are
// logged and retried at the next tick; after a minute of failures the whole cache is
// dropped, since markers of that time may be gone.
func (c *Cache) Run(ctx context.Context) error {
	defer c.Close()
	if c.poll < 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(c.poll)
	defer tick.Stop()
	lastPurge := c.now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := c.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("cache: polling the change markers failed", "error", err)
			continue
		}
		if now := c.now(); now.Sub(lastPurge) >= eventsRetention/2 {
			lastPurge = now
			if err := c.purge(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("cache: purging old change markers failed", "error", err)
			}
		}
	}
}

// Sync reads the change markers written since the previous Sync (less Skew) and
// invalidates every store whose marker is new to this node. Run calls it every Poll;
// it is safe to call at any time. Without a marker database it does nothing.
func (c *Cache) Sync(ctx context.Context) error {
	es := c.events.Load()
	if es == nil || c.poll < 0 {
		return nil
	}
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if !c.eventsReady {
		// Once: an index on "at" for the query below (the purge uses it too).
		if err := es.EnsureIndexes(ctx, EventsCollection, []db.Index{{Paths: []string{"at"}}}); err != nil {
			if ctx.Err() != nil {
				return err
			}
			c.log.Warn("cache: index of the change markers", "error", err)
		}
		c.eventsReady = true
	}
	start := c.now()
	if start.Sub(c.since) > eventsRetention/2 {
		// Polls failed for long: markers of that time may be purged already.
		c.Invalidate(0)
		c.since = start.Add(-c.skew)
	}
	from := db.Timestamp(c.since)
	docs, err := es.Find(ctx, EventsCollection, db.Query{
		StoreID: 0,
		Conds:   []db.Cond{{Path: "at", Op: db.OpGte, Values: []db.Value{{Typed: from, Raw: from}}}},
		Fields:  []string{"store", "at", "v"},
		Limit:   maxMarkers,
	})
	if err != nil {
		return fmt.Errorf("cache: read change markers: %w", err)
	}
	if len(docs) >= maxMarkers {
		c.Invalidate(0)
	}
	c.seenMu.Lock()
	for _, d := range docs {
		storeID, ok := db.Int64(d["store"])
		v, _ := d["v"].(string)
		at, _ := d["at"].(string)
		if !ok {
			continue
		}
		if old, ok := c.seen[storeID]; ok && old.v == v {
			continue
		}
		c.seen[storeID] = seenMarker{v: v, at: at}
		c.Invalidate(storeID)
	}
	c.since = start.Add(-c.skew)
	keep := db.Timestamp(c.since)
	for id, m := range c.seen {
		if m.at < keep {
			delete(c.seen, id)
		}
	}
	c.seenMu.Unlock()
	return nil
}

// purge deletes markers older than eventsRetention.
func (c *Cache) purge(ctx context.Context) error {
	es := c.events.Load()
	if es == nil {
		return nil
	}
	cutoff := db.Timestamp(c.now().Add(-eventsRetention))
	_, err := es.DeleteMany(ctx, EventsCollection, 0, []db.Cond{{Path: "at", Op: db.OpLte, Values: []db.Value{{Typed: cutoff, Raw: cutoff}}}})
	return err
}

// String describes the cache's settings for the configuration log.
func (c *Cache) String() string {
	if c.bc == nil {
		return "off"
	}
	return "max_entry=" + strconv.Itoa(c.maxEntry) + " ttl=" + c.ttl.String() + " poll=" + c.poll.String()
}
