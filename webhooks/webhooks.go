// Package webhooks delivers the webhooks of procedures (SPEC §8): it reads the durable
// queue that every applied write feeds, matches each trigger with the procedures of its
// store, calls their webhooks (an external URI, or the Store API of the same store) with
// retries, and records the outcome on the trigger document for the store's admins.
//
// # Collections
//
// All bookkeeping lives under the reserved system store id 0 (SystemStore), so one poll
// finds the work of every store:
//
//   - webhook_queue: one entry per trigger ({_id: the trigger's _id, store_id: 0,
//     store, resource, depth, created_at}), built by QueueRecord and written by the
//     caller in the same write as the trigger, so a trigger is never left without its
//     entry.
//   - webhook_deliveries: one document per (trigger, procedure, webhook index), with a
//     deterministic _id (DeliveryID), the webhook as it was when the trigger was
//     dispatched, status pending|delivered|failed, attempt, next_at, lease_until,
//     last_status and last_error. Finished deliveries are purged after
//     Options.Retention; the outcome stays on the trigger.
//
// # Flow
//
// The dispatcher polls the queue in _id order (every Options.Poll, or at once after
// Kick). For each entry it loads the store's procedures watching the entry's resource
// and, when there are any, the trigger; it inserts one delivery per matching webhook,
// and only then deletes the queue entry: a crash in between dispatches the entry again,
// and the deterministic delivery ids make the second insert a no-op. A delivery due at once is inserted already claimed and sent
// straight away; the others (retries, or when Options.MaxInFlight calls are running)
// are claimed later by an atomic db.Store.Update that sets lease_until, so two
// dispatchers sharing a database never both send one attempt. After each attempt the
// trigger's `response.webhooks[]` entry for the delivery ({delivery_id, procedure_id,
// uri or endpoint, status, attempts, last_status, last_error, next_at while pending,
// updated_at}) is written, then the delivery itself (delivered, failed, or pending
// with its next next_at), so that GET /v1/triggers/<id>.json shows the outcome and
// GET /v1/triggers.json?response.webhooks.status=failed lists the failures. A trigger
// at too deep a loop level gets `response.skipped` instead (see Loops).
//
// # Guarantees and ordering
//
//   - At least once per (trigger, webhook): nothing is deleted from the queue before its
//     deliveries are stored, and a delivery stays pending until an attempt's outcome is
//     stored. A crash after a call and before its outcome is stored sends it again once
//     the lease (Options.Lease) has expired, with the same X-Webhook-ID: receivers drop
//     duplicates by that id. A claim counts as an attempt, so a crash-looping delivery
//     still ends failed. Leases compare the dispatchers' clocks: keep nodes within
//     seconds of each other.
//   - Triggers are dispatched in the queue's _id order (ObjectIds: creation time, then
//     process and counter), and first attempts start in that order. Up to
//     Options.MaxInFlight calls run at once and retries wait for their backoff, so
//     receivers can see deliveries out of order; the trigger's datetime and _id in the
//     body say which change came first.
//   - Attempt n (0-based) starts Options.Backoff[n] after the previous failure (the first
//     one after the dispatch); after len(Backoff) failed attempts the delivery is failed.
//     Any answer outside 2xx is a failure; a webhook that cannot be called at all (a bad
//     URI, a refused address, external calls off) fails at once, without retries.
//   - A delivery keeps the webhook as it was at dispatch: editing or deleting the
//     procedure later does not change the retries of triggers already dispatched.
//
// # What is sent
//
// An external_api webhook is an HTTP request with webhooks[].method to its uri. The body
// is the trigger as JSON (without its `response`, so every attempt sends the same bytes),
// or map_body with its `(tr.<path>)` placeholders filled in (see MapBody); no body when
// send_body is false or the method is GET. Its headers[] are sent, then these, which
// the procedure cannot override:
//
//	Content-Type: application/json
//	User-Agent: storeapi-webhooks/1
//	X-Store-ID: <store id>
//	X-Trigger-ID: <trigger _id>
//	X-Webhook-ID: <delivery _id, the same on every attempt>
//	X-Webhook-Attempt: <1, 2, ...>
//	X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>
//
// The HMAC key is the store's signing key, SigningKey(server secret, store id); a
// receiver computes Sign(key, body) over the raw body it read and compares it in
// constant time (hmac.Equal) with the header after "sha256=". An empty body is signed
// too.
//
// A store_api webhook calls Options.StoreAPI with the store, webhooks[].method, its
// endpoint (default "/(tr.resource).json") with `(tr.<path>)` placeholders replaced by
// path-escaped trigger values, and the same body; store_api.version is ignored ("v1"
// and "current" are the same API).
//
// # Outbound safety
//
// Calls have Options.Timeout, at most Options.MaxInFlight run at once (and at most
// Options.MaxInFlightPerStore of one store, so that one store's slow receivers leave
// room to the others), and at most Options.MaxResponse bytes of an answer are read.
// When every slot is taken the queue waits where it is. Redirects are not followed (a 3xx is
// a failure). Unless Options.AllowPrivate, the address every connection is about to dial
// (after DNS resolution, so rebinding cannot get around it) must not be loopback,
// link-local, private (RFC 1918, CGNAT, ULA), unspecified, multicast or reserved.
// Environment proxies are not used.
//
// # Loops
//
// A store_api webhook's own write records a trigger, which may match the procedure
// again. The context given to Options.StoreAPI carries the depth of the trigger being
// delivered plus one (WithDepth); the server records each write's trigger with
// QueueRecord(trigger, Depth(ctx)), and entries deeper than MaxDepth are not
// dispatched (the trigger's response says so). External receivers that write back
// through the public API start again at depth 0: that loop is theirs to avoid.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"storeapi/db"
)

