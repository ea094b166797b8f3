package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"storeapi/db"
	"storeapi/sandbox"
)

// sandboxConfig is testConfig with the sandbox on.
func sandboxConfig(t testing.TB, engine string) Config {
	cfg := testConfig(t, engine)
	cfg.Sandbox = SandboxOn
	return cfg
}

// openSandbox opens a sandbox store through POST /sandbox/v1/_sandbox.json.
func (ts *testServer) openSandbox(seed bool, headers map[string]string) sandbox.Opened {
	ts.t.Helper()
	var body any
	if seed {
		body = map[string]any{"seed": true}
	}
	a := ts.do(req{method: "POST", path: "/sandbox/v1/_sandbox.json", body: body, headers: headers})
	mustStatus(ts.t, "open a sandbox store", a, http.StatusCreated)
	var o sandbox.Opened
	if err := json.Unmarshal(a.raw, &o); err != nil {
		ts.t.Fatal(err)
	}
	return o
}

// loginAt runs _login and _authenticate under prefix ("" or "/sandbox") and returns
// the access token.
func (ts *testServer) loginAt(prefix string, storeID int64, username, password string) string {
	ts.t.Helper()
	a := ts.do(req{method: "POST", path: prefix + "/v1/_login.json", store: storeID,
		body: map[string]any{"username": username, "pass_md5_hash": md5hex(password)}})
	mustStatus(ts.t, prefix+" login", a, 200)
	a = ts.do(req{method: "POST", path: prefix + "/v1/_authenticate.json", store: storeID,
		body: map[string]any{"_id": a.body["_id"], "api_key": a.body["api_key"]}})
	mustStatus(ts.t, prefix+" authenticate", a, 200)
	token, _ := a.body["access_token"].(string)
	return token
}

// sandboxAdmin is a logged-in sandbox store admin.
type sandboxAdmin struct {
	ts    *testServer
	o     sandbox.Opened
	token string
}

// do sends r as the sandbox admin, under /sandbox.
func (sa sandboxAdmin) do(method, path string, body any) answer {
	sa.ts.t.Helper()
	return sa.ts.do(req{method: method, path: "/sandbox" + path, store: sa.o.StoreID, token: sa.token, myID: sa.o.AuthenticationID, body: body})
}

func TestSandboxAPI(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			ts := startWithConfig(t, sandboxConfig(t, engine))
			testSandboxAPI(t, ts)
		})
	}
}

