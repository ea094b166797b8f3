package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"storeapi/auth"
	"storeapi/middleware"
)

// testClock is an injected clock that moves only when told.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// origin stands in for the resource engine: it counts calls and answers like
// resources.writeJSON does (ETag, Cache-Control public or private, Vary, 304 on a
// matching If-None-Match). Query parameters shape the answer: size pads the body,
// status sets the status, cc the Cache-Control, cookie sets a cookie.
type origin struct {
	calls   atomic.Int64
	mu      sync.Mutex
	lastINM string
	version atomic.Int64 // part of every body: bump it to "change the data"
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.calls.Add(1)
	o.mu.Lock()
	o.lastINM = r.Header.Get("If-None-Match")
	o.mu.Unlock()
	q := r.URL.Query()
	storeID := middleware.StoreID(r.Context())
	private := middleware.Identity(r.Context()) != nil || r.Header.Get("X-Access-Token") != ""
	body := fmt.Sprintf(`{"store_id":%d,"path":%q,"query":%q,"v":%d`, storeID, r.URL.Path, r.URL.RawQuery, o.version.Load())
	if private {
		body += `,"hidden_metafields":["secret"]`
	}
	if n, _ := strconv.Atoi(q.Get("size")); n > len(body) {
		body += `,"pad":"` + strings.Repeat("x", n-len(body)-10) + `"`
	}
	body += "}"
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	tag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h.Set("ETag", tag)
	switch {
	case q.Get("cc") != "":
		h.Set("Cache-Control", q.Get("cc"))
	case private:
		h.Set("Cache-Control", "private, no-store")
	default:
		h.Set("Cache-Control", "public, max-age=30")
	}
	h.Add("Vary", "X-Store-ID, X-My-ID, X-Access-Token")
	if q.Get("cookie") != "" {
		h.Set("Set-Cookie", "a=b")
	}
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	status := http.StatusOK
	if s, _ := strconv.Atoi(q.Get("status")); s != 0 {
		status = s
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// fixture is a cache in front of middleware.Store in front of an origin, as the server
// chains them (stores 1 to 99 exist).
type fixture struct {
	c       *Cache
	o       *origin
	h       http.Handler
	clock   *testClock
	lookups [2]atomic.Int64 // misses, hits
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	f := &fixture{o: &origin{}, clock: newTestClock()}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	if opts.OnLookup == nil {
		opts.OnLookup = func(hit bool) {
			if hit {
				f.lookups[1].Add(1)
			} else {
				f.lookups[0].Add(1)
			}
		}
	}
	c, err := New(t.Context(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f.c = c
	exists := func(_ context.Context, id int64) (bool, error) { return id > 0 && id < 100, nil }
	f.h = middleware.Chain(f.o, c.Middleware, middleware.Store(exists, nil))
	return f
}

// get sends one request; header alternates names and values.
func (f *fixture) do(method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// want checks an answer's status and X-Cache.
func want(t *testing.T, what string, w *httptest.ResponseRecorder, status int, xcache string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("%s: status %d, want %d (body %q)", what, w.Code, status, w.Body)
	}
	if got := w.Header().Get("X-Cache"); got != xcache {
		t.Fatalf("%s: X-Cache %q, want %q", what, got, xcache)
	}
}

func TestHitAndMiss(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4})
	miss := f.do("GET", "/v1/products/0123456789abcdef01234567.json", "X-Store-ID", "5")
	want(t, "first GET", miss, 200, "MISS")
	hit := f.do("GET", "/v1/products/0123456789abcdef01234567.json", "X-Store-ID", "5")
	want(t, "second GET", hit, 200, "HIT")
	if n := f.o.calls.Load(); n != 1 {
		t.Errorf("origin called %d times, want 1", n)
	}
	if !bytes.Equal(hit.Body.Bytes(), miss.Body.Bytes()) {
		t.Errorf("hit body %q, miss body %q", hit.Body, miss.Body)
	}
	for _, h := range []string{"Content-Type", "Etag", "Cache-Control", "Vary", "Content-Length"} {
		if got, want := hit.Header().Values(h), miss.Header().Values(h); strings.Join(got, "|") != strings.Join(want, "|") || len(got) == 0 {
			t.Errorf("%s: hit %q, miss %q", h, got, want)
		}
	}
	// The other address form of the same store shares the entry; other stores, paths
	// and queries do not.
	want(t, "path form", f.do("GET", "/5/v1/products/0123456789abcdef01234567.json"), 200, "HIT")
	want(t, "other store", f.do("GET", "/v1/products/0123456789abcdef01234567.json", "X-Store-ID", "6"), 200, "MISS")
	want(t, "other query", f.do("GET", "/v1/products/0123456789abcdef01234567.json?fields=sku", "X-Store-ID", "5"), 200, "MISS")
	want(t, "query again", f.do("GET", "/5/v1/products/0123456789abcdef01234567.json?fields=sku"), 200, "HIT")
	if got := f.do("GET", "/v1/products/0123456789abcdef01234567.json", "X-Store-ID", "6").Body.String(); !strings.Contains(got, `"store_id":6`) {
		t.Errorf("store 6 answered %s", got)
	}
	// HEAD is answered from the entry, without a body.
	head := f.do("HEAD", "/v1/products/0123456789abcdef01234567.json", "X-Store-ID", "5")
	want(t, "HEAD", head, 200, "HIT")
	if head.Body.Len() != 0 || head.Header().Get("Content-Length") != strconv.Itoa(miss.Body.Len()) {
		t.Errorf("HEAD: body %d bytes, Content-Length %q", head.Body.Len(), head.Header().Get("Content-Length"))
	}
	if f.lookups[1].Load() != 5 || f.lookups[0].Load() != 3 {
		t.Errorf("OnLookup saw %d hits, %d misses; want 5, 3", f.lookups[1].Load(), f.lookups[0].Load())
	}
}

func TestNotStored(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4})
	tests := []struct {
		name   string
		method string
		target string
		header []string
		status int
	}{
		{"no store id", "GET", "/v1/products.json", nil, 417},
		{"unknown store", "GET", "/v1/products.json", []string{"X-Store-ID", "500"}, 412},
		{"bad store id", "GET", "/v1/products.json", []string{"X-Store-ID", "x"}, 400},
		{"not found", "GET", "/v1/products.json?status=404", []string{"X-Store-ID", "5"}, 404},
		{"created", "GET", "/v1/products.json?status=202", []string{"X-Store-ID", "5"}, 202},
		{"private", "GET", "/v1/products.json?cc=private", []string{"X-Store-ID", "5"}, 200},
		{"no cache control", "GET", "/v1/products.json?cc=max-age=5", []string{"X-Store-ID", "5"}, 200},
		{"no-store", "GET", "/v1/products.json?cc=public,no-store", []string{"X-Store-ID", "5"}, 200},
		{"cookie", "GET", "/v1/products.json?cookie=1", []string{"X-Store-ID", "5"}, 200},
		{"post", "POST", "/v1/products.json", []string{"X-Store-ID", "5"}, 200},
		{"root", "GET", "/v1/", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.o.calls.Load()
			for i := range 2 {
				w := f.do(tt.method, tt.target, tt.header...)
				if w.Code != tt.status {
					t.Fatalf("request %d: status %d, want %d", i+1, w.Code, tt.status)
				}
				if w.Header().Get("X-Cache") == "HIT" {
					t.Fatalf("request %d answered from the cache", i+1)
				}
			}
			// 417/412/400 stop in middleware.Store before the origin.
			if tt.status < 400 || tt.status == 404 {
				if n := f.o.calls.Load() - before; n != 2 {
					t.Errorf("origin called %d times, want 2", n)
				}
			}
		})
	}
	if n := f.c.Stats().Entries; n != 0 {
		t.Errorf("%d entries stored, want none", n)
	}
}