// Collections and limits of the package.
const (
	// QueueCollection holds one entry per trigger still to dispatch.
	QueueCollection = "webhook_queue"
	// DeliveryCollection holds one document per (trigger, procedure, webhook index).
	DeliveryCollection = "webhook_deliveries"
	// SystemStore is the store id the queue and the deliveries are stored under.
	SystemStore int64 = 0
	// MaxDepth is the deepest trigger that is dispatched: a trigger recorded by a write
	// of a store_api webhook has the depth of the trigger it delivered plus one.
	MaxDepth = 3
)

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// DefaultBackoff is the wait before each attempt: the first at once, then 1 min, 5 min,
// 30 min, 2 h and 6 h after the previous failure.
var DefaultBackoff = []time.Duration{0, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}

// Defaults of Options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxInFlight = 16
	DefaultMaxResponse = 64 << 10
	DefaultPoll        = 200 * time.Millisecond
	DefaultLease       = time.Minute
	DefaultRetention   = 24 * time.Hour
)

// minTickGap is the least time between two polls woken by Kick: under a stream of
// writes each poll then dispatches a batch, for at most this much more lag.
const minTickGap = 2 * time.Millisecond

// queueBatch is how many queue entries one poll reads, and tickBatches how many
// batches one tick dispatches at most.
const (
	queueBatch  = 100
	tickBatches = 10
)

// maxProcedures is the most procedures of one store considered for one trigger.
const maxProcedures = 1000

// StoreAPIFunc calls the Store API of one store as that store's admin: method and path
// (an endpoint under the version root, e.g. "/products/<id>.json", already substituted),
// with body (nil for none). It returns the answer's status and body. ctx carries the
// depth to record the call's own triggers with (Depth).
type StoreAPIFunc func(ctx context.Context, storeID int64, method, path string, body []byte) (int, []byte, error)