func testSandboxAPI(t *testing.T, ts *testServer) {
	// Every sandbox answer says so; production answers do not.
	root := ts.do(req{method: "GET", path: "/sandbox/v1/"})
	mustStatus(t, "GET /sandbox/v1/", root, http.StatusAccepted)
	if root.header.Get("X-Sandbox") != "true" {
		t.Errorf("sandbox root without X-Sandbox: %v", root.header)
	}
	if got := ts.do(req{method: "GET", path: "/v1/"}); got.header.Get("X-Sandbox") != "" {
		t.Errorf("production answer with X-Sandbox")
	}
	for _, r := range []req{
		{method: "GET", path: "/sandbox/nothing"},
		{method: "GET", path: "/sandbox/v1/products.json"},            // no store: 417
		{method: "GET", path: "/sandbox/v1/products.json", store: 77}, // no such sandbox store: 412
		{method: "GET", path: "/sandbox/v1/_sandbox.json"},            // 405
	} {
		a := ts.do(r)
		if a.status < 400 || a.header.Get("X-Sandbox") != "true" || a.body["error_code"] == nil {
			t.Errorf("%s %s: got %d %v %s, want an error answer marked X-Sandbox", r.method, r.path, a.status, a.header, a.raw)
		}
	}
	checkErrorBody(t, "production has no _sandbox", ts.do(req{method: "POST", path: "/v1/_sandbox.json"}), 404, float64(-44))

	// Open a store with seed data: the sandbox's first store has the id of production's
	// bootstrap store, 1000, which makes every check below one of isolation too.
	o := ts.openSandbox(true, nil)
	if o.StoreID != ts.boot.StoreID || o.AuthenticationID == ts.boot.AuthenticationID || o.APIKey == "" || o.Password == "" {
		t.Fatalf("opened %+v (production %+v)", o, ts.boot)
	}
	exp, err1 := time.Parse(time.RFC3339, o.ExpiresAt)
	created, err2 := time.Parse(time.RFC3339, o.CreatedAt)
	if err1 != nil || err2 != nil || exp.Sub(created) != sandbox.DefaultMaxAge {
		t.Errorf("created_at %s expires_at %s: not 7 days apart", o.CreatedAt, o.ExpiresAt)
	}
	if len(o.Seed["products"]) != 3 || len(o.Seed["orders"]) != 1 || len(o.Seed["customers"]) != 1 {
		t.Fatalf("seed ids %v", o.Seed)
	}
	seedProduct := o.Seed["products"][0]

	// The seed through both bases, publicly.
	list := ts.do(req{method: "GET", path: "/sandbox/1000/v1/products.json"})
	mustStatus(t, "sandbox public list", list, 200)
	if n := len(list.body["result"].([]any)); n != 3 || list.header.Get("X-Sandbox") != "true" {
		t.Errorf("sandbox list: %d products, X-Sandbox %q", n, list.header.Get("X-Sandbox"))
	}
	mustStatus(t, "seed product by X-Store-ID", ts.do(req{method: "GET", path: "/sandbox/v1/products/" + seedProduct + ".json", store: 1000}), 200)
	mustStatus(t, "seed product in production", ts.public("GET", "/v1/products/"+seedProduct+".json"), 404)
	mustStatus(t, "seed product through production's cache base", ts.do(req{method: "GET", path: "/1000/v1/products/" + seedProduct + ".json"}), 404)

	// Log in through the sandbox's _login and _authenticate, then write and read.
	sa := sandboxAdmin{ts: ts, o: o, token: ts.loginAt("/sandbox", o.StoreID, o.Username, o.Password)}
	me := sa.do("GET", "/v1/authentications/me.json", nil)
	mustStatus(t, "sandbox authentications/me", me, 200)
	if me.body["_id"] != o.AuthenticationID {
		t.Errorf("sandbox authentications/me: %s", me.raw)
	}
	created1 := sa.do("POST", "/v1/products.json", map[string]any{"sku": "same-sku", "name": "Sandbox twin", "price": 1})
	mustStatus(t, "sandbox POST", created1, 201)
	id := created1.body["_id"].(string)
	if loc := created1.header.Get("Location"); loc != "/sandbox/v1/products/"+id+".json" {
		t.Errorf("sandbox Location %q", loc)
	}
	prodID := ts.create("products", map[string]any{"sku": "same-sku", "name": "Production twin", "price": 2})
	if got := ts.admin("POST", "/v1/products.json", product("p2", 1)).header.Get("Location"); !strings.HasPrefix(got, "/v1/") {
		t.Errorf("production Location %q", got)
	}
	mustStatus(t, "PATCH in the sandbox", sa.do("PATCH", "/v1/products/"+id+".json", map[string]any{"price": 3}), 204)
	viaCache := ts.do(req{method: "GET", path: "/sandbox/1000/v1/products/" + id + ".json"})
	mustStatus(t, "sandbox cache base", viaCache, 200)
	if viaCache.body["price"] != 3.0 || viaCache.body["name"] != "Sandbox twin" {
		t.Errorf("sandbox cache base: %s", viaCache.raw)
	}

	// The same store id, the same address, two caches: each environment answers its own
	// document, the second time (from its cache) too.
	for i := range 2 {
		p := ts.do(req{method: "GET", path: "/1000/v1/products.json?sku=same-sku&fields=name"})
		s := ts.do(req{method: "GET", path: "/sandbox/1000/v1/products.json?sku=same-sku&fields=name"})
		pr, _ := p.body["result"].([]any)
		sr, _ := s.body["result"].([]any)
		if len(pr) != 1 || len(sr) != 1 || pr[0].(map[string]any)["_id"] != prodID || sr[0].(map[string]any)["_id"] != id {
			t.Fatalf("same sku in store 1000:\nproduction %s\nsandbox %s", p.raw, s.raw)
		}
		if i == 1 && (s.header.Get("X-Cache") != "HIT" || p.header.Get("X-Cache") != "HIT") {
			t.Errorf("second list GETs not from the caches: sandbox %q, production %q", s.header.Get("X-Cache"), p.header.Get("X-Cache"))
		}
		if s.header.Get("X-Sandbox") != "true" || p.header.Get("X-Sandbox") != "" {
			t.Errorf("X-Sandbox on the list answers (X-Cache %s): sandbox %q, production %q",
				s.header.Get("X-Cache"), s.header.Get("X-Sandbox"), p.header.Get("X-Sandbox"))
		}
	}
	// A sandbox write leaves production's cached answers alone, and the other way round.
	mustStatus(t, "sandbox PATCH", sa.do("PATCH", "/v1/products/"+id+".json", map[string]any{"name": "Sandbox renamed"}), 204)
	if p := ts.do(req{method: "GET", path: "/1000/v1/products/" + prodID + ".json"}); p.body["name"] != "Production twin" {
		t.Errorf("production after a sandbox write: %s", p.raw)
	}
	if s := ts.do(req{method: "GET", path: "/sandbox/1000/v1/products/" + id + ".json"}); s.body["name"] != "Sandbox renamed" {
		t.Errorf("sandbox after its write: %s", s.raw)
	}

	// Tokens: each environment refuses the other's, whichever way the store is named.
	for _, r := range []req{
		{method: "POST", path: "/sandbox/v1/products.json", store: 1000, token: ts.token, myID: ts.boot.AuthenticationID, body: product("x1", 1)},
		{method: "GET", path: "/sandbox/1000/v1/orders.json", token: ts.token, myID: ts.boot.AuthenticationID},
		{method: "POST", path: "/v1/products.json", store: 1000, token: sa.token, myID: o.AuthenticationID, body: product("x2", 1)},
		{method: "GET", path: "/1000/v1/orders.json", token: sa.token, myID: o.AuthenticationID},
		{method: "GET", path: "/v1/authentications/me.json", store: 1000, token: sa.token, myID: o.AuthenticationID},
	} {
		checkErrorBody(t, r.method+" "+r.path+" with the other environment's token", ts.do(r), 401, float64(102))
	}
	// Credentials too: the sandbox admin cannot log in to production and vice versa.
	for _, r := range []req{
		{method: "POST", path: "/v1/_login.json", store: 1000, body: map[string]any{"username": "admin", "pass_md5_hash": md5hex(o.Password)}},
		{method: "POST", path: "/sandbox/v1/_login.json", store: 1000, body: map[string]any{"username": "admin", "pass_md5_hash": md5hex(ts.boot.Password)}},
		{method: "POST", path: "/sandbox/v1/_authenticate.json", store: 1000, body: map[string]any{"_id": ts.boot.AuthenticationID, "api_key": ts.boot.APIKey}},
	} {
		checkErrorBody(t, r.path+" with the other environment's credentials", ts.do(r), 401, float64(102))
	}
	// Orders and customers of the seed are private in the sandbox as in production.
	mustStatus(t, "sandbox orders without a token", ts.do(req{method: "GET", path: "/sandbox/v1/orders.json", store: 1000}), 401)
	orders := sa.do("GET", "/v1/orders.json", nil)
	mustStatus(t, "sandbox orders", orders, 200)
	if n := len(orders.body["result"].([]any)); n != 1 {
		t.Errorf("sandbox orders: %d", n)
	}
	if p := ts.admin("GET", "/v1/orders.json", nil); len(p.body["result"].([]any)) != 0 {
		t.Errorf("production orders: %s", p.raw)
	}
	mustStatus(t, "sandbox DELETE", sa.do("DELETE", "/v1/products/"+id+".json", nil), 204)
	mustStatus(t, "production twin after the sandbox DELETE", ts.public("GET", "/v1/products/"+prodID+".json"), 200)
	// Encoded paths keep working under the prefix (RawPath is stripped too).
	mustStatus(t, "escaped path", ts.do(req{method: "GET", path: "/sandbox/1000/v1/products%2ejson"}), 200)
}