func TestCacheTagBypass(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4})
	for i := range 2 {
		w := f.do("GET", "/v1/brands.json", "X-Store-ID", "5", "X-Cache-Tag", "abc")
		if w.Code != 200 || w.Header().Get("X-Cache") != "" {
			t.Fatalf("request %d: status %d, X-Cache %q", i+1, w.Code, w.Header().Get("X-Cache"))
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}
	if n := f.o.calls.Load(); n != 2 {
		t.Errorf("origin called %d times, want 2", n)
	}
	want(t, "without the tag", f.do("GET", "/v1/brands.json", "X-Store-ID", "5"), 200, "MISS")
	// And a stored answer is not given to a tagged request.
	w := f.do("GET", "/v1/brands.json", "X-Store-ID", "5", "X-Cache-Tag", "1")
	if w.Header().Get("X-Cache") != "" || f.o.calls.Load() != 4 {
		t.Errorf("tagged request after a stored answer: X-Cache %q, origin calls %d", w.Header().Get("X-Cache"), f.o.calls.Load())
	}
}

func TestAuthenticatedNeverShared(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4})
	const path = "/v1/products/0123456789abcdef01234567.json"
	for i := range 2 {
		w := f.do("GET", path, "X-Store-ID", "5", "X-My-ID", "aaaaaaaaaaaaaaaaaaaaaaaa", "X-Access-Token", "t")
		if w.Header().Get("X-Cache") != "" || !strings.Contains(w.Body.String(), "hidden_metafields") {
			t.Fatalf("authenticated %d: X-Cache %q body %s", i+1, w.Header().Get("X-Cache"), w.Body)
		}
	}
	public := f.do("GET", path, "X-Store-ID", "5")
	want(t, "public after authenticated", public, 200, "MISS")
	if strings.Contains(public.Body.String(), "hidden") {
		t.Fatalf("private field leaked into the public answer: %s", public.Body)
	}
	// A public answer stored is not served to an authenticated caller either.
	w := f.do("GET", path, "X-Store-ID", "5", "X-My-ID", "aaaaaaaaaaaaaaaaaaaaaaaa", "X-Access-Token", "t")
	if w.Header().Get("X-Cache") != "" || !strings.Contains(w.Body.String(), "hidden") {
		t.Errorf("authenticated after public: X-Cache %q body %s", w.Header().Get("X-Cache"), w.Body)
	}
	// A verified identity in the context (cache placed after Authenticate) also bypasses.
	h := middleware.Chain(f.o, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := middleware.WithIdentity(middleware.WithStoreID(r.Context(), 5), &auth.Identity{AuthenticationID: "a"})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}, f.c.Middleware)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Header().Get("X-Cache") != "" || !strings.Contains(rec.Body.String(), "hidden") {
		t.Errorf("identity in context: X-Cache %q body %s", rec.Header().Get("X-Cache"), rec.Body)
	}
}