// Options configure a Dispatcher. Store and Secret are required; zero values of the
// others mean their defaults.
type Options struct {
	// Store is the database holding triggers, procedures, the queue and the deliveries.
	Store db.Store
	// Log receives the dispatcher's events; nil discards them.
	Log *slog.Logger
	// Secret is the server secret the per-store signing keys derive from (SigningKey).
	Secret []byte
	// Backoff is the wait before each attempt (see DefaultBackoff, the default); its
	// length is the number of attempts. Entries must not be negative.
	Backoff []time.Duration
	// AllowPrivate allows calls to loopback, link-local, private, unspecified, multicast
	// and reserved addresses.
	AllowPrivate bool
	// External enables external_api webhooks; when false they are not called and are
	// recorded as failed ("external calls are off"), as the sandbox wants.
	External bool
	// Timeout bounds one call, answer included (DefaultTimeout).
	Timeout time.Duration
	// MaxInFlight bounds the calls running at once (DefaultMaxInFlight).
	MaxInFlight int
	// MaxInFlightPerStore bounds the calls of one store running at once, so that one
	// store's slow receivers leave slots to the others (MaxInFlight/2, at least 1).
	MaxInFlightPerStore int
	// MaxResponse is the most bytes of an answer read (DefaultMaxResponse).
	MaxResponse int64
	// Poll is the queue polling period (DefaultPoll); Kick wakes the poller earlier.
	Poll time.Duration
	// Lease is how long a claimed attempt is reserved for its dispatcher
	// (DefaultLease); after it another dispatcher may send it again. It must exceed
	// Timeout.
	Lease time.Duration
	// Retention is how long finished deliveries are kept (DefaultRetention).
	Retention time.Duration
	// StoreAPI serves store_api webhooks; nil fails them ("store api calls are off").
	StoreAPI StoreAPIFunc
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Dispatcher dispatches the queue and sends the deliveries. Create it with New and start
// it with Run; Kick is safe for concurrent use.
type Dispatcher struct {
	opts    Options
	log     *slog.Logger
	client  *http.Client
	slots   *slots
	kick    chan struct{}
	wg      sync.WaitGroup
	starved atomic.Bool // due deliveries wait for a slot: the end of a call kicks
	freed   atomic.Bool // a call ended since the last claimDue

	// Used by Run's goroutine only (see claimDue): stores whose due deliveries wait for
	// a slot (their new deliveries are stored unclaimed, behind them), whether every
	// slot is taken while deliveries wait (the queue then waits too), and when due
	// deliveries were last looked for.
	waiting      map[int64]bool
	paused       bool
	lastClaim    time.Time
	lastSkipScan time.Time // last query of due deliveries leaving out stores at their bound
}

// New checks opts, fills in the defaults and returns a Dispatcher.
func New(opts Options) (*Dispatcher, error) {
	if opts.Store == nil {
		return nil, errors.New("webhooks: a store is required")
	}
	if len(opts.Secret) == 0 {
		return nil, errors.New("webhooks: a secret is required")
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if len(opts.Backoff) == 0 {
		return nil, errors.New("webhooks: backoff needs at least one attempt")
	}
	for _, b := range opts.Backoff {
		if b < 0 {
			return nil, errors.New("webhooks: negative backoff")
		}
	}
	opts.Backoff = append([]time.Duration(nil), opts.Backoff...)
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.MaxInFlightPerStore <= 0 {
		opts.MaxInFlightPerStore = max(1, opts.MaxInFlight/2)
	}
	opts.MaxInFlightPerStore = min(opts.MaxInFlightPerStore, opts.MaxInFlight)
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = DefaultMaxResponse
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Lease <= opts.Timeout {
		return nil, fmt.Errorf("webhooks: lease %s must exceed the call timeout %s", opts.Lease, opts.Timeout)
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Dispatcher{
		opts:    opts,
		log:     opts.Log,
		client:  newClient(opts),
		slots:   newSlots(opts.MaxInFlight, opts.MaxInFlightPerStore),
		kick:    make(chan struct{}, 1),
		waiting: map[int64]bool{},
	}, nil
}

// Kick wakes the poller at once (after a write recorded a trigger), instead of at its
// next period. It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run dispatches and delivers until ctx ends, then waits for the calls in flight to end
// (each is bounded by Options.Timeout) and stores their outcome before returning. Errors
// of the database are logged and retried at the next poll; Run returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer d.wg.Wait()
	if err := d.opts.Store.EnsureIndexes(ctx, DeliveryCollection, []db.Index{{Paths: []string{"status", "next_at", "order"}}}); err != nil {
		d.log.Warn("webhook delivery index not created", "error", err)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastPurge, lastTick time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
			// Under a stream of writes, kicks are coalesced into batches.
			if wait := minTickGap - time.Since(lastTick); wait > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
			}
		case <-timer.C:
		}
		lastTick = time.Now()
		d.tick(ctx)
		if now := d.opts.Now(); now.Sub(lastPurge) >= d.opts.Retention/24 {
			lastPurge = now
			d.purge(ctx)
		}
		timer.Reset(d.opts.Poll)
	}
}

