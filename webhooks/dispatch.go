package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"storeapi/db"
)

// errNoChange aborts an Update that has nothing to change.
var errNoChange = errors.New("webhooks: no change")

// DeliveryID returns the _id of the delivery of webhook index of procedure for trigger:
// the first 12 bytes of SHA-256 over the three, as 24 hex characters. The same inputs
// always give the same id, so dispatching a trigger twice stores each delivery once,
// and every attempt of a delivery carries the same X-Webhook-ID.
func DeliveryID(triggerID, procedureID string, index int) string {
	h := sha256.Sum256([]byte(triggerID + "|" + procedureID + "|" + strconv.Itoa(index)))
	return hex.EncodeToString(h[:12])
}

// dispatchBatch dispatches up to queueBatch queue entries in _id order and deletes the
// ones dispatched. It returns how many it dispatched. Between entries it starts the due
// deliveries that freed call slots allow; when every slot is taken and deliveries wait,
// it stops, and the rest of the queue waits where it is (as durable, and in order).
func (d *Dispatcher) dispatchBatch(ctx context.Context) (int, error) {
	entries, err := d.opts.Store.Find(ctx, QueueCollection, db.Query{
		StoreID: SystemStore,
		Sort:    []db.SortField{{Path: "_id"}},
		Limit:   queueBatch,
	})
	if err != nil {
		return 0, fmt.Errorf("webhooks: read queue: %w", err)
	}
	procs := map[string][]db.Doc{} // by store and resource, for this batch
	var done []db.Value
	var firstErr error
	for _, e := range entries {
		if d.claimNeeded() {
			d.claimDue(ctx)
		}
		if d.paused || ctx.Err() != nil {
			break
		}
		ok, err := d.dispatchEntry(ctx, e, procs)
		if err != nil {
			// Later entries wait, so that dispatch keeps the queue's order.
			firstErr = err
			break
		}
		if ok {
			id, _ := e["_id"].(string)
			done = append(done, str(id))
		}
	}
	if len(done) > 0 {
		// Only now: a crash before this line dispatches these entries again, and the
		// deterministic delivery ids keep that from storing anything twice.
		if _, err := d.opts.Store.DeleteMany(context.WithoutCancel(ctx), QueueCollection, SystemStore,
			[]db.Cond{{Path: "_id", Op: db.OpEq, Values: done}}); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("webhooks: delete queue entries: %w", err)
		}
	}
	return len(done), firstErr
}

