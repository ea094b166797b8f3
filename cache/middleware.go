package cache

import (
	"net/http"
	"strconv"
	"strings"

	"storeapi/middleware"
)

// maxStoreID bounds store ids as middleware.Store does (2^53).
const maxStoreID = 1 << 53

// Middleware serves public GETs and HEADs from the cache and stores the storable
// answers of GETs that missed. Requests with X-Cache-Tag bypass the cache and their
// answers get "Cache-Control: no-store"; requests with credentials (X-Access-Token,
// X-My-ID) or a verified identity bypass it untouched; every other request passes
// through.
//
// It may sit before the Store and Authenticate middleware — then it reads the store id
// from the path or X-Store-ID exactly as middleware.Store does, and a hit costs no
// database work at all (middleware.Store counts the store's documents on every
// request) — or after them, where it takes middleware.StoreID. A miss goes on to next
// without If-None-Match, so that the full answer can be stored; the 304 is then made
// here. Answers carry X-Cache: HIT or MISS.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if header(r, "X-Cache-Tag") != "" {
			next.ServeHTTP(&noStoreWriter{ResponseWriter: w}, r)
			return
		}
		if c.bc == nil || header(r, "X-Access-Token") != "" || header(r, "X-My-Id") != "" ||
			middleware.Identity(r.Context()) != nil {
			next.ServeHTTP(w, r)
			return
		}
		storeID, path, ok := storeOf(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		key := c.key(storeID, path, r.URL.RawQuery)
		if raw, err := c.bc.Get(key); err == nil {
			if e, ok := decodeEntry(raw); ok && c.now().UnixNano() < e.expires {
				c.onLookup(true)
				if c.limit != nil {
					if _, ok := c.limit(w, r, true); !ok {
						return
					}
				}
				c.serve(w, r, &e, c.hitVal)
				return
			}
		}
		c.onLookup(false)
		if c.limit != nil {
			var ok bool
			if r, ok = c.limit(w, r, false); !ok {
				return
			}
		}
		if r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		c.fill(w, r, key, next)
	})
}

// storeOf returns the store of a request and its path in the /v1/… form, reading them
// as middleware.Store does: the store id segment of /<store_id>/v1/… or else X-Store-ID,
// a decimal from 1 to 2^53 after trimming spaces. A store id already in the context
// wins. false when the request names no valid store (middleware.Store will answer it).
func storeOf(r *http.Request) (int64, string, bool) {
	path := r.URL.Path
	switch path {
	case "/v1", "/v1/", "/v1/_sandbox.json", "/v1/_sandbox":
		return 0, "", false
	}
	raw, fromPath := "", false
	rest := strings.TrimPrefix(path, "/")
	if seg, tail, ok := strings.Cut(rest, "/"); ok && seg != "" && seg != "v1" && strings.HasPrefix(tail, "v1") {
		raw, fromPath = seg, true
		path = path[len(path)-len(rest)+len(seg):]
	}
	if id := middleware.StoreID(r.Context()); id > 0 {
		return id, path, true
	}
	if !fromPath {
		raw = header(r, "X-Store-Id")
	}
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || id <= 0 || id > maxStoreID {
		return 0, "", false
	}
	return id, path, true
}