func TestConditional(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4})
	const path = "/v1/categories.json"
	first := f.do("GET", path, "X-Store-ID", "7")
	tag := first.Header().Get("Etag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	tests := []struct {
		name   string
		inm    string
		status int
	}{
		{"exact", tag, 304},
		{"weak form", "W/" + tag, 304},
		{"in a list", `"nope", ` + tag, 304},
		{"star", "*", 304},
		{"other", `"nope"`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do("GET", path, "X-Store-ID", "7", "If-None-Match", tt.inm)
			want(t, "hit", w, tt.status, "HIT")
			if tt.status == 304 && (w.Body.Len() != 0 || w.Header().Get("Etag") != tag) {
				t.Errorf("304 with body %q, ETag %q", w.Body, w.Header().Get("Etag"))
			}
		})
	}
	// On a miss the origin is asked without If-None-Match (so the answer can be
	// stored) and the 304 is made here.
	f.c.Invalidate(7)
	w := f.do("GET", path, "X-Store-ID", "7", "If-None-Match", tag)
	want(t, "miss", w, 304, "MISS")
	if f.o.lastINM != "" {
		t.Errorf("origin saw If-None-Match %q", f.o.lastINM)
	}
	want(t, "then", f.do("GET", path, "X-Store-ID", "7"), 200, "HIT")
}

func TestInvalidate(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4})
	paths := []string{"/v1/products.json", "/v1/products/0123456789abcdef01234567.json", "/v1/brands.json?limit=3"}
	for _, store := range []string{"5", "6"} {
		for _, p := range paths {
			want(t, "fill", f.do("GET", p, "X-Store-ID", store), 200, "MISS")
		}
	}
	f.o.version.Add(1)
	f.c.Invalidate(5)
	for _, p := range paths {
		w := f.do("GET", p, "X-Store-ID", "5")
		want(t, "store 5 after invalidation", w, 200, "MISS")
		if !strings.Contains(w.Body.String(), `"v":1`) {
			t.Errorf("stale body %s", w.Body)
		}
		want(t, "store 6 untouched", f.do("GET", p, "X-Store-ID", "6"), 200, "HIT")
	}
	f.c.Invalidate(0)
	for _, p := range paths {
		want(t, "store 6 after invalidating all", f.do("GET", p, "X-Store-ID", "6"), 200, "MISS")
	}
}

func TestTTL(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4, TTL: 10 * time.Second})
	want(t, "fill", f.do("GET", "/v1/grids.json", "X-Store-ID", "5"), 200, "MISS")
	f.clock.Advance(9 * time.Second)
	want(t, "within TTL", f.do("GET", "/v1/grids.json", "X-Store-ID", "5"), 200, "HIT")
	f.clock.Advance(2 * time.Second)
	want(t, "after TTL", f.do("GET", "/v1/grids.json", "X-Store-ID", "5"), 200, "MISS")
	want(t, "refilled", f.do("GET", "/v1/grids.json", "X-Store-ID", "5"), 200, "HIT")
}

