package resources

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"storeapi/apierror"
	"storeapi/auth"
	"storeapi/db"
	"storeapi/middleware"
)

// call is one request being served.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	method   string // HEAD is served as GET
	addr     Address
	rule     *Rule
	storeID  int64
	identity *auth.Identity
}

// serve dispatches a request by the kind of its address.
func (e *Engine) serve(w http.ResponseWriter, r *http.Request) error {
	addr, err := ParseAddress(r.URL.Path)
	if err != nil {
		return err
	}
	c := &call{w: w, r: r, method: r.Method, addr: addr, identity: middleware.Identity(r.Context())}
	if c.method == http.MethodHead {
		c.method = http.MethodGet
	}
	if addr.Kind == KindRoot {
		if c.method != http.MethodGet {
			return methodNotAllowed(http.MethodGet)
		}
		return writeJSON(w, r, http.StatusAccepted, map[string]any{"resources": e.names}, true)
	}
	c.storeID = middleware.StoreID(r.Context())
	if c.storeID <= 0 {
		return apierror.New(http.StatusExpectationFailed, codeStoreMissing, "send the store id in the X-Store-ID header")
	}
	if addr.Kind == KindSpecial {
		return e.special(c)
	}
	c.rule = e.rules[addr.Resource]
	if c.rule == nil {
		return ErrUnknownPath
	}
	switch addr.Kind {
	case KindSchema:
		if c.method != http.MethodGet {
			return methodNotAllowed(http.MethodGet)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(e.schemas.Raw(c.rule.Name))
		return nil
	case KindList:
		switch {
		case c.method == http.MethodGet:
			return e.list(c)
		case c.method == http.MethodPost && c.rule.Name == "triggers":
			return e.createFakeTrigger(c)
		case c.method == http.MethodPost:
			return e.create(c)
		}
		return methodNotAllowed(e.allowed(c.rule, http.MethodGet, http.MethodPost)...)
	case KindMe:
		id, err := e.resolveMe(c)
		if err != nil {
			return err
		}
		c.addr.ID = id
		return e.document(c)
	case KindDocument:
		return e.document(c)
	}
	return e.subresource(c)
}

// allowed filters candidate methods to GET and the rule's verbs.
func (e *Engine) allowed(rule *Rule, candidates ...string) []string {
	var out []string
	for _, m := range candidates {
		if m == http.MethodGet || contains(rule.Verbs, m) {
			out = append(out, m)
		}
	}
	return out
}

// contains reports whether list has s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// authorize checks the caller may use method on the resource (and subresource).
// For GETs it reports whether the caller sees the full document (authenticated with GET
// permission) or the public view; private reads need the permission.
func (e *Engine) authorize(c *call, sub string, private bool) (full bool, err error) {
	id := c.identity
	if c.method == http.MethodGet {
		if id != nil && id.Can(c.rule.Name, sub, http.MethodGet) {
			return true, nil
		}
		if !private {
			return false, nil
		}
	}
	if id == nil {
		return false, needsAuth(c.method + " " + c.rule.Name)
	}
	if !id.Can(c.rule.Name, sub, c.method) {
		return false, noPermission(c.method, c.rule.Name, sub)
	}
	return true, nil
}

// resolveMe turns stores/me and authentications/me into a document id.
func (e *Engine) resolveMe(c *call) (string, error) {
	if c.rule.Name == "authentications" {
		if c.identity == nil {
			return "", needsAuth("authentications/me")
		}
		return c.identity.AuthenticationID, nil
	}
	docs, err := e.store.Find(c.r.Context(), "stores", db.Query{StoreID: c.storeID, Fields: []string{"_id"}, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(docs) == 0 {
		return "", ErrNotFound
	}
	id, _ := docs[0]["_id"].(string)
	return id, nil
}

// view is what the caller may see of a document.
func (c *call) view(doc db.Doc, full bool) db.Doc {
	if full {
		return doc
	}
	return c.rule.publicView(doc)
}

// document serves GET, PUT, PATCH and DELETE of one document.
func (e *Engine) document(c *call) error {
	if c.method != http.MethodGet && !contains(c.rule.Verbs, c.method) || c.method == http.MethodPost {
		return methodNotAllowed(e.allowed(c.rule, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)...)
	}
	full, err := e.authorize(c, "", c.rule.PrivateDocument)
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	switch c.method {
	case http.MethodGet:
		doc, err := e.store.Get(ctx, c.rule.Name, c.storeID, c.addr.ID)
		if err != nil {
			return err
		}
		return writeJSON(c.w, c.r, http.StatusOK, c.view(doc, full), !full)
	case http.MethodDelete:
		records := e.triggerRecords(ctx, c, change{action: "delete"})
		if err := e.update(c, func(db.Doc) (db.Doc, error) { return nil, nil }, records); err != nil {
			return err
		}
		e.triggered(records)
		e.afterDelete(c)
		return writeNoContent(c.w)
	}
	body, err := e.readObject(c.w, c.r)
	if err != nil {
		return err
	}
	dropServerFields(body)
	apply := func(cur db.Doc) (db.Doc, error) {
		if c.method == http.MethodPut {
			return body, nil
		}
		return mergePatch(cur, copyDoc(body)).(db.Doc), nil
	}
	records := e.triggerRecords(ctx, c, change{action: "change", body: body})
	_, setsPassword := body["pass_md5_hash"]
	if err := e.writeWithSecrets(c, apply, records, setsPassword); err != nil {
		return err
	}
	e.triggered(records)
	return writeNoContent(c.w)
}

// create serves POST of a new document.
func (e *Engine) create(c *call) error {
	if !contains(c.rule.Verbs, http.MethodPost) {
		return methodNotAllowed(e.allowed(c.rule, http.MethodGet, http.MethodPost)...)
	}
	doc, err := e.newDocument(c)
	if err != nil {
		return err
	}
	id := c.addr.ID
	if _, has := doc[c.rule.Sequence]; c.rule.Sequence != "" && !has {
		n, err := e.nextNumber(c.r.Context(), c.rule, c.storeID)
		if err != nil {
			return err
		}
		doc[c.rule.Sequence] = json.Number(strconv.FormatInt(n, 10))
	}
	body := copyDoc(doc)
	dropServerFields(body)
	records := e.triggerRecords(c.r.Context(), c, change{action: "create", insertedID: id, body: body})
	pass, err := e.prepare(c.rule, doc)
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	if err := e.store.Insert(ctx, c.rule.Name, doc, records...); err != nil {
		return err
	}
	if pass != "" {
		// Credentials refer to a stored authentication: written after it, and the
		// authentication is taken back if they cannot be, so none is left without them.
		if err := e.auth.SetPassword(ctx, c.storeID, id, pass); err != nil {
			_, _ = e.store.Update(context.WithoutCancel(ctx), c.rule.Name, c.storeID, id,
				func(db.Doc) (db.Doc, error) { return nil, nil })
			return err
		}
	}
	e.triggered(records)
	c.w.Header().Set("Location", "/v1/"+c.rule.Name+"/"+id+".json")
	return writeJSON(c.w, c.r, http.StatusCreated, map[string]string{"_id": id}, false)
}

// newDocument authorises a POST and reads its body as a new document of the caller's
// store: client values of the server fields are replaced by a new _id (also set as the
// address's id), the store and the time.
func (e *Engine) newDocument(c *call) (db.Doc, error) {
	if _, err := e.authorize(c, "", true); err != nil {
		return nil, err
	}
	doc, err := e.readObject(c.w, c.r)
	if err != nil {
		return nil, err
	}
	now := db.Timestamp(e.now())
	c.addr.ID = db.NewID()
	doc["_id"] = c.addr.ID
	doc["store_id"] = json.Number(strconv.FormatInt(c.storeID, 10))
	doc[createdAt], doc[updatedAt] = now, now
	return doc, nil
}

// prepare completes a document about to be stored: ids of new embedded items, schema
// defaults, validation. It takes an authentication's password hash out of the document
// (credentials are kept apart) and returns it.
func (e *Engine) prepare(rule *Rule, doc db.Doc) (pass string, err error) {
	for _, prop := range e.schemas.ItemIDArrays(rule.Name) {
		items, _ := doc[prop].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				if _, has := m["_id"]; !has {
					m["_id"] = db.NewID()
				}
			}
		}
	}
	e.schemas.ApplyDefaults(rule.Name, doc)
	if err := e.schemas.Validate(rule.Name, doc); err != nil {
		return "", err
	}
	if rule.Name == "authentications" {
		pass, _ = doc["pass_md5_hash"].(string)
		delete(doc, "pass_md5_hash")
	}
	return pass, nil
}

// update runs change on the stored document atomically, honouring If-Match, keeping the
// server fields and re-validating the result. change returns nil to delete.
func (e *Engine) update(c *call, change func(cur db.Doc) (db.Doc, error), records []db.Record) error {
	ifMatch := c.r.Header.Get("If-Match")
	_, err := e.store.Update(c.r.Context(), c.rule.Name, c.storeID, c.addr.ID, func(cur db.Doc) (db.Doc, error) {
		if ifMatch != "" && !etagMatches(ifMatch, docETag(cur)) {
			return nil, errPrecondition
		}
		keep := db.Doc{}
		for _, f := range serverFields {
			keep[f] = cur[f]
		}
		next, err := change(cur)
		if err != nil || next == nil {
			return next, err
		}
		for f, v := range keep {
			next[f] = v
		}
		next[updatedAt] = db.Timestamp(e.now())
		_, err = e.prepare(c.rule, next)
		return next, err
	}, records...)
	return err
}

// writeWithSecrets runs an update; when it sets an authentication's password hash
// (setsPassword), it checks the update on the current document first and stores the
// credentials before the document, so that a stored document never waits for its
// password. Other writes pay no extra read.
func (e *Engine) writeWithSecrets(c *call, change func(cur db.Doc) (db.Doc, error), records []db.Record, setsPassword bool) error {
	ctx := c.r.Context()
	if c.rule.Name == "authentications" && setsPassword {
		cur, err := e.store.Get(ctx, c.rule.Name, c.storeID, c.addr.ID)
		if err != nil {
			return err
		}
		next, err := change(copyDoc(cur))
		if err != nil {
			return err
		}
		if next != nil {
			for _, f := range serverFields {
				next[f] = cur[f]
			}
			pass, err := e.prepare(c.rule, next)
			if err != nil {
				return err
			}
			if pass != "" {
				if err := e.auth.SetPassword(ctx, c.storeID, c.addr.ID, pass); err != nil {
					return err
				}
			}
		}
	}
	return e.update(c, change, records)
}

// afterDelete drops what lives beside a deleted document.
func (e *Engine) afterDelete(c *call) {
	if c.rule.Name != "authentications" {
		return
	}
	if err := e.auth.DeleteCredentials(c.r.Context(), c.storeID, c.addr.ID); err != nil {
		e.log.Error("credentials left after deleting an authentication", "store_id", c.storeID,
			"authentication_id", c.addr.ID, "error", err)
	}
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

// copyDoc deep-copies a document (nil stays nil).
func copyDoc(d db.Doc) db.Doc {
	if d == nil {
		return nil
	}
	return deepCopy(d).(map[string]any)
}