// serve answers from e: 304 when If-None-Match names its ETag, else 200 with the body
// (gzip-compressed when stored so and the client accepts it). xcache is the X-Cache value.
func (c *Cache) serve(w http.ResponseWriter, r *http.Request, e *entry, xcache []string) {
	h := w.Header()
	etag := string(e.etag)
	h["Etag"] = []string{etag}
	h["Cache-Control"] = c.interned(e.cacheControl)
	if len(e.vary) > 0 {
		if len(h["Vary"]) == 0 {
			h["Vary"] = c.interned(e.vary)
		} else {
			h["Vary"] = append(h["Vary"], string(e.vary))
		}
	}
	h["X-Cache"] = xcache
	body := e.body
	if len(e.gz) > 0 {
		if !hasVary(h, "Accept-Encoding") {
			h["Vary"] = append(h["Vary"], "Accept-Encoding")
		}
		if middleware.AcceptsGzip(header(r, "Accept-Encoding")) {
			body = e.gz
			h["Content-Encoding"] = c.gzipVal
		}
	}
	if etagMatches(header(r, "If-None-Match"), etag) {
		delete(h, "Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if len(e.contentType) > 0 {
		h["Content-Type"] = c.interned(e.contentType)
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// header returns the first value of a request header by its canonical name, without
// canonicalizing it again (net/http stores request headers canonically).
func header(r *http.Request, canonical string) string {
	if v := r.Header[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// hasVary reports whether h's Vary lists name (case-insensitively).
func hasVary(h http.Header, name string) bool {
	for _, v := range h["Vary"] {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), name) {
				return true
			}
		}
	}
	return false
}

// fill runs next for a GET that missed, without If-None-Match, records its answer, stores
// it when storable and answers from the stored entry; anything else is passed on as
// the handler wrote it.
func (c *Cache) fill(w http.ResponseWriter, r *http.Request, key string, next http.Handler) {
	inm := header(r, "If-None-Match")
	inner := r
	if inm != "" {
		inner = r.Clone(r.Context())
		inner.Header.Del("If-None-Match")
	}
	before := w.Header()
	rec := &recorder{w: w, header: before.Clone(), max: c.maxEntry, inm: inm}
	next.ServeHTTP(rec, inner)
	if rec.through {
		return
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	size := len(rec.body)
	if storable(rec.status, rec.header) && size <= c.maxEntry {
		e := c.newEntry(rec.header, addedValues(before["Vary"], rec.header["Vary"]), rec.body)
		if size+len(e.gz) <= c.maxEntry {
			_ = c.bc.Set(key, e.encode())
		}
		c.serve(w, r, e, c.missVal)
		return
	}
	rec.replay()
}

// addedValues returns the values in after that are not in before.
func addedValues(before, after []string) []string {
	var out []string
	for _, v := range after {
		found := false
		for _, b := range before {
			if b == v {
				found = true
				break
			}
		}
		if !found {
			out = append(out, v)
		}
	}
	return out
}

// recorder holds back an answer so that it can be stored. Past max bytes it gives up
// and writes through to w (then answering 304 itself when inm names the ETag).
type recorder struct {
	w       http.ResponseWriter
	header  http.Header
	status  int
	body    []byte
	max     int
	inm     string
	through bool // writing straight to w
	discard bool // a 304 went out: drop the body
}

// Header is the answer's header, a copy of w's until replayed.
func (rc *recorder) Header() http.Header { return rc.header }

// WriteHeader records the status (1xx statuses are dropped).
func (rc *recorder) WriteHeader(code int) {
	if rc.status != 0 || rc.through || code < 200 {
		return
	}
	rc.status = code
	if cl, err := strconv.Atoi(rc.header.Get("Content-Length")); err == nil && cl > rc.max {
		rc.writeThrough()
	}
}

// Write records body bytes, or passes them on once too many.
func (rc *recorder) Write(b []byte) (int, error) {
	if rc.status == 0 {
		rc.WriteHeader(http.StatusOK)
	}
	if !rc.through && len(rc.body)+len(b) > rc.max {
		rc.writeThrough()
	}
	if rc.through {
		if rc.discard {
			return len(b), nil
		}
		return rc.w.Write(b)
	}
	rc.body = append(rc.body, b...)
	return len(b), nil
}

// Flush gives up holding back: a streamed answer is not stored.
func (rc *recorder) Flush() {
	if rc.status == 0 {
		rc.WriteHeader(http.StatusOK)
	}
	if !rc.through {
		rc.writeThrough()
	}
	_ = http.NewResponseController(rc.w).Flush()
}

// writeThrough sends the header and what is held back, and passes the rest on.
func (rc *recorder) writeThrough() {
	rc.through = true
	rc.replay()
}

// replay copies the recorded header onto w and sends the status and body: 304 without
// the body when the request's If-None-Match names a 200's ETag.
func (rc *recorder) replay() {
	h := rc.w.Header()
	for k := range h {
		delete(h, k)
	}
	for k, v := range rc.header {
		h[k] = v
	}
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	if rc.status == http.StatusOK && etagMatches(rc.inm, h.Get("Etag")) {
		delete(h, "Content-Length")
		rc.discard = true
		rc.w.WriteHeader(http.StatusNotModified)
		return
	}
	rc.w.WriteHeader(rc.status)
	if len(rc.body) > 0 {
		_, _ = rc.w.Write(rc.body)
	}
	rc.body = nil
}

// noStoreWriter forces "Cache-Control: no-store" on an answer: X-Cache-Tag asks for one
// that no cache, shared or the browser's, keeps.
type noStoreWriter struct {
	http.ResponseWriter
	done bool
}

// WriteHeader sets the header and sends the status.
func (n *noStoreWriter) WriteHeader(code int) {
	if !n.done && code >= 200 {
		n.done = true
		n.Header().Set("Cache-Control", "no-store")
	}
	n.ResponseWriter.WriteHeader(code)
}

// Write sends body bytes (the header first, when not sent yet).
func (n *noStoreWriter) Write(b []byte) (int, error) {
	if !n.done {
		n.WriteHeader(http.StatusOK)
	}
	return n.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (n *noStoreWriter) Unwrap() http.ResponseWriter { return n.ResponseWriter }