// dispatchEntry stores the deliveries of one queue entry and starts those due at once.
// It reports whether the entry is finished with (false: keep it for a later poll).
func (d *Dispatcher) dispatchEntry(ctx context.Context, e db.Doc, procs map[string][]db.Doc) (bool, error) {
	id, _ := e["_id"].(string)
	store, okStore := toInt(e["store"])
	depth, _ := toInt(e["depth"])
	if !db.ValidID(id) || !okStore || store <= 0 {
		d.log.Warn("malformed webhook queue entry dropped", "entry_id", id)
		return true, nil
	}
	// The store's procedures for the entry's resource, read once a batch: most triggers
	// match none, and then the trigger itself is not read.
	var tr db.Doc
	resource, _ := e["resource"].(string)
	if resource == "" { // an entry written without the resource
		var err error
		if tr, err = d.loadTrigger(ctx, store, id); tr == nil {
			return err == nil && d.expired(e), err
		}
		resource = text(tr, "resource")
	}
	list, err := d.procedures(ctx, procs, store, resource)
	if err != nil || len(list) == 0 {
		return err == nil, err
	}
	if tr == nil {
		if tr, err = d.loadTrigger(ctx, store, id); tr == nil {
			return err == nil && d.expired(e), err
		}
	}
	var matched []db.Doc
	for _, p := range list {
		if Matches(p, tr) {
			matched = append(matched, p)
		}
	}
	if len(matched) == 0 {
		return true, nil
	}
	if depth > MaxDepth {
		d.log.Warn("webhook loop stopped", "store_id", store, "trigger_id", id, "depth", depth)
		note := fmt.Sprintf("not dispatched: written by store api webhooks %d deep (at most %d)", depth, MaxDepth)
		d.updateTrigger(ctx, store, id, func(resp map[string]any) { resp["skipped"] = note })
		return true, nil
	}
	now := d.opts.Now()
	for _, p := range matched {
		pid, _ := p["_id"].(string)
		hooks, _ := p["webhooks"].([]any)
		for i, h := range hooks {
			spec, ok := h.(map[string]any)
			if !ok {
				continue
			}
			if err := d.createDelivery(ctx, now, store, depth, id, pid, i, spec); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// loadTrigger reads the trigger of a queue entry: nil and no error when it does not
// exist.
func (d *Dispatcher) loadTrigger(ctx context.Context, store int64, id string) (db.Doc, error) {
	tr, err := d.opts.Store.Get(ctx, "triggers", store, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhooks: read trigger: %w", err)
	}
	return tr, nil
}

// procedures returns the store's procedures watching resource, from procs when this
// batch read them already.
func (d *Dispatcher) procedures(ctx context.Context, procs map[string][]db.Doc, store int64, resource string) ([]db.Doc, error) {
	key := strconv.FormatInt(store, 10) + "/" + resource
	if list, ok := procs[key]; ok {
		return list, nil
	}
	list, err := d.opts.Store.Find(ctx, "procedures", db.Query{
		StoreID: store,
		Conds:   []db.Cond{{Path: "triggers.resource", Op: db.OpEq, Values: []db.Value{str(resource)}}},
		Sort:    []db.SortField{{Path: "_id"}},
		Limit:   maxProcedures,
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: read procedures: %w", err)
	}
	procs[key] = list
	return list, nil
}

// expired reports whether a queue entry whose trigger is missing is old enough to drop
// (and logs it): an engine without multi-document transactions may show the entry
// before its trigger, so it waits a lease first.
func (d *Dispatcher) expired(e db.Doc) bool {
	created, _ := e["created_at"].(string)
	if created != "" && created > db.Timestamp(d.opts.Now().Add(-d.opts.Lease)) {
		return false
	}
	d.log.Warn("webhook queue entry without trigger dropped", "store_id", e["store"], "trigger_id", e["_id"])
	return true
}

// createDelivery stores one delivery; when it is due at once and a call slot is free,
// it is stored claimed and sent straight away.
func (d *Dispatcher) createDelivery(ctx context.Context, now time.Time, store, depth int64, triggerID, procID string, index int, spec map[string]any) error {
	nowS := db.Timestamp(now)
	del := db.Doc{
		"_id":          DeliveryID(triggerID, procID, index),
		"store_id":     SystemStore,
		"store":        store,
		"trigger_id":   triggerID,
		"procedure_id": procID,
		"webhook":      int64(index),
		"order":        triggerID + procID + fmt.Sprintf("%02d", index),
		"spec":         spec,
		"depth":        depth,
		"attempt":      int64(0),
		"next_at":      db.Timestamp(now.Add(d.opts.Backoff[0])),
		"status":       StatusPending,
		"lease_until":  "",
		"lease_owner":  "",
		"last_status":  int64(0),
		"last_error":   "",
		"created_at":   nowS,
		"updated_at":   nowS,
	}
	token := ""
	if d.opts.Backoff[0] == 0 && !d.paused && !d.waiting[store] && ctx.Err() == nil {
		if ok, full := d.slots.acquire(store); ok {
			token = newToken()
			del["attempt"] = int64(1)
			del["lease_until"] = db.Timestamp(now.Add(d.opts.Lease))
			del["lease_owner"] = token
		} else {
			// Stored unclaimed; the store's later deliveries wait behind it, and when
			// every slot is taken so does the rest of the queue.
			d.waiting[store] = true
			d.paused = full
			d.starved.Store(true)
		}
	}
	err := d.opts.Store.Insert(ctx, DeliveryCollection, del)
	if err != nil {
		if token != "" {
			d.slots.release(store)
		}
		if errors.Is(err, db.ErrDuplicate) {
			return nil // dispatched before a crash, or by another dispatcher
		}
		return fmt.Errorf("webhooks: store delivery: %w", err)
	}
	if token != "" {
		d.start(ctx, del, token)
	}
	return nil
}

// claimNeeded reports whether claimDue should run: once a Poll period (retries become
// due), and whenever a call ended while due deliveries wait for a slot.
func (d *Dispatcher) claimNeeded() bool {
	if time.Since(d.lastClaim) >= d.opts.Poll {
		return true
	}
	return d.starved.Load() && d.freed.Swap(false)
}

// claimDue claims the pending deliveries that are due, in next_at order, as many as
// the free call slots allow, and starts them. It recomputes which stores wait for a
// slot (d.waiting), whether dispatch must pause (d.paused: every slot is taken), and
// d.starved (a call's end should wake the dispatcher).
//
// A page of due deliveries has room to skip those of stores at their bound; when it is
// full of them and slots are left, a second query leaves those stores out (at most once
// a Poll period: it walks past all their due deliveries), so that a store whose
// receiver hangs delays the others' retries by a Poll period at most.
func (d *Dispatcher) claimDue(ctx context.Context) {
	d.lastClaim = time.Now()
	d.freed.Store(false)
	d.waiting = map[int64]bool{}
	d.paused = false
	now := d.opts.Now()
	more := false
	var skip []int64
	for pass := 0; pass < 2 && !d.paused && ctx.Err() == nil; pass++ {
		if pass == 1 && (len(skip) == 0 || !more || time.Since(d.lastSkipScan) < d.opts.Poll) {
			break
		}
		if pass == 1 {
			d.lastSkipScan = time.Now()
		}
		more, skip = d.claimPage(ctx, now, skip)
	}
	d.starved.Store(d.paused || len(d.waiting) > 0 || more)
}

// claimPage claims from one page of due deliveries, leaving out the stores in exclude.
// It reports whether the page was full (more may be due) and the stores it skipped for
// being at their bound (exclude included).
func (d *Dispatcher) claimPage(ctx context.Context, now time.Time, exclude []int64) (bool, []int64) {
	free := d.slots.free()
	if free <= 0 {
		d.paused = true
		return true, exclude
	}
	nowS := db.Timestamp(now)
	conds := []db.Cond{
		systemStoreCond,
		{Path: "status", Op: db.OpEq, Values: []db.Value{str(StatusPending)}},
		{Path: "next_at", Op: db.OpLte, Values: []db.Value{str(nowS)}},
		{Path: "lease_until", Op: db.OpLte, Values: []db.Value{str(nowS)}},
	}
	if len(exclude) > 0 {
		vals := make([]db.Value, len(exclude))
		for i, st := range exclude {
			vals[i] = db.Value{Typed: st, Raw: strconv.FormatInt(st, 10)}
		}
		conds = append(conds, db.Cond{Path: "store", Op: db.OpNe, Values: vals})
	}
	limit := min(4*free, 128)
	due, err := d.opts.Store.Find(ctx, DeliveryCollection, db.Query{
		StoreID: SystemStore,
		Conds:   conds,
		Sort:    []db.SortField{{Path: "next_at"}, {Path: "order"}},
		Fields:  []string{"store"},
		Limit:   limit,
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("due webhook deliveries not read", "error", err)
		}
		return false, exclude
	}
	skipped := map[int64]bool{}
	for _, st := range exclude {
		skipped[st] = true
	}
	for _, c := range due {
		if ctx.Err() != nil {
			break
		}
		store, _ := toInt(c["store"])
		if d.waiting[store] {
			continue // keep the store's order
		}
		ok, full := d.slots.acquire(store)
		if !ok {
			d.waiting[store] = true
			if full {
				d.paused = true
				break
			}
			if !skipped[store] {
				skipped[store] = true
				exclude = append(exclude, store)
			}
			continue
		}
		id, _ := c["_id"].(string)
		token := newToken()
		claimed, err := d.opts.Store.Update(ctx, DeliveryCollection, SystemStore, id, func(cur db.Doc) (db.Doc, error) {
			if text(cur, "status") != StatusPending || text(cur, "next_at") > nowS || text(cur, "lease_until") > nowS {
				return nil, errNoChange // finished or claimed meanwhile
			}
			n, _ := toInt(cur["attempt"])
			cur["attempt"] = n + 1
			cur["lease_until"] = db.Timestamp(now.Add(d.opts.Lease))
			cur["lease_owner"] = token
			return cur, nil
		})
		if err != nil {
			d.slots.release(store)
			if !errors.Is(err, errNoChange) && !errors.Is(err, db.ErrNotFound) && ctx.Err() == nil {
				d.log.Error("webhook delivery not claimed", "delivery_id", id, "error", err)
			}
			continue
		}
		d.start(ctx, claimed, token)
	}
	return len(due) == limit, exclude
}

// start sends one claimed delivery in its own goroutine; the caller holds a call slot
// for its store, which the goroutine releases. The call and its bookkeeping outlive ctx (bounded by
// Options.Timeout), so that Run's return leaves no outcome unrecorded.
func (d *Dispatcher) start(ctx context.Context, del db.Doc, token string) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			store, _ := toInt(del["store"])
			d.slots.release(store)
			d.freed.Store(true)
			if d.starved.Load() {
				d.Kick()
			}
		}()
		ctx := context.WithoutCancel(ctx)
		res := d.call(ctx, del)
		d.finish(ctx, del, token, res)
	}()
}

// finish stores the outcome of an attempt: first on the trigger, then on the delivery.
// In that order a crash between the two leaves the trigger ahead of the delivery, which
// stays pending: the attempt is made again and both are written again. (The other order
// could leave a delivered delivery whose trigger never learns it.)
func (d *Dispatcher) finish(ctx context.Context, del db.Doc, token string, res outcome) {
	id, _ := del["_id"].(string)
	now := d.opts.Now()
	apply := func(cur db.Doc) (db.Doc, error) {
		status := text(cur, "status")
		if status == StatusDelivered || (!res.ok && text(cur, "lease_owner") != token) {
			// Delivered already, or our lease expired and another attempt owns it now.
			return nil, errNoChange
		}
		cur["last_status"] = int64(res.status)
		cur["last_error"] = res.err
		cur["lease_until"] = ""
		cur["lease_owner"] = ""
		cur["updated_at"] = db.Timestamp(now)
		attempt, _ := toInt(cur["attempt"])
		switch {
		case res.ok:
			cur["status"] = StatusDelivered
		case res.permanent || attempt >= int64(len(d.opts.Backoff)):
			cur["status"] = StatusFailed
		default:
			cur["status"] = StatusPending
			cur["next_at"] = db.Timestamp(now.Add(d.opts.Backoff[max(attempt, 0)]))
		}
		return cur, nil
	}
	// del is the delivery as claimed; unless another dispatcher took it over after our
	// lease, it is still the stored one, and this is what the update below stores.
	next, err := apply(maps.Clone(del))
	if err == nil {
		d.recordEntry(ctx, next)
	}
	_, err = d.opts.Store.Update(ctx, DeliveryCollection, SystemStore, id, apply)
	if errors.Is(err, errNoChange) {
		// Taken over or finished elsewhere: show the stored state on the trigger.
		if cur, err := d.opts.Store.Get(ctx, DeliveryCollection, SystemStore, id); err == nil {
			d.recordEntry(ctx, cur)
		}
		return
	}
	if err != nil {
		// The lease expires and the attempt is made again: at least once.
		d.log.Error("webhook delivery outcome not stored", "delivery_id", id, "error", err)
		return
	}
	lvl := d.log.Debug
	if !res.ok {
		lvl = d.log.Info
	}
	lvl("webhook attempt", "delivery_id", id, "store_id", del["store"], "status", next["status"],
		"attempt", next["attempt"], "http_status", res.status, "error", res.err)
}

// recordEntry writes the view of a delivery into its trigger's response.webhooks[],
// replacing the entry of the same delivery.
func (d *Dispatcher) recordEntry(ctx context.Context, del db.Doc) {
	store, _ := toInt(del["store"])
	entry := triggerEntry(del)
	d.updateTrigger(ctx, store, text(del, "trigger_id"), func(resp map[string]any) {
		list, _ := resp["webhooks"].([]any)
		for i, x := range list {
			if m, ok := x.(map[string]any); ok && m["delivery_id"] == entry["delivery_id"] {
				list[i] = entry
				return
			}
		}
		resp["webhooks"] = append(list, entry)
	})
}

// triggerEntry is the view of a delivery kept in its trigger's response.webhooks[].
func triggerEntry(del db.Doc) map[string]any {
	attempts, _ := toInt(del["attempt"])
	last, _ := toInt(del["last_status"])
	e := map[string]any{
		"delivery_id":  del["_id"],
		"procedure_id": del["procedure_id"],
		"status":       del["status"],
		"attempts":     attempts,
		"last_status":  last,
		"last_error":   del["last_error"],
		"updated_at":   del["updated_at"],
	}
	spec, _ := del["spec"].(map[string]any)
	api, _ := spec["api"].(map[string]any)
	if ext, ok := api["external_api"].(map[string]any); ok {
		e["uri"] = ext["uri"]
	} else if sa, ok := api["store_api"].(map[string]any); ok {
		ep, _ := sa["endpoint"].(string)
		if ep == "" {
			ep = DefaultEndpoint
		}
		e["endpoint"] = ep
	}
	if del["status"] == StatusPending {
		e["next_at"] = del["next_at"]
	}
	return e
}

// updateTrigger changes the response object of a trigger with fn. A trigger deleted
// meanwhile is no error.
func (d *Dispatcher) updateTrigger(ctx context.Context, store int64, id string, fn func(resp map[string]any)) {
	_, err := d.opts.Store.Update(ctx, "triggers", store, id, func(cur db.Doc) (db.Doc, error) {
		resp, _ := cur["response"].(map[string]any)
		if resp == nil {
			resp = map[string]any{}
		}
		if _, ok := resp["webhooks"].([]any); !ok {
			resp["webhooks"] = []any{}
		}
		fn(resp)
		cur["response"] = resp
		return cur, nil
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		d.log.Warn("webhook outcome not recorded on the trigger", "store_id", store, "trigger_id", id, "error", err)
	}
}
