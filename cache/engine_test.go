package cache_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"storeapi/auth"
	"storeapi/cache"
	"storeapi/db"
	"storeapi/db/sqlite"
	"storeapi/middleware"
	"storeapi/resources"
	"storeapi/schemas"
)

// readCounter counts the reads that reach the database.
type readCounter struct {
	db.Store
	reads atomic.Int64
}

func (r *readCounter) Get(ctx context.Context, coll string, storeID int64, id string) (db.Doc, error) {
	r.reads.Add(1)
	return r.Store.Get(ctx, coll, storeID, id)
}

func (r *readCounter) Find(ctx context.Context, coll string, q db.Query) ([]db.Doc, error) {
	r.reads.Add(1)
	return r.Store.Find(ctx, coll, q)
}

func (r *readCounter) Count(ctx context.Context, coll string, storeID int64, conds []db.Cond) (int64, error) {
	r.reads.Add(1)
	return r.Store.Count(ctx, coll, storeID, conds)
}

// apiServer is the resource engine behind the cache, chained as the lead's server does:
// cache → Store → Authenticate → engine, over SQLite.
type apiServer struct {
	t      *testing.T
	url    string
	reads  *readCounter
	boot   auth.Bootstrap
	myID   string
	token  string
	client *http.Client
}

func startAPI(t *testing.T) *apiServer {
	t.Helper()
	ctx := t.Context()
	inner, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "api.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inner.Close(context.Background()) })
	reads := &readCounter{Store: inner}
	c, err := cache.New(ctx, cache.Options{MaxMB: 8, Poll: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	store := cache.WrapStore(reads, c)
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	authSvc, err := auth.New(auth.Options{Store: store, Secret: []byte(strings.Repeat("k", 32)), Audience: "production"})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := resources.New(resources.Options{Store: store, Schemas: set, Auth: authSvc})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	boot, err := authSvc.CreateStore(ctx, auth.StoreOptions{StoreID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.Chain(engine, c.Middleware, middleware.Store(authSvc.StoreExists, nil), middleware.Authenticate(authSvc, nil))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a := &apiServer{t: t, url: srv.URL, reads: reads, boot: boot, client: srv.Client()}
	sum := md5.Sum([]byte(boot.Password))
	login := a.do("POST", "/v1/_login.json", map[string]any{"username": boot.Username, "pass_md5_hash": hex.EncodeToString(sum[:])}, false)
	var l struct {
		ID     string `json:"_id"`
		APIKey string `json:"api_key"`
	}
	_ = json.Unmarshal(login.body, &l)
	tok := a.do("POST", "/v1/_authenticate.json", map[string]any{"_id": l.ID, "api_key": l.APIKey}, false)
	var tk struct {
		MyID  string `json:"my_id"`
		Token string `json:"access_token"`
	}
	_ = json.Unmarshal(tok.body, &tk)
	if tk.Token == "" {
		t.Fatalf("no token: login %d %s, authenticate %d %s", login.status, login.body, tok.status, tok.body)
	}
	a.myID, a.token = tk.MyID, tk.Token
	return a
}

type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to store 1000, as the admin when admin is true.
func (a *apiServer) do(method, path string, body any, admin bool, header ...string) apiAnswer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if !strings.HasPrefix(path, "/1000/") {
		req.Header.Set("X-Store-ID", "1000")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("X-My-ID", a.myID)
		req.Header.Set("X-Access-Token", a.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return apiAnswer{status: res.StatusCode, header: res.Header, body: raw}
}

// check fails the test unless the answer has the status and X-Cache.
func (a *apiServer) check(what string, ans apiAnswer, status int, xcache string) {
	a.t.Helper()
	if ans.status != status || ans.header.Get("X-Cache") != xcache {
		a.t.Fatalf("%s: status %d X-Cache %q, want %d %q; body %s", what, ans.status, ans.header.Get("X-Cache"), status, xcache, ans.body)
	}
}

func TestThroughTheEngine(t *testing.T) {
	a := startAPI(t)
	created := a.do("POST", "/v1/products.json", map[string]any{
		"sku": "tee-1", "name": "Tee", "price": 10,
		"hidden_metafields": []any{map[string]any{"_id": "aaaaaaaaaaaaaaaaaaaaaaaa", "field": "cost", "value": "secret-cost"}},
	}, true)
	a.check("create", created, 201, "")
	var id struct {
		ID string `json:"_id"`
	}
	_ = json.Unmarshal(created.body, &id)
	doc := "/v1/products/" + id.ID + ".json"

	miss := a.do("GET", doc, nil, false)
	a.check("first public GET", miss, 200, "MISS")
	if bytes.Contains(miss.body, []byte("secret-cost")) {
		t.Fatalf("public answer shows hidden_metafields: %s", miss.body)
	}
	before := a.reads.reads.Load()
	hit := a.do("GET", doc, nil, false)
	a.check("second public GET", hit, 200, "HIT")
	a.check("path form", a.do("GET", "/1000"+doc, nil, false), 200, "HIT")
	if n := a.reads.reads.Load() - before; n != 0 {
		t.Errorf("hits read the database %d times", n)
	}
	if !bytes.Equal(hit.body, miss.body) || hit.header.Get("ETag") != miss.header.Get("ETag") ||
		hit.header.Get("Cache-Control") != "public, max-age=30" {
		t.Errorf("hit differs: %s %q %q", hit.body, hit.header.Get("ETag"), hit.header.Get("Cache-Control"))
	}
	a.check("conditional hit", a.do("GET", doc, nil, false, "If-None-Match", hit.header.Get("ETag")), 304, "HIT")

	// The admin sees everything, bypassing the cache, and that answer is not stored.
	full := a.do("GET", doc, nil, true)
	a.check("admin GET", full, 200, "")
	if !bytes.Contains(full.body, []byte("secret-cost")) || !strings.Contains(full.header.Get("Cache-Control"), "no-store") {
		t.Fatalf("admin answer: %s, Cache-Control %q", full.body, full.header.Get("Cache-Control"))
	}
	if again := a.do("GET", doc, nil, false); bytes.Contains(again.body, []byte("secret-cost")) {
		t.Fatalf("private field leaked into the shared cache: %s", again.body)
	}

	// Lists and subresources are cached and refreshed by writes alike.
	list := "/v1/products.json?fields=sku,price"
	a.check("list", a.do("GET", list, nil, false), 200, "MISS")
	a.check("list again", a.do("GET", list, nil, false), 200, "HIT")
	a.check("add variation", a.do("POST", "/v1/products/"+id.ID+"/variations.json",
		map[string]any{"name": "Blue", "sku": "tee-1-b", "specifications": map[string]any{"colors": []any{map[string]any{"text": "Blue"}}}}, true), 201, "")
	vars := "/v1/products/" + id.ID + "/variations.json"
	a.check("variations", a.do("GET", vars, nil, false), 200, "MISS")
	a.check("variations again", a.do("GET", vars, nil, false), 200, "HIT")

	// Every write refreshes the store at once.
	a.check("patch", a.do("PATCH", doc, map[string]any{"price": 25}, true), 204, "")
	fresh := a.do("GET", doc, nil, false)
	a.check("after the patch", fresh, 200, "MISS")
	var p struct {
		Price float64 `json:"price"`
	}
	_ = json.Unmarshal(fresh.body, &p)
	if p.Price != 25 {
		t.Errorf("price %v after the patch, want 25", p.Price)
	}
	a.check("list after the patch", a.do("GET", list, nil, false), 200, "MISS")
	a.check("variations after the patch", a.do("GET", vars, nil, false), 200, "MISS")
	a.check("old ETag after the patch", a.do("GET", doc, nil, false, "If-None-Match", hit.header.Get("ETag")), 200, "HIT")

	a.check("delete", a.do("DELETE", doc, nil, true), 204, "")
	a.check("after the delete", a.do("GET", doc, nil, false), 404, "")
	a.check("still gone", a.do("GET", doc, nil, false), 404, "")

	// X-Cache-Tag: straight to the engine, not browser-cacheable.
	tagged := a.do("GET", list, nil, false, "X-Cache-Tag", "now")
	a.check("tagged", tagged, 200, "")
	if tagged.header.Get("Cache-Control") != "no-store" {
		t.Errorf("tagged answer Cache-Control %q", tagged.header.Get("Cache-Control"))
	}
	// The schema (public, no ETag from the engine) gets one from the cache.
	schema := a.do("GET", "/v1/products/schema.json", nil, false, "Accept-Encoding", "identity")
	a.check("schema", schema, 200, "MISS")
	if tag := schema.header.Get("ETag"); tag == "" || a.do("GET", "/v1/products/schema.json", nil, false, "If-None-Match", tag).status != 304 {
		t.Errorf("schema ETag %q does not revalidate", tag)
	}
	if n, _ := strconv.Atoi(schema.header.Get("Content-Length")); n != len(schema.body) {
		t.Errorf("schema Content-Length %d for %d bytes", n, len(schema.body))
	}
}
