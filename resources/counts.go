package resources

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"storeapi/db"
)

// maxRememberedCounts bounds the list counts an engine remembers.
const maxRememberedCounts = 10_000

// countCache remembers the `meta.count` of list queries per version of the store's
// collection: counting a large category reads every match, while its page of 20 reads
// 20 index entries, so a repeated list is dominated by its count unless remembered.
type countCache struct {
	generation func(coll string, storeID int64) (uint64, bool)
	max        int
	mu         sync.Mutex
	counts     map[string]rememberedCount
}

// rememberedCount is a count and the version of the data it was taken on.
type rememberedCount struct {
	gen uint64
	n   int64
}

// newCountCache returns a count memory keyed by generation, of at most max counts.
func newCountCache(generation func(coll string, storeID int64) (uint64, bool), max int) *countCache {
	return &countCache{generation: generation, max: max, counts: map[string]rememberedCount{}}
}

// count returns how many documents match conds: remembered when the store's collection
// has not changed since, else counted (and remembered).
func (cc *countCache) count(ctx context.Context, store db.Store, coll string, storeID int64, conds []db.Cond) (int64, error) {
	gen, ok := cc.generation(coll, storeID)
	if !ok {
		return store.Count(ctx, coll, storeID, conds)
	}
	key, err := json.Marshal(conds)
	if err != nil {
		return store.Count(ctx, coll, storeID, conds)
	}
	k := coll + "\x00" + strconv.FormatInt(storeID, 10) + "\x00" + string(key)
	cc.mu.Lock()
	r, hit := cc.counts[k]
	cc.mu.Unlock()
	if hit && r.gen == gen {
		return r.n, nil
	}
	n, err := store.Count(ctx, coll, storeID, conds)
	if err != nil {
		return 0, err
	}
	cc.mu.Lock()
	if len(cc.counts) >= cc.max {
		cc.counts = map[string]rememberedCount{}
	}
	cc.counts[k] = rememberedCount{gen: gen, n: n}
	cc.mu.Unlock()
	return n, nil
}

// countMatches counts a list's matches, through the count memory when the engine has one.
func (e *Engine) countMatches(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	if e.counts == nil {
		return e.store.Count(ctx, coll, storeID, conds)
	}
	return e.counts.count(ctx, e.store, coll, storeID, conds)
}
