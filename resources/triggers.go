package resources

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"

	"storeapi/db"
)

// triggerResources are the resources whose writes record triggers (the triggers schema's
// enum): not stores, triggers or procedures themselves.
var triggerResources = map[string]bool{
	"authentications": true, "products": true, "categories": true, "brands": true, "collections": true,
	"grids": true, "customers": true, "carts": true, "orders": true, "applications": true,
}

// triggerField is what a trigger's `fields` may list.
var triggerField = regexp.MustCompile(`^[a-z0-9_]{1,50}$`)

// change describes one applied write, for its trigger.
type change struct {
	action        string // create, change, delete
	subresource   string
	subresourceID string
	insertedID    string
	body          db.Doc
}

// triggerRecords returns the records to store with a write of c, in the same atomic
// write: its trigger document (SPEC §8) and whatever the server adds for it (the
// webhook queue entry). None for the resources triggers do not cover.
func (e *Engine) triggerRecords(ctx context.Context, c *call, ch change) []db.Record {
	if !triggerResources[c.rule.Name] {
		return nil
	}
	now := db.Timestamp(e.now())
	tr := db.Doc{
		"_id":         db.NewID(),
		"store_id":    json.Number(strconv.FormatInt(c.storeID, 10)),
		createdAt:     now,
		updatedAt:     now,
		"datetime":    now,
		"method":      c.method,
		"action":      ch.action,
		"resource":    c.rule.Name,
		"resource_id": c.addr.ID,
	}
	if c.identity != nil && c.identity.AuthenticationID != "" {
		tr["authentication_id"] = c.identity.AuthenticationID
	} else {
		tr["authentication_id"] = nil
	}
	if ch.subresource != "" {
		tr["subresource"] = ch.subresource
	}
	if ch.subresourceID != "" {
		tr["subresource_id"] = ch.subresourceID
	}
	if ch.insertedID != "" {
		tr["inserted_id"] = ch.insertedID
	}
	if ch.body != nil {
		body := copyDoc(ch.body)
		delete(body, "pass_md5_hash") // never a secret in a trigger
		tr["body"] = body
		var fields []any
		for k := range body {
			if triggerField.MatchString(k) && len(fields) < 100 {
				fields = append(fields, k)
			}
		}
		if fields != nil {
			sort.Slice(fields, func(i, j int) bool { return fields[i].(string) < fields[j].(string) })
			tr["fields"] = fields
		}
	}
	return e.withQueue(ctx, tr)
}

// withQueue returns the trigger's record and the ones the server adds for it.
func (e *Engine) withQueue(ctx context.Context, tr db.Doc) []db.Record {
	records := []db.Record{{Coll: "triggers", Doc: tr}}
	if e.onTrigger != nil {
		records = append(records, e.onTrigger(ctx, tr)...)
	}
	return records
}

// triggered tells the server that triggers were stored (to wake the dispatcher).
func (e *Engine) triggered(records []db.Record) {
	if len(records) > 0 && e.afterTrigger != nil {
		e.afterTrigger()
	}
}

// createFakeTrigger serves POST /triggers.json: a trigger marked fake that runs the
// store's procedures like a real one.
func (e *Engine) createFakeTrigger(c *call) error {
	doc, err := e.newDocument(c)
	if err != nil {
		return err
	}
	id := c.addr.ID
	doc["fake"] = true
	if _, ok := doc["datetime"]; !ok {
		doc["datetime"] = doc[createdAt]
	}
	if _, err := e.prepare(c.rule, doc); err != nil {
		return err
	}
	records := e.withQueue(c.r.Context(), doc)
	if err := e.store.Insert(c.r.Context(), "triggers", doc, records[1:]...); err != nil {
		return err
	}
	e.triggered(records)
	return writeJSON(c.w, c.r, http.StatusCreated, map[string]string{"_id": id}, false)
}
