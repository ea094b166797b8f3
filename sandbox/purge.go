package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"storeapi/db"
)

// stateID is the _id of the purge's cursor document in CollPurgeState (store 0).
const stateID = "000000000000000000000001"

// PurgeOptions configure a Purger.
type PurgeOptions struct {
	// Store is the sandbox database documents are deleted from; give it the response
	// cache's decorator, so that cached answers of what is deleted go too. Required.
	Store db.Store
	// State is the database the cursor is kept in: the same sandbox database, best
	// without the cache decorator (the cursor belongs to no store, and writing it
	// through the decorator would empty the whole cache each round). nil: Store.
	State db.Store
	// Collections are purged in this order each round. Put "stores" first, so that a
	// store stops existing before the rest of its data goes. Required.
	Collections []string
	// MaxAge is how long a document lives after its created_at; DefaultMaxAge when 0.
	MaxAge time.Duration
	// Interval is the pause between rounds; DefaultPurgeInterval when 0.
	Interval time.Duration
	// Window bounds a round: it deletes what was created in at most this much time
	// after the cursor. 0 means twice Interval, which keeps up with the clock while
	// each round deletes about one Interval's worth of creations.
	Window time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives one line per round; nil discards.
	Log *slog.Logger
	// OnPurge, when set, is called after each collection of a round with the number of
	// documents deleted from it (also 0), e.g. to count them in a metric.
	OnPurge func(collection string, n int64)
}

// Purger deletes every sandbox document older than MaxAge, round after round. Each
// round deletes, in every collection, the documents whose created_at is in the window
// (cursor, min(cursor+Window, now-MaxAge)], and then moves the cursor to the window's
// end. The cursor is kept in the database (CollPurgeState), so that after a stop the
// purge resumes where it was: a long stop is caught up window by window, one round
// after the other, never in one unbounded delete. Before the first round of a new
// database there is no cursor: that round deletes everything older than MaxAge (in a
// new database, nothing).
//
// Documents without created_at are never deleted (the automatic store id counter has
// none on purpose: store ids are never handed out twice). Deletes are atomic per
// document, so a purge is safe while requests run: a request that reads a document
// being purged finds it or answers 404. It is safe for concurrent use, and several
// nodes may purge one database: windows repeated by two nodes delete nothing twice.
type Purger struct {
	store, state db.Store
	colls        []string
	maxAge       time.Duration
	interval     time.Duration
	window       time.Duration
	now          func() time.Time
	log          *slog.Logger
	onPurge      func(string, int64)
}

