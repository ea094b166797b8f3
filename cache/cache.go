// Package cache is storeapi's shared response cache: public GET answers (documents,
// lists, subresources, schemas) kept in memory per store with bigcache, so that a
// storefront's repeated reads never reach the database.
//
// An answer is stored only when the request is a GET without credentials
// (X-Access-Token, X-My-ID, or a verified identity) and without X-Cache-Tag, and the
// answer is a 200 whose Cache-Control says public. The key is the store id, the store's
// generation, the path (the /<store_id>/v1/… and /v1/… forms share one key) and the raw
// query. A hit replays the status, body, Content-Type, ETag, Cache-Control and Vary
// (304 when If-None-Match names the ETag) without touching the database.
//
// Every applied write bumps its store's generation (Invalidate), so later GETs of that
// store miss at once on this node; WrapStore decorates the database so that no write
// can forget to. Other nodes sharing the database learn of the write from a marker the
// decorator records in the "cache_events" collection and that Run polls for: a write
// is seen by every node within Poll (default 1 s) plus one read of that collection,
// as long as the nodes' clocks agree within Skew (default 2 s). Change streams are not
// needed (the embedded database has none). Writes that bypass storeapi are seen when
// the answers expire (TTL, default 5 min).
package cache

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allegro/bigcache/v3"

	"storeapi/db"
)

// Defaults of Options.
const (
	// DefaultMaxMB is the memory the stored answers may take, in MiB.
	DefaultMaxMB = 64
	// DefaultTTL is how long an answer is kept when no write makes it stale first.
	DefaultTTL = 5 * time.Minute
	// DefaultPoll is how often Run looks for other nodes' writes: the bound on how long
	// another node may serve an answer that a write here made stale.
	DefaultPoll = time.Second
	// DefaultSkew is the clock difference (plus write latency) between nodes that the
	// poller tolerates without missing a marker.
	DefaultSkew = 2 * time.Second
	// DefaultGzipMin is the smallest body that is also stored gzip-compressed.
	DefaultGzipMin = 1024
	// DefaultSlots is the number of store generation counters (8 bytes each).
	DefaultSlots = 1 << 16
)

// EventsCollection is the system collection of change markers: one document per store
// ({_id: the store id in 24 hex digits, store_id: 0, store, at, v}), rewritten by every
// write to that store, read by every node's poller and purged after a minute.
const EventsCollection = "cache_events"

// eventsRetention is how long markers are kept; maxMarkers is the most one poll reads
// (more means so many stores changed that the whole cache is dropped).
const (
	eventsRetention = time.Minute
	maxMarkers      = 10_000
	markerTimeout   = 5 * time.Second
)

