package resources

import (
	"net/http"
	"strings"

	"storeapi/apierror"
	"storeapi/db"
	"storeapi/schemas"
)

// subresource serves the addresses below a document: a property, an embedded item and
// an item's shortcut (SPEC §1).
func (e *Engine) subresource(c *call) error {
	prop := c.addr.Property
	kind := e.schemas.Property(c.rule.Name, prop)
	if kind == schemas.PropNone {
		return unknownSubresource(c.rule.Name, prop)
	}
	if c.addr.Kind != KindProperty && kind != schemas.PropObjectArray {
		return unknownSubresource(c.rule.Name, prop+"/"+c.addr.ItemID)
	}
	if c.addr.Kind == KindItemProperty && c.rule.Shortcuts[c.addr.Leaf] == nil {
		return unknownSubresource(c.rule.Name, prop+"/<id>/"+c.addr.Leaf)
	}
	if err := e.checkSubVerb(c, kind); err != nil {
		return err
	}
	full, err := e.authorize(c, prop, c.rule.PrivateDocument)
	if err != nil {
		return err
	}
	if !full && !c.rule.publicPath(prop) {
		return needsAuth("reading " + c.rule.Name + "/" + prop)
	}
	if c.method == http.MethodGet {
		return e.getSub(c, kind, full)
	}
	var body db.Doc
	if c.method != http.MethodDelete {
		if body, err = e.readObject(c.w, c.r); err != nil {
			return err
		}
	}
	// A new item's id is chosen once, so that a retried update stores the same one.
	itemID := db.NewID()
	apply := func(cur db.Doc) (db.Doc, error) {
		return cur, applySub(c, kind, cur, copyDoc(body), itemID)
	}
	ch := change{action: "change", subresource: prop, subresourceID: c.addr.ItemID, body: body}
	switch {
	case c.method == http.MethodPost:
		ch.action, ch.insertedID = "create", itemID
	case c.method == http.MethodDelete:
		ch.action = "delete"
	}
	records := e.triggerRecords(c.r.Context(), c, ch)
	setsPassword := c.addr.Kind == KindProperty && prop == "pass_md5_hash"
	if err := e.writeWithSecrets(c, apply, records, setsPassword); err != nil {
		return err
	}
	e.triggered(records)
	if c.method == http.MethodPost {
		return writeJSON(c.w, c.r, http.StatusCreated, map[string]string{"_id": itemID}, false)
	}
	return writeNoContent(c.w)
}

// checkSubVerb answers 405 for a verb the address does not take.
func (e *Engine) checkSubVerb(c *call, kind schemas.PropertyKind) error {
	var allowed []string
	switch {
	case c.addr.Kind == KindItemProperty:
		allowed = []string{http.MethodGet, http.MethodPut, http.MethodPatch}
	case c.addr.Kind == KindItem:
		allowed = []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete}
	case kind == schemas.PropObjectArray:
		allowed = []string{http.MethodGet, http.MethodPost}
	default:
		allowed = []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete}
	}
	if len(c.rule.Verbs) == 0 {
		allowed = []string{http.MethodGet}
	}
	if !contains(allowed, c.method) {
		return methodNotAllowed(allowed...)
	}
	return nil
}

// getSub answers a GET below a document.
func (e *Engine) getSub(c *call, kind schemas.PropertyKind, full bool) error {
	doc, err := e.store.Get(c.r.Context(), c.rule.Name, c.storeID, c.addr.ID)
	if err != nil {
		return err
	}
	doc = c.view(doc, full)
	prop := c.addr.Property
	switch c.addr.Kind {
	case KindItem, KindItemProperty:
		items, _ := doc[prop].([]any)
		i := findItem(items, c.addr.ItemID)
		if i < 0 {
			return ErrNotFound
		}
		item := items[i].(map[string]any)
		if c.addr.Kind == KindItemProperty {
			return writeJSON(c.w, c.r, http.StatusOK, pick(item, c.rule.Shortcuts[c.addr.Leaf]), !full)
		}
		return writeJSON(c.w, c.r, http.StatusOK, item, !full)
	}
	switch kind {
	case schemas.PropObjectArray:
		params, err := ParseListQuery(c.r.URL.RawQuery)
		if err != nil {
			return err
		}
		items, _ := doc[prop].([]any)
		return listItems(c, items, full, params)
	case schemas.PropObject:
		v, ok := doc[prop]
		if !ok {
			v = map[string]any{}
		}
		return writeJSON(c.w, c.r, http.StatusOK, v, !full)
	}
	fields := c.rule.Shortcuts[prop]
	if fields == nil {
		fields = []string{prop}
	}
	return writeJSON(c.w, c.r, http.StatusOK, pick(doc, fields), !full)
}

// applySub changes cur as a write below it asks; a POST appends an item with newID.
func applySub(c *call, kind schemas.PropertyKind, cur db.Doc, body db.Doc, newID string) error {
	prop := c.addr.Property
	switch c.addr.Kind {
	case KindItem, KindItemProperty:
		items, _ := cur[prop].([]any)
		i := findItem(items, c.addr.ItemID)
		if i < 0 {
			return ErrNotFound
		}
		item := items[i].(map[string]any)
		switch {
		case c.addr.Kind == KindItemProperty:
			if err := setFields(item, body, c.rule.Shortcuts[c.addr.Leaf]); err != nil {
				return err
			}
		case c.method == http.MethodDelete:
			cur[prop] = append(items[:i:i], items[i+1:]...)
		case c.method == http.MethodPut:
			body["_id"] = c.addr.ItemID
			items[i] = body
		default:
			delete(body, "_id")
			items[i] = mergePatch(item, body)
		}
		return nil
	}
	switch {
	case kind == schemas.PropObjectArray: // POST appends
		body["_id"] = newID
		items, _ := cur[prop].([]any)
		cur[prop] = append(items, body)
	case c.method == http.MethodDelete:
		delete(cur, prop)
	case kind == schemas.PropObject && c.method == http.MethodPut:
		cur[prop] = body
	case kind == schemas.PropObject:
		cur[prop] = mergePatch(cur[prop], body)
	default:
		fields := c.rule.Shortcuts[prop]
		if fields == nil {
			fields = []string{prop}
		}
		return setFields(cur, body, fields)
	}
	return nil
}

// setFields copies the shortcut fields of body into target; the first is required and
// no other field is accepted.
func setFields(target, body db.Doc, fields []string) error {
	if _, ok := body[fields[0]]; !ok {
		return apierror.Newf(http.StatusBadRequest, codeInvalid, "the body must have %q", fields[0])
	}
	for k := range body {
		if !contains(fields, k) {
			return apierror.Newf(http.StatusBadRequest, codeInvalid,
				"unexpected property %q; this address takes %s", k, strings.Join(fields, ", "))
		}
	}
	for _, f := range fields {
		if v, ok := body[f]; ok {
			if v == nil {
				delete(target, f)
			} else {
				target[f] = v
			}
		}
	}
	return nil
}

// findItem returns the index of the item with that _id, or -1.
func findItem(items []any, id string) int {
	for i, it := range items {
		if m, ok := it.(map[string]any); ok && m["_id"] == id {
			return i
		}
	}
	return -1
}

// pick returns the given fields of doc that are present.
func pick(doc map[string]any, fields []string) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		if v, ok := doc[f]; ok {
			out[f] = v
		}
	}
	return out
}