// NewPurger checks opts and returns a Purger; it does no I/O.
func NewPurger(opts PurgeOptions) (*Purger, error) {
	p := &Purger{store: opts.Store, state: opts.State, colls: append([]string(nil), opts.Collections...),
		maxAge: opts.MaxAge, interval: opts.Interval, window: opts.Window,
		now: opts.Now, log: opts.Log, onPurge: opts.OnPurge}
	if p.store == nil {
		return nil, errors.New("sandbox: purge needs a store")
	}
	if len(p.colls) == 0 {
		return nil, errors.New("sandbox: purge needs collections")
	}
	for _, c := range p.colls {
		if c == "" {
			return nil, errors.New("sandbox: purge of an empty collection name")
		}
	}
	if p.state == nil {
		p.state = p.store
	}
	if p.maxAge == 0 {
		p.maxAge = DefaultMaxAge
	}
	if p.interval == 0 {
		p.interval = DefaultPurgeInterval
	}
	if p.window == 0 {
		p.window = 2 * p.interval
	}
	if p.maxAge < 0 || p.interval < 0 || p.window < time.Millisecond {
		return nil, fmt.Errorf("sandbox: purge max age %s, interval %s and window %s must be positive", p.maxAge, p.interval, p.window)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.onPurge == nil {
		p.onPurge = func(string, int64) {}
	}
	return p, nil
}

// Round is what one purge round did.
type Round struct {
	// From and To bound the window of created_at purged: (From, To]. From is "" when
	// the round had no cursor and purged everything up to To. From == To: nothing was due.
	From, To string
	// Deleted is the number of documents deleted per collection.
	Deleted map[string]int64
	// Total is the sum of Deleted.
	Total int64
	// Lagging means the cursor is still behind now-MaxAge after this round: the next
	// round is due at once.
	Lagging bool
}

// Round runs one purge round (see Purger) and logs it in one line. On an error the
// cursor stays where it was, so the next round deletes that window again; the error
// names the collections that failed.
func (p *Purger) Round(ctx context.Context) (Round, error) {
	start := p.now()
	cutoff := db.Timestamp(start.Add(-p.maxAge))
	from, err := p.cursor(ctx)
	if err != nil {
		p.log.Warn("sandbox: purge round failed", "error", err)
		return Round{}, err
	}
	r := Round{From: from, To: cutoff, Deleted: map[string]int64{}}
	conds := []db.Cond{{Path: Field, Op: db.OpLte}}
	if from != "" {
		if from >= cutoff {
			r.To = from
			p.log.Debug("sandbox: purge round", "from", from, "to", from, "deleted", 0)
			return r, nil
		}
		t, _ := parseTimestamp(from) // cursor() returns valid timestamps only
		if end := db.Timestamp(t.Add(p.window)); end < cutoff {
			r.To, r.Lagging = end, true
		}
		lo := db.Timestamp(t.Add(time.Millisecond)) // created_at > from: timestamps have milliseconds
		conds = append(conds, db.Cond{Path: Field, Op: db.OpGte, Values: []db.Value{{Typed: lo, Raw: lo}}})
	}
	conds[0].Values = []db.Value{{Typed: r.To, Raw: r.To}}
	var errs []error
	for _, coll := range p.colls {
		n, err := p.store.DeleteMany(ctx, coll, 0, conds)
		if n > 0 || err == nil {
			r.Deleted[coll] += n
			r.Total += n
			p.onPurge(coll, n)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sandbox: purge of %s: %w", coll, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.log.Warn("sandbox: purge round failed; its window is retried next round", p.attrs(r, start, err)...)
		return r, err
	}
	if err := p.saveCursor(ctx, r.To); err != nil {
		p.log.Warn("sandbox: purge round failed; its window is retried next round", p.attrs(r, start, err)...)
		return r, err
	}
	level := slog.LevelDebug
	if r.Total > 0 || r.Lagging {
		level = slog.LevelInfo
	}
	p.log.Log(ctx, level, "sandbox: purge round", p.attrs(r, start, nil)...)
	return r, nil
}

// attrs are the log attributes of a round: its window, the counts (total and every
// collection with deletions) and how long it took.
func (p *Purger) attrs(r Round, start time.Time, err error) []any {
	counts := make([]any, 0, len(r.Deleted))
	for _, coll := range p.colls {
		if n := r.Deleted[coll]; n > 0 {
			counts = append(counts, slog.Int64(coll, n))
		}
	}
	attrs := []any{"from", r.From, "to", r.To, "deleted", r.Total, slog.Group("by_collection", counts...),
		"lagging", r.Lagging, "took", p.now().Sub(start).String()}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	return attrs
}

// cursor reads the stored cursor; "" when there is none (or it is unreadable, which
// costs one unbounded round rather than a stuck purge).
func (p *Purger) cursor(ctx context.Context) (string, error) {
	doc, err := p.state.Get(ctx, CollPurgeState, 0, stateID)
	if errors.Is(err, db.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sandbox: reading the purge cursor: %w", err)
	}
	c, _ := doc["cursor"].(string)
	if _, err := parseTimestamp(c); err != nil {
		p.log.Warn("sandbox: the purge cursor is unreadable; purging from the beginning", "cursor", c)
		return "", nil
	}
	return c, nil
}

// saveCursor moves the stored cursor forward to to (never back: another node may have
// gone further).
func (p *Purger) saveCursor(ctx context.Context, to string) error {
	doc := func() db.Doc {
		return db.Doc{"_id": stateID, "store_id": int64(0), "cursor": to, "updated_at": db.Timestamp(p.now())}
	}
	for range 3 {
		_, err := p.state.Update(ctx, CollPurgeState, 0, stateID, func(cur db.Doc) (db.Doc, error) {
			if c, _ := cur["cursor"].(string); c >= to {
				if _, err := parseTimestamp(c); err == nil {
					return cur, nil
				}
			}
			return doc(), nil
		})
		if !errors.Is(err, db.ErrNotFound) {
			return wrapCursorErr(err)
		}
		err = p.state.Insert(ctx, CollPurgeState, doc())
		if !errors.Is(err, db.ErrDuplicate) {
			return wrapCursorErr(err)
		}
		// Inserted by another node meanwhile: update that one.
	}
	return errors.New("sandbox: the purge cursor keeps changing")
}

// wrapCursorErr names a failure to store the cursor.
func wrapCursorErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sandbox: storing the purge cursor: %w", err)
}

// Run runs a round at once and then one every Interval — right after the previous one
// while the purge is lagging (after a stop), so that a backlog is caught up in bounded
// rounds — until ctx ends. A failed round is logged and retried at the next one. It
// returns nil when ctx ends.
func (p *Purger) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		r, err := p.Round(ctx)
		wait := p.interval
		if err == nil && r.Lagging {
			wait = 0
		}
		timer.Reset(wait)
	}
}