// Options configure a Cache.
type Options struct {
	// MaxMB bounds the memory of the stored answers in MiB; 0 or less disables storing
	// (the middleware then only bypasses). The bound is bigcache's HardMaxCacheSize: add
	// about 25% for its index and buffers.
	MaxMB int
	// TTL is how long an answer is served at most (DefaultTTL when 0).
	TTL time.Duration
	// Poll is how often Run reads the markers of other nodes' writes (DefaultPoll when
	// 0). A negative Poll means this node is alone: no markers are written or read.
	Poll time.Duration
	// Skew is the clock difference between nodes the poller tolerates (DefaultSkew when 0).
	Skew time.Duration
	// Store is the database shared by the nodes, where markers are written and read.
	// When nil, the store given to WrapStore is used.
	Store db.Store
	// GzipMin is the smallest body also kept gzip-compressed, to answer clients that
	// accept gzip without compressing at every hit (DefaultGzipMin when 0; negative: never).
	GzipMin int
	// Slots is the number of store generation counters, a power of two (DefaultSlots when
	// 0). Stores share a counter when their ids hash alike: a write then also refreshes
	// the others' answers, which costs misses, never stale answers.
	Slots int
	// SkipCollections are collections no public GET reads (e.g. "triggers"); writes to
	// them invalidate nothing. EventsCollection is always skipped.
	SkipCollections []string
	// Limit, when set, is asked before a hit is served (hit true) and before a miss goes
	// on to the handler (hit false); on false it has answered the request itself. The
	// request it returns is the one passed on. (*middleware.RateLimiter).Admit fits.
	Limit func(w http.ResponseWriter, r *http.Request, hit bool) (*http.Request, bool)
	// OnLookup, when set, is called with every lookup's outcome (for metrics).
	OnLookup func(hit bool)
	// Log receives marker and poll failures; nil discards.
	Log *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Cache is a response cache with per-store invalidation. It is safe for concurrent use.
type Cache struct {
	bc       *bigcache.BigCache // nil: storing disabled
	ttl      time.Duration
	poll     time.Duration
	skew     time.Duration
	maxEntry int
	gzipMin  int
	slotBits int
	gens     []atomic.Uint64
	global   atomic.Uint64
	skip     map[string]bool
	limit    func(http.ResponseWriter, *http.Request, bool) (*http.Request, bool)
	onLookup func(bool)
	log      *slog.Logger
	now      func() time.Time

	events atomic.Pointer[eventStore] // where markers live; nil until known

	pollMu      sync.Mutex // one poll at a time; guards since and eventsReady
	since       time.Time  // markers at or after this are read by the next poll
	eventsReady bool       // EnsureIndexes of EventsCollection succeeded

	seenMu sync.Mutex
	seen   map[int64]seenMarker // the latest marker of each store this node knows

	gzPool    sync.Pool
	internMu  sync.Mutex // serialises writers of intern
	intern    atomic.Pointer[map[string][]string]
	closeOnce sync.Once
	hitVal    []string
	missVal   []string
	gzipVal   []string
}

// eventStore boxes the marker database for atomic.Pointer.
type eventStore struct{ db.Store }

// seenMarker identifies one marker version: v is unique per write, at its time.
type seenMarker struct {
	v  string
	at string
}

// New returns a Cache. bigcache's cleaner goroutine runs until Close (or the end of Run);
// ctx bounds only the construction. An impossible option is an error.
//
// One Cache serves one database: store ids are its keys, so the sandbox (another
// database with its own store ids) needs a Cache of its own.
func New(ctx context.Context, opts Options) (*Cache, error) {
	c := &Cache{
		ttl:      opts.TTL,
		poll:     opts.Poll,
		skew:     opts.Skew,
		gzipMin:  opts.GzipMin,
		skip:     map[string]bool{EventsCollection: true},
		limit:    opts.Limit,
		onLookup: opts.OnLookup,
		log:      opts.Log,
		now:      opts.Now,
		seen:     map[int64]seenMarker{},
		hitVal:   []string{"HIT"},
		missVal:  []string{"MISS"},
		gzipVal:  []string{"gzip"},
	}
	if c.ttl < 0 || c.skew < 0 {
		return nil, errors.New("cache: TTL and skew must not be negative")
	}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.poll == 0 {
		c.poll = DefaultPoll
	}
	if c.skew == 0 {
		c.skew = DefaultSkew
	}
	if c.gzipMin == 0 {
		c.gzipMin = DefaultGzipMin
	}
	if c.onLookup == nil {
		c.onLookup = func(bool) {}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	slots := opts.Slots
	if slots == 0 {
		slots = DefaultSlots
	}
	if slots < 1 || slots&(slots-1) != 0 || slots > 1<<24 {
		return nil, fmt.Errorf("cache: %d slots: want a power of two up to 2^24", slots)
	}
	c.slotBits = bits.TrailingZeros(uint(slots))
	c.gens = make([]atomic.Uint64, slots)
	for _, coll := range opts.SkipCollections {
		c.skip[coll] = true
	}
	if opts.Store != nil {
		c.events.Store(&eventStore{opts.Store})
	}
	c.gzPool.New = func() any { return gzip.NewWriter(nil) }
	if opts.MaxMB > 0 {
		shards := 1
		for shards*2 <= opts.MaxMB && shards < 256 {
			shards *= 2
		}
		perShard := opts.MaxMB << 20 / shards
		c.maxEntry = perShard / 4
		life := max(c.ttl, time.Second)
		cfg := bigcache.Config{
			Shards:             shards,
			LifeWindow:         life,
			CleanWindow:        min(life, time.Minute),
			MaxEntriesInWindow: shards * 16,
			MaxEntrySize:       2048,
			HardMaxCacheSize:   opts.MaxMB,
			Verbose:            false,
		}
		// bigcache stops its cleaner when its context ends, printing a line; Close
		// stops it quietly instead.
		bc, err := bigcache.New(context.WithoutCancel(ctx), cfg)
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		c.bc = bc
	}
	c.since = c.now().Add(-c.skew)
	return c, nil
}

// Enabled reports whether answers are stored (Options.MaxMB > 0).
func (c *Cache) Enabled() bool { return c.bc != nil }

// Close stops bigcache's cleaner. The cache keeps answering lookups; Close is idempotent.
func (c *Cache) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.bc != nil {
			err = c.bc.Close()
		}
	})
	return err
}