func TestSizeBound(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 1, GzipMin: -1})
	const n, size = 400, 8 << 10 // 3.2 MB of answers into 1 MiB
	for i := range n {
		want(t, "fill", f.do("GET", fmt.Sprintf("/v1/products.json?size=%d&i=%d", size, i), "X-Store-ID", "5"), 200, "MISS")
	}
	st := f.c.Stats()
	if st.Bytes > 1<<20 {
		t.Errorf("cache holds %d bytes, bound %d", st.Bytes, 1<<20)
	}
	if st.Entries*size > 1<<20 || st.Entries < 50 {
		t.Errorf("%d entries of %d bytes kept in 1 MiB", st.Entries, size)
	}
	want(t, "oldest evicted", f.do("GET", fmt.Sprintf("/v1/products.json?size=%d&i=0", size), "X-Store-ID", "5"), 200, "MISS")
	want(t, "newest kept", f.do("GET", fmt.Sprintf("/v1/products.json?size=%d&i=%d", size, n-1), "X-Store-ID", "5"), 200, "HIT")
	// An answer larger than an entry may be is served whole and not stored.
	big := fmt.Sprintf("/v1/products.json?size=%d", st.MaxEntryBytes+1)
	w := f.do("GET", big, "X-Store-ID", "5")
	if w.Code != 200 || w.Body.Len() <= st.MaxEntryBytes || w.Header().Get("X-Cache") != "" {
		t.Fatalf("big answer: status %d, %d bytes, X-Cache %q", w.Code, w.Body.Len(), w.Header().Get("X-Cache"))
	}
	if w := f.do("GET", big, "X-Store-ID", "5"); w.Header().Get("X-Cache") == "HIT" {
		t.Error("an answer over the entry bound was stored")
	}
	// Even then If-None-Match gives 304.
	if w2 := f.do("GET", big, "X-Store-ID", "5", "If-None-Match", w.Header().Get("Etag")); w2.Code != 304 || w2.Body.Len() != 0 {
		t.Errorf("big answer with If-None-Match: status %d, %d bytes", w2.Code, w2.Body.Len())
	}
}

func TestGzipStored(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 4})
	const path = "/v1/products.json?size=5000"
	plain := f.do("GET", path, "X-Store-ID", "5")
	want(t, "fill", plain, 200, "MISS")
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatal("compressed for a client that did not ask")
	}
	for _, xcache := range []string{"HIT", "HIT"} {
		w := f.do("GET", path, "X-Store-ID", "5", "Accept-Encoding", "gzip, br")
		want(t, "gzip", w, 200, xcache)
		if w.Header().Get("Content-Encoding") != "gzip" || w.Body.Len() >= plain.Body.Len() {
			t.Fatalf("Content-Encoding %q, %d bytes (plain %d)", w.Header().Get("Content-Encoding"), w.Body.Len(), plain.Body.Len())
		}
		if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
			t.Errorf("Content-Length %s for %d bytes", cl, w.Body.Len())
		}
		zr, err := gzip.NewReader(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if !bytes.Equal(got, plain.Body.Bytes()) {
			t.Fatalf("gunzipped body differs")
		}
		if w.Header().Get("Etag") != plain.Header().Get("Etag") {
			t.Errorf("ETag differs between encodings")
		}
		if !hasVary(w.Header(), "Accept-Encoding") || !hasVary(w.Header(), "X-Store-ID") {
			t.Errorf("Vary %q", w.Header().Values("Vary"))
		}
	}
	// With the gzip middleware outside, the stored compressed answer is not compressed twice.
	h := middleware.Gzip(0, 0)(f.h)
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("X-Store-ID", "5")
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Fatalf("through the gzip middleware: body differs (compressed twice?)")
	}
	if vs := w.Header().Values("Vary"); strings.Count(strings.Join(vs, ","), "Accept-Encoding") != 1 {
		t.Errorf("Vary %q: want Accept-Encoding once", vs)
	}
}

func TestLimitHook(t *testing.T) {
	var calls []string
	f := newFixture(t, Options{MaxMB: 4, Limit: func(w http.ResponseWriter, r *http.Request, hit bool) (*http.Request, bool) {
		calls = append(calls, strconv.FormatBool(hit))
		if r.URL.Query().Get("refuse") != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return r, false
		}
		return r, true
	}})
	f.do("GET", "/v1/brands.json", "X-Store-ID", "5")
	f.do("GET", "/v1/brands.json", "X-Store-ID", "5")
	f.do("GET", "/v1/brands.json", "X-Store-ID", "5", "X-Cache-Tag", "x") // not the cache's to limit
	if w := f.do("GET", "/v1/brands.json?refuse=1", "X-Store-ID", "5"); w.Code != 503 || f.o.calls.Load() != 2 {
		t.Errorf("refused miss: status %d, origin calls %d", w.Code, f.o.calls.Load())
	}
	if got := strings.Join(calls, ","); got != "false,true,false" {
		t.Errorf("Limit calls %s, want false,true,false", got)
	}
}

