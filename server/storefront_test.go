package server

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPublicCache(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		id := ts.create("products", map[string]any{"sku": "cached", "name": "Before",
			"hidden_metafields": []any{map[string]any{"_id": "5f0000000000000000000009", "value": "secret"}}})
		path := "/v1/products/" + id + ".json"
		first := ts.public("GET", path)
		second := ts.public("GET", path)
		if first.header.Get("X-Cache") != "MISS" || second.header.Get("X-Cache") != "HIT" {
			t.Fatalf("X-Cache: first %q, second %q; want MISS then HIT", first.header.Get("X-Cache"), second.header.Get("X-Cache"))
		}
		if string(first.raw) != string(second.raw) || second.header.Get("ETag") != first.header.Get("ETag") {
			t.Errorf("a hit answers differently from the miss")
		}
		if !strings.Contains(second.header.Get("Cache-Control"), "public") {
			t.Errorf("public Cache-Control: %q", second.header.Get("Cache-Control"))
		}
		// The path form shares the store's cache and freshness.
		ts.do(req{method: "GET", path: "/1000/v1/products/" + id + ".json"})
		// An authenticated GET is never answered from, nor stored in, the shared cache,
		// and its private fields never reach a public answer.
		authed := ts.admin("GET", path, nil)
		if authed.header.Get("X-Cache") == "HIT" || !strings.Contains(authed.header.Get("Cache-Control"), "no-store") {
			t.Errorf("authenticated GET: X-Cache %q Cache-Control %q", authed.header.Get("X-Cache"), authed.header.Get("Cache-Control"))
		}
		if strings.Contains(string(ts.public("GET", path).raw), "secret") {
			t.Errorf("a private field leaked into the public cache")
		}
		// X-Cache-Tag bypasses the shared cache and is not browser-cacheable.
		tagged := ts.do(req{method: "GET", path: path, store: 1000, headers: map[string]string{"X-Cache-Tag": "1"}})
		if tagged.header.Get("X-Cache") == "HIT" || !strings.Contains(tagged.header.Get("Cache-Control"), "no-store") {
			t.Errorf("X-Cache-Tag: X-Cache %q Cache-Control %q", tagged.header.Get("X-Cache"), tagged.header.Get("Cache-Control"))
		}
		// Any write to the store makes every later GET fresh at once: documents, lists,
		// the path form, subresources.
		list := "/v1/products.json?fields=name"
		ts.public("GET", list)
		ts.public("GET", "/v1/products/"+id+"/variations.json")
		mustStatus(t, "PATCH", ts.admin("PATCH", path, map[string]any{"name": "After"}), 204)
		if got := ts.public("GET", path); got.body["name"] != "After" || got.header.Get("X-Cache") == "HIT" {
			t.Errorf("after PATCH the cache answered %q (%s)", got.body["name"], got.header.Get("X-Cache"))
		}
		if got := ts.do(req{method: "GET", path: "/1000/v1/products/" + id + ".json"}); got.body["name"] != "After" {
			t.Errorf("path form after PATCH: %s", got.raw)
		}
		if got := ts.public("GET", list); !strings.Contains(string(got.raw), "After") {
			t.Errorf("list after PATCH: %s", got.raw)
		}
		mustStatus(t, "POST variation", ts.admin("POST", "/v1/products/"+id+"/variations.json", variation("v", 1)), 201)
		if got := ts.public("GET", "/v1/products/"+id+"/variations.json"); got.body["meta"].(map[string]any)["count"].(float64) != 1 {
			t.Errorf("variations after POST: %s", got.raw)
		}
		mustStatus(t, "DELETE", ts.admin("DELETE", path, nil), 204)
		checkErrorBody(t, "GET after DELETE", ts.public("GET", path), 404, -44)
		// A write to another store leaves this store's answers cached.
		other := ts.create("products", product("stay", 1))
		ts.public("GET", "/v1/products/"+other+".json")
		ts.createStore(3001)
		if got := ts.public("GET", "/v1/products/"+other+".json"); got.header.Get("X-Cache") != "HIT" {
			t.Errorf("a write to another store evicted this store's answer")
		}
	})
}