// Stats are a Cache's figures for metrics and tests.
type Stats struct {
	// Entries is the number of stored answers (stale ones included until evicted).
	Entries int
	// Bytes is the memory bigcache holds for them, at most MaxMB MiB.
	Bytes int
	// MaxEntryBytes is the largest answer (body plus its gzip form) that is stored.
	MaxEntryBytes int
}

// Stats returns the cache's current figures.
func (c *Cache) Stats() Stats {
	if c.bc == nil {
		return Stats{}
	}
	return Stats{Entries: c.bc.Len(), Bytes: c.bc.Capacity(), MaxEntryBytes: c.maxEntry}
}

// slot is the generation counter index of a store (Fibonacci hashing, which spreads
// consecutive store ids evenly).
func (c *Cache) slot(storeID int64) uint64 {
	return (uint64(storeID) * 0x9E3779B97F4A7C15) >> (64 - c.slotBits) & (uint64(len(c.gens)) - 1)
}

// Invalidate makes every later lookup of storeID's answers on this node miss; storeID
// 0 means every store. It costs one atomic add. Other nodes are not told: writes go
// through Changed (WrapStore calls it) for that.
func (c *Cache) Invalidate(storeID int64) {
	if storeID == 0 {
		c.global.Add(1)
		return
	}
	c.gens[c.slot(storeID)].Add(1)
}

// Generation returns a number that changes whenever the data of coll in storeID may
// have changed (as far as this cache hears of writes), so that other memories of a
// store's data — the engine's list counts — can be keyed by it. ok is false for the
// collections whose writes the cache does not follow (Options.SkipCollections).
func (c *Cache) Generation(coll string, storeID int64) (gen uint64, ok bool) {
	if c.skip[coll] {
		return 0, false
	}
	return c.global.Load() + c.gens[c.slot(storeID)].Load(), true
}

// Changed is what a write to storeID calls once applied: it invalidates the store here
// and records the change for the other nodes (when they are polled for). storeID 0
// means every store. A failure to record is logged, never returned: the write stands,
// and the other nodes' answers expire with the TTL at the latest.
func (c *Cache) Changed(ctx context.Context, storeID int64) {
	c.Invalidate(storeID)
	if c.poll < 0 {
		return
	}
	es := c.events.Load()
	if es == nil {
		return
	}
	if err := c.record(ctx, es.Store, storeID); err != nil {
		c.log.Error("cache: recording a change for the other nodes failed", "store_id", storeID, "error", err)
	}
}

// key is the lookup key of a store's answer: the store id and the generations (the
// global one and the store's slot), then path, '?' and the raw query.
func (c *Cache) key(storeID int64, path, rawQuery string) string {
	var b strings.Builder
	b.Grow(24 + len(path) + 1 + len(rawQuery))
	var n [24]byte
	putUint64(n[0:8], uint64(storeID))
	putUint64(n[8:16], c.global.Load())
	putUint64(n[16:24], c.gens[c.slot(storeID)].Load())
	b.Write(n[:])
	b.WriteString(path)
	b.WriteByte('?')
	b.WriteString(rawQuery)
	return b.String()
}

// putUint64 writes v little-endian into b[0:8].
func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// interned returns a shared one-element header value for s, for the few distinct
// Content-Type, Cache-Control and Vary values, so that hits do not allocate them. The
// slices have capacity 1: appending to one copies it. The table is copied on write
// (at most maxInterned times), so reading it takes no lock.
func (c *Cache) interned(b []byte) []string {
	if m := c.intern.Load(); m != nil {
		if v, ok := (*m)[string(b)]; ok {
			return v
		}
	}
	s := string(b)
	v := []string{s}
	c.internMu.Lock()
	defer c.internMu.Unlock()
	old := c.intern.Load()
	if old != nil && len(*old) >= maxInterned {
		return v
	}
	next := make(map[string][]string, 1+lenOf(old))
	if old != nil {
		for k, x := range *old {
			next[k] = x
		}
	}
	next[s] = v
	c.intern.Store(&next)
	return v
}

// maxInterned bounds the interned header values.
const maxInterned = 64

// lenOf is the length of an optional map.
func lenOf(m *map[string][]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