// tick starts the due deliveries it can, then dispatches the queue in batches while it
// has more, up to tickBatches batches (then it kicks itself, so that purges still run
// under a stream of writes). Due deliveries are looked for once a Poll period, or when a
// call ended while some wait for a slot: a stream of Kicks after writes does not scan
// them each time.
func (d *Dispatcher) tick(ctx context.Context) {
	for range tickBatches {
		if d.paused || d.claimNeeded() {
			d.claimDue(ctx)
		}
		if d.paused || ctx.Err() != nil {
			return // a call's end kicks
		}
		n, err := d.dispatchBatch(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("webhook queue not dispatched", "error", err)
			}
			return
		}
		if n < queueBatch {
			return
		}
	}
	d.Kick()
}

// purge deletes the deliveries finished more than Retention ago.
func (d *Dispatcher) purge(ctx context.Context) {
	cutoff := db.Timestamp(d.opts.Now().Add(-d.opts.Retention))
	n, err := d.opts.Store.DeleteMany(ctx, DeliveryCollection, SystemStore, []db.Cond{
		systemStoreCond,
		{Path: "status", Op: db.OpEq, Values: []db.Value{str(StatusDelivered), str(StatusFailed)}},
		{Path: "updated_at", Op: db.OpLte, Values: []db.Value{str(cutoff)}},
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("finished webhook deliveries not purged", "error", err)
		}
		return
	}
	if n > 0 {
		d.log.Debug("finished webhook deliveries purged", "count", n)
	}
}

// QueueRecord returns the queue entry to store in the same write as trigger (which has
// its _id, store_id and resource set): {_id: trigger _id, store_id: 0, store, resource,
// depth, created_at}.
// depth is Depth of the write's context: 0 for a client's write, n+1 for a write made by
// a store_api webhook delivering a trigger of depth n.
func QueueRecord(trigger db.Doc, depth int) db.Record {
	id, _ := trigger["_id"].(string)
	store, _ := toInt(trigger["store_id"])
	created, _ := trigger["created_at"].(string)
	if created == "" {
		created = db.Timestamp(time.Now())
	}
	return db.Record{Coll: QueueCollection, Doc: db.Doc{
		"_id":        id,
		"store_id":   SystemStore,
		"store":      store,
		"resource":   trigger["resource"],
		"depth":      int64(max(depth, 0)),
		"created_at": created,
	}}
}

// depthKey is the context key of the webhook depth.
type depthKey struct{}

// WithDepth returns ctx marked as the context of a write made by a store_api webhook
// delivering a trigger of depth n-1: the trigger of that write has depth n.
func WithDepth(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, depthKey{}, n)
}

// Depth returns the depth WithDepth put in ctx, 0 when none (a client's write).
func Depth(ctx context.Context) int {
	n, _ := ctx.Value(depthKey{}).(int)
	return n
}

// systemStoreCond is store_id = 0 as a condition. A query under SystemStore repeats it:
// engines may read store id 0 as "every store" and then not walk the indexes, which
// all start with store_id.
var systemStoreCond = db.Cond{Path: "store_id", Op: db.OpEq, Values: []db.Value{{Typed: SystemStore, Raw: "0"}}}

// str is a string condition value.
func str(s string) db.Value { return db.Value{Typed: s, Raw: s} }

// toInt reads an integer of a document (json.Number, int64, int or float64).
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// newToken returns a random lease token.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