func TestConditionalAndGzip(t *testing.T) {
	ts := startServer(t, "sqlite")
	p := product("gz", 1)
	p["body_html"] = strings.Repeat("<p>long description</p>", 200)
	id := ts.create("products", p)
	path := "/v1/products/" + id + ".json"
	first := ts.public("GET", path)
	for _, hit := range []bool{false, true} {
		a := ts.do(req{method: "GET", path: path, store: 1000, headers: map[string]string{"If-None-Match": first.header.Get("ETag")}})
		if a.status != http.StatusNotModified || len(a.raw) != 0 {
			t.Errorf("If-None-Match (hit=%v): %d %q", hit, a.status, a.raw)
		}
	}
	hr, _ := http.NewRequest("GET", ts.base+path, nil)
	hr.Header.Set("X-Store-ID", "1000")
	hr.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip: Content-Encoding %q Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != string(first.raw) {
		t.Errorf("gzip body differs from the plain answer")
	}
}

func TestRateLimits(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.RateUncached = 2
	cfg.RateCached = 4
	ts := startWithConfig(t, cfg)
	// 20 at once at 2/s (the login spent the burst): two wait their turn (up to a
	// second), the rest are refused.
	answers := make(chan answer, 20)
	start := time.Now()
	for i := 0; i < 20; i++ {
		go func() {
			answers <- ts.do(req{method: "GET", path: "/v1/products.json", store: 1000, headers: map[string]string{"X-Cache-Tag": fmt.Sprint(i)}})
		}()
	}
	statuses := map[int]int{}
	var rejected answer
	for i := 0; i < 20; i++ {
		a := <-answers
		statuses[a.status]++
		if a.status == 503 {
			rejected = a
		}
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if a.header.Get(h) == "" {
				t.Errorf("a %d answer lacks %s", a.status, h)
			}
		}
	}
	if statuses[503] == 0 || statuses[200] < 2 {
		t.Fatalf("20 uncached GETs at once at 2/s: %v; want some served (delayed) and some refused", statuses)
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Errorf("no request was delayed before the refusals")
	}
	checkErrorBody(t, "over the limit", rejected, 503, -53)
	if rejected.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	// /health and /metrics are off the limits.
	for i := 0; i < 5; i++ {
		mustStatus(t, "health", ts.do(req{method: "GET", path: "/health"}), 200)
	}
	m := ts.do(req{method: "GET", path: "/metrics"})
	mustStatus(t, "metrics", m, 200)
	for _, name := range []string{"storeapi_http_requests_total", "storeapi_rate_limited_total", "storeapi_cache_lookups_total", "storeapi_db_operation_duration_seconds"} {
		if !strings.Contains(string(m.raw), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestTwoNodesOneDatabase(t *testing.T) {
	cfg := testConfig(t, "mongodb")
	cfg.CachePoll = 100 * time.Millisecond
	cfg.Secret = strings.Repeat("s", 32) // nodes sharing a database share the secret
	a := startWithConfig(t, cfg)
	cfgB := cfg
	cfgB.DataDir = t.TempDir()
	copyFile(t, filepath.Join(cfg.DataDir, "bootstrap.json"), filepath.Join(cfgB.DataDir, "bootstrap.json"))
	b := startWithConfig(t, cfgB)
	id := a.create("products", product("two-nodes", 1))
	path := "/v1/products/" + id + ".json"
	if got := b.public("GET", path); got.body["name"] != "Product two-nodes" {
		t.Fatalf("node B: %s", got.raw)
	}
	b.public("GET", path) // now cached on B
	mustStatus(t, "PATCH on A", a.admin("PATCH", path, map[string]any{"name": "changed on A"}), 204)
	deadline := time.Now().Add(5 * time.Second)
	var seenAfter time.Duration
	start := time.Now()
	for {
		if b.public("GET", path).body["name"] == "changed on A" {
			seenAfter = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B still answers the old document 5 s after the write on A")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("node B saw node A's write after %v (poll 100ms)", seenAfter)
}

// copyFile copies a file for a test.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