func TestSandboxOpenLimits(t *testing.T) {
	cfg := sandboxConfig(t, "sqlite")
	cfg.SandboxOpenRate = 2
	cfg.SandboxMaxStores = 3
	cfg.TrustedProxies = "127.0.0.1" // the test names its clients in X-Forwarded-For
	ts := startWithConfig(t, cfg)
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	ts.openSandbox(false, from("198.51.100.1"))
	ts.openSandbox(false, from("198.51.100.1"))
	a := ts.do(req{method: "POST", path: "/sandbox/v1/_sandbox.json", headers: from("198.51.100.1")})
	checkErrorBody(t, "third store from one address within the hour", a, http.StatusTooManyRequests, sandbox.CodeRateLimited)
	// 2 an hour: the next one in 30 minutes (a second less if the clock moved on).
	if ra, _ := strconv.Atoi(a.header.Get("Retry-After")); ra < 1790 || ra > 1800 || a.header.Get("X-Sandbox") != "true" {
		t.Errorf("429 headers: %v", a.header)
	}
	ts.openSandbox(true, from("198.51.100.2"))
	a = ts.do(req{method: "POST", path: "/sandbox/v1/_sandbox.json", headers: from("198.51.100.3")})
	checkErrorBody(t, "a fourth live store", a, http.StatusServiceUnavailable, sandbox.CodeFull)
	if ra, _ := strconv.Atoi(a.header.Get("Retry-After")); ra < 7*24*3600-60 || ra > 7*24*3600 {
		t.Errorf("Retry-After %q, want about 7 days (when the oldest store expires)", a.header.Get("Retry-After"))
	}
	m := ts.do(req{method: "GET", path: "/metrics"})
	for _, want := range []string{`storeapi_sandbox_opens_total{outcome="opened"} 3`, `storeapi_sandbox_opens_total{outcome="rate_limited"} 1`,
		`storeapi_sandbox_opens_total{outcome="full"} 1`} {
		if !strings.Contains(string(m.raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestSandboxPurge(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			cfg := sandboxConfig(t, engine)
			// Long enough for the first generation's set-up to finish well inside it on a
			// slow machine (under -race it takes over a second).
			cfg.SandboxMaxAge = 4 * time.Second
			cfg.SandboxPurgeInterval = 100 * time.Millisecond
			testSandboxPurge(t, startWithConfig(t, cfg))
		})
	}
}

func testSandboxPurge(t *testing.T, ts *testServer) {
	ctx := context.Background()
	raw := ts.srv.sandbox.st.raw
	maxAge := ts.cfg.SandboxMaxAge
	type doc struct {
		coll string
		id   string
	}
	get := func(d doc, storeID int64) bool {
		t.Helper()
		_, err := raw.Get(ctx, d.coll, storeID, d.id)
		if errors.Is(err, db.ErrNotFound) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	}

	// First generation: a seeded store, a product and a second admin written through the API.
	o := ts.openSandbox(true, nil)
	sa := sandboxAdmin{ts: ts, o: o, token: ts.loginAt("/sandbox", o.StoreID, o.Username, o.Password)}
	a := sa.do("POST", "/v1/products.json", product("first", 1))
	mustStatus(t, "sandbox POST", a, 201)
	first := []doc{{"products", a.body["_id"].(string)}, {"authentications", o.AuthenticationID}, {"credentials", o.AuthenticationID}}
	for coll, ids := range o.Seed {
		for _, id := range ids {
			first = append(first, doc{coll, id})
		}
	}
	storeDoc := sa.do("GET", "/v1/stores/me.json", nil)
	mustStatus(t, "sandbox stores/me", storeDoc, 200)
	first = append(first, doc{"stores", storeDoc.body["_id"].(string)})
	// Production, same store id: never purged.
	prod := ts.create("products", product("prod", 1))

	// Kept whatever the time: no created_at, or created_at in the future.
	future := timestampOf(time.Now().Add(time.Hour))
	keep := []doc{{"products", db.NewID()}, {"products", db.NewID()}}
	if err := raw.Insert(ctx, "products", db.Doc{"_id": keep[0].id, "store_id": int64(5), "sku": "no-created-at"}); err != nil {
		t.Fatal(err)
	}
	if err := raw.Insert(ctx, "products", db.Doc{"_id": keep[1].id, "store_id": int64(5), "sku": "future", "created_at": future}); err != nil {
		t.Fatal(err)
	}

	// Second generation, half the age after the store was opened, in the same store.
	opened, err := time.Parse(time.RFC3339, o.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(opened.Add(maxAge / 2)))
	a = sa.do("POST", "/v1/products.json", product("second", 1))
	mustStatus(t, "second sandbox POST", a, 201)
	second := doc{"products", a.body["_id"].(string)}
	secondAt := time.Now()

	// Wait for the first generation to go: polled, with a deadline.
	deadline := time.Now().Add(maxAge + 10*time.Second)
	for {
		gone := 0
		for _, d := range first {
			if !get(d, o.StoreID) {
				gone++
			}
		}
		if gone == len(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d first-generation documents still there %s after they expired", len(first)-gone, len(first), 10*time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checked := time.Now()
	if checked.Before(secondAt.Add(maxAge)) {
		// Still younger than MaxAge: it must be there.
		if !get(second, o.StoreID) {
			t.Errorf("a document %s old was purged (max age %s)", checked.Sub(secondAt), maxAge)
		}
	} else {
		t.Logf("the machine was too slow to check the second generation before it expired")
	}
	for _, d := range keep {
		if !get(d, 5) {
			t.Errorf("document %s without created_at or from the future was purged", d.id)
		}
	}
	if n, err := raw.Count(ctx, sandbox.CollOpened, 0, nil); err != nil || n != 0 {
		t.Errorf("%d records of opened stores left (%v)", n, err)
	}
	// The store is gone from the sandbox; production's store 1000 and its product stay.
	checkErrorBody(t, "the purged store", ts.do(req{method: "GET", path: "/sandbox/1000/v1/products.json"}), 412, float64(-42))
	mustStatus(t, "production store after the purge", ts.public("GET", "/v1/stores/me.json"), 200)
	mustStatus(t, "production product after the purge", ts.public("GET", "/v1/products/"+prod+".json"), 200)

	// The second generation goes in its turn; then the metric shows the counts.
	deadline = time.Now().Add(maxAge + 10*time.Second)
	for get(second, o.StoreID) {
		if time.Now().After(deadline) {
			t.Fatalf("the second-generation product is still there 10 s after it expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The metric is counted right after the delete: poll it as well.
	re := regexp.MustCompile(`storeapi_sandbox_purged_documents_total\{collection="products"\} (\d+)`)
	for {
		got := re.FindSubmatch(ts.do(req{method: "GET", path: "/metrics"}).raw)
		n := -1
		if got != nil {
			n, _ = strconv.Atoi(string(got[1]))
		}
		if n == 5 {
			break
		}
		if n > 5 || time.Now().After(deadline) {
			t.Fatalf("purged products metric %d, want 5 (3 seeded, 2 written)", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timestampOf writes t as the API stores times.
func timestampOf(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSandboxOwnListener(t *testing.T) {
	cfg := sandboxConfig(t, "sqlite")
	cfg.Sandbox = "127.0.0.1:0"
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	main := &testServer{t: t, cfg: cfg, srv: s, base: "http://" + s.Addr()}
	own := &testServer{t: t, cfg: cfg, srv: s, base: "http://" + s.sandbox.listener.Addr().String()}

	// Opened on its own listener, at the root; used from both listeners.
	a := own.do(req{method: "POST", path: "/v1/_sandbox.json"})
	mustStatus(t, "open on the sandbox listener", a, 201)
	if a.header.Get("X-Sandbox") != "true" {
		t.Errorf("own listener answer without X-Sandbox")
	}
	storeID := int64(a.body["store_id"].(float64))
	for _, tc := range []struct {
		ts   *testServer
		path string
	}{
		{own, "/v1/stores/me.json"}, {own, "/" + strconv.FormatInt(storeID, 10) + "/v1/stores/me.json"},
		{own, "/sandbox/v1/stores/me.json"}, {main, "/sandbox/v1/stores/me.json"},
	} {
		got := tc.ts.do(req{method: "GET", path: tc.path, store: storeID})
		mustStatus(t, tc.ts.base+tc.path, got, 200)
		if got.body["name"] != "Sandbox store" || got.header.Get("X-Sandbox") != "true" {
			t.Errorf("%s%s: %s", tc.ts.base, tc.path, got.raw)
		}
	}
	// Production stays on the main listener only.
	if got := main.do(req{method: "GET", path: "/v1/stores/me.json", store: 1000}); got.body["name"] != "My store" {
		t.Errorf("production store on the main listener: %s", got.raw)
	}
	mustStatus(t, "sandbox health", own.do(req{method: "GET", path: "/health"}), 200)
	mustStatus(t, "unknown path on the sandbox listener", own.do(req{method: "GET", path: "/nothing"}), 404)

	// The log says where the sandbox is.
	for _, want := range []string{"url=http://" + s.Addr() + "/sandbox/v1/", "own_url=http://" + s.sandbox.listener.Addr().String() + "/v1/", "_sandbox.json"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the start log does not say %q:\n%s", want, logs.String())
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "storeapi-sandbox.db")); err != nil {
		t.Errorf("sandbox database file: %v", err)
	}
}

func TestSandboxOff(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Sandbox = SandboxOff
	ts := startWithConfig(t, cfg)
	checkErrorBody(t, "sandbox off", ts.do(req{method: "POST", path: "/sandbox/v1/_sandbox.json"}), 404, float64(-44))
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "storeapi-sandbox.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sandbox off but its database exists (%v)", err)
	}
}

func TestSandboxConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(c Config) bool
		wantErr string
	}{
		{"defaults", nil, nil, func(c Config) bool {
			return c.Sandbox == "on" && c.SandboxEnabled() && c.SandboxAddr() == "" && c.SandboxMaxAge == 7*24*time.Hour &&
				c.SandboxPurgeInterval == time.Hour && c.SandboxOpenRate == 10 && c.SandboxMaxStores == 1000
		}, ""},
		{"environment", nil, map[string]string{"STOREAPI_SANDBOX": "127.0.0.1:3001", "STOREAPI_SANDBOX_MAX_AGE": "2d",
			"STOREAPI_SANDBOX_PURGE_INTERVAL": "10m", "STOREAPI_SANDBOX_OPEN_RATE": "0", "STOREAPI_SANDBOX_MAX_STORES": "5"},
			func(c Config) bool {
				return c.SandboxEnabled() && c.SandboxAddr() == "127.0.0.1:3001" && c.SandboxMaxAge == 48*time.Hour &&
					c.SandboxPurgeInterval == 10*time.Minute && c.SandboxOpenRate == 0 && c.SandboxMaxStores == 5
			}, ""},
		{"flags over environment", []string{"--sandbox", "off", "--sandbox-max-age", "2s"}, map[string]string{"STOREAPI_SANDBOX": "on"},
			func(c Config) bool { return !c.SandboxEnabled() && c.SandboxMaxAge == 2*time.Second }, ""},
		{"not an address", []string{"--sandbox", "yes"}, nil, nil, "sandbox"},
		{"bad age", []string{"--sandbox-max-age", "seven days"}, nil, nil, "sandbox-max-age"},
		{"negative interval", []string{"--sandbox-purge-interval", "-1h"}, nil, nil, "sandbox"},
		{"bad rate", nil, map[string]string{"STOREAPI_SANDBOX_OPEN_RATE": "many"}, nil, "sandbox-open-rate"},
		{"negative cap", []string{"--sandbox-max-stores", "-1"}, nil, nil, "sandbox-max-stores"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.want(c) {
				t.Fatalf("got %+v, %v", c, err)
			}
		})
	}
}