func TestDisabled(t *testing.T) {
	f := newFixture(t, Options{MaxMB: 0})
	for range 3 {
		if w := f.do("GET", "/v1/brands.json", "X-Store-ID", "5"); w.Code != 200 || w.Header().Get("X-Cache") != "" {
			t.Fatalf("status %d X-Cache %q", w.Code, w.Header().Get("X-Cache"))
		}
	}
	if f.o.calls.Load() != 3 || f.c.Enabled() {
		t.Errorf("origin calls %d, enabled %v", f.o.calls.Load(), f.c.Enabled())
	}
	if w := f.do("GET", "/v1/brands.json", "X-Store-ID", "5", "X-Cache-Tag", "1"); w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("X-Cache-Tag on a disabled cache: Cache-Control %q", w.Header().Get("Cache-Control"))
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{{TTL: -1}, {Skew: -1}, {Slots: 3}, {Slots: -4}} {
		if c, err := New(t.Context(), o); err == nil {
			_ = c.Close()
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	e := entry{expires: 123456789, contentType: []byte("application/json"), etag: []byte(`"x"`),
		cacheControl: []byte("public"), vary: []byte("X-Store-ID"), body: []byte("{}"), gz: []byte{1, 2, 3}}
	got, ok := decodeEntry(e.encode())
	if !ok || got.expires != e.expires || string(got.etag) != `"x"` || string(got.body) != "{}" || !bytes.Equal(got.gz, e.gz) ||
		string(got.contentType) != "application/json" || string(got.cacheControl) != "public" || string(got.vary) != "X-Store-ID" {
		t.Fatalf("round trip: %+v, %v", got, ok)
	}
	enc := e.encode()
	for i := range len(enc) {
		if _, ok := decodeEntry(enc[:i]); ok {
			t.Fatalf("a truncated entry (%d of %d bytes) decoded", i, len(enc))
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := entry{expires: 1, contentType: []byte("a"), etag: []byte("b"), body: []byte("c")}
	f.Add(e.encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, ok := decodeEntry(b); ok {
			if again, ok := decodeEntry(e.encode()); !ok || !bytes.Equal(again.body, e.body) {
				t.Fatal("a decoded entry does not round-trip")
			}
		}
	})
}

// FuzzStoreOf checks that the cache reads the store of a request exactly as
// middleware.Store does: whenever storeOf names a store, middleware.Store must resolve
// the same one, or one entry could be served to another store.
func FuzzStoreOf(f *testing.F) {
	for _, s := range [][2]string{
		{"/v1/products.json", "5"}, {"/5/v1/products.json", ""}, {"/5/v1/products.json", "6"},
		{"/v1/", "5"}, {"/ 5/v1/x", ""}, {"/+5/v1/x", "7"}, {"5/v1/x", "9"}, {"//v1/x", "3"},
		{"/9007199254740993/v1/x", ""}, {"/v1x/v1/x", "4"}, {"/sandbox/v1/x", "4"}, {"/00012/v1x", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = path
		r.Header.Set("X-Store-ID", header)
		var resolved int64 = -1
		h := middleware.Store(func(context.Context, int64) (bool, error) { return true, nil }, nil)(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { resolved = middleware.StoreID(r.Context()) }))
		h.ServeHTTP(httptest.NewRecorder(), r)
		id, normalized, ok := storeOf(r)
		if !ok {
			return
		}
		if id != resolved {
			t.Fatalf("path %q header %q: cache store %d, middleware.Store %d", path, header, id, resolved)
		}
		if !strings.HasSuffix(path, normalized) {
			t.Fatalf("path %q normalized to %q", path, normalized)
		}
	})
}

func BenchmarkHit(b *testing.B) {
	f := newFixture(b, Options{MaxMB: 16})
	r := httptest.NewRequest("GET", "/v1/products/0123456789abcdef01234567.json?size=800", nil)
	r.Header.Set("X-Store-ID", "5")
	f.h.ServeHTTP(httptest.NewRecorder(), r)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		f.h.ServeHTTP(w, r)
	}
	if f.o.calls.Load() != 1 {
		b.Fatalf("origin called %d times", f.o.calls.Load())
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
