package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"storeapi/db"
	"storeapi/db/sqlite"
	"storeapi/middleware"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"/v1/products.json", ClassList},
		{"/v1/products", ClassList},
		{"/v1/products/", ClassList},
		{"/v1/products/0123456789abcdef01234567.json", ClassDocument},
		{"/v1/stores/me.json", ClassDocument},
		{"/v1/products/0123456789abcdef01234567/variations.json", ClassSubresource},
		{"/v1/products/0123456789abcdef01234567/variations/0123456789abcdef01234568/quantity.json", ClassSubresource},
		{"/v1/products/schema.json", ClassSpecial},
		{"/v1/_login.json", ClassSpecial},
		{"/v1/$count.json", ClassSpecial},
		{"/v1/", ClassSpecial},
		{"/v1", ClassSpecial},
		{"/1000/v1/products.json", ClassList},
		{"/1000/v1/products/0123456789abcdef01234567.json", ClassDocument},
		{"/sandbox/v1/products.json", ClassList},
		{"/sandbox/1000/v1/brands/0123456789abcdef01234567.json", ClassDocument},
		{"/sandbox/v1/_sandbox.json", ClassSpecial},
		{"/metrics", ClassOther},
		{"/health", ClassOther},
		{"/", ClassOther},
		{"", ClassOther},
		{"/v1x/products.json", ClassOther},
		{"/x1/v1/products.json", ClassOther},
		{"/v1//", ClassOther},
		{"/v2/products.json", ClassOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.path); got != tt.want {
			t.Errorf("Classify(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"/v1/products.json", "/1/v1/a/b/c/d", "/sandbox/", "/v1/.json", "//v1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got := Classify(path)
		found := false
		for _, c := range classes {
			found = found || c == got
		}
		if !found {
			t.Fatalf("Classify(%q) = %q, not a class", path, got)
		}
		if !strings.Contains(path, "v1") && got != ClassOther {
			t.Fatalf("Classify(%q) = %q outside the API", path, got)
		}
	})
}

// scrape returns the registry's text exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("/metrics answered %d", w.Code)
	}
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

// wantLines fails unless every line is in the exposition.
func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("metrics lack %q", l)
		}
	}
}

func TestMiddleware(t *testing.T) {
	m := New()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "panic"):
			panic("boom")
		case strings.HasSuffix(r.URL.Path, "/missing.json"):
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{}`))
		default:
			_, _ = w.Write([]byte(`{}`)) // implicit 200
		}
	})
	h := middleware.Chain(app, m.Middleware, middleware.Recover(nil))
	send := func(method, path string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	send("GET", "/v1/products/0123456789abcdef01234567.json")
	send("GET", "/1000/v1/products/0123456789abcdef01234567.json")
	send("GET", "/v1/products.json")
	send("POST", "/v1/products.json")
	send("GET", "/v1/products/0123456789abcdef01234567/missing.json")
	send("GET", "/v1/panic/0123456789abcdef01234567.json")
	send("GET", "/health")
	text := scrape(t, m)
	wantLines(t, text,
		`storeapi_http_requests_total{class="document",code="200"} 2`,
		`storeapi_http_requests_total{class="document",code="500"} 1`,
		`storeapi_http_requests_total{class="list",code="200"} 1`,
		`storeapi_http_requests_total{class="list",code="201"} 1`,
		`storeapi_http_requests_total{class="subresource",code="404"} 1`,
		`storeapi_http_requests_total{class="other",code="200"} 1`,
		`storeapi_http_request_duration_seconds_count{class="document"} 3`,
		`storeapi_http_requests_in_flight 0`,
	)
	if !strings.Contains(text, "go_goroutines") || !strings.Contains(text, "process_") {
		t.Error("the runtime and process collectors are missing")
	}
}

func TestHooks(t *testing.T) {
	m := New()
	for _, hit := range []bool{true, true, false} {
		m.CacheLookup(hit)
	}
	m.RateLimited(middleware.LimitCached, false)
	m.RateLimited(middleware.LimitUncached, true)
	m.RateLimited(middleware.LimitUncached, true)
	m.DatabaseError("find")
	if err := m.GaugeFunc("storeapi_cache_entries", "Answers in the response cache.", func() float64 { return 42 }); err != nil {
		t.Fatal(err)
	}
	if err := m.GaugeFunc("storeapi_cache_entries", "again", func() float64 { return 0 }); err == nil {
		t.Error("a gauge registered twice")
	}
	wantLines(t, scrape(t, m),
		`storeapi_cache_lookups_total{result="hit"} 2`,
		`storeapi_cache_lookups_total{result="miss"} 1`,
		`storeapi_rate_limited_total{action="delayed",limit="cached"} 1`,
		`storeapi_rate_limited_total{action="rejected",limit="uncached"} 2`,
		`storeapi_db_errors_total{op="find"} 1`,
		`storeapi_cache_entries 42`,
	)
}

func TestWrapStore(t *testing.T) {
	m := New()
	inner, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	s := WrapStore(inner, m)
	defer s.Close(context.Background())
	ctx := t.Context()
	id := db.NewID()
	if err := s.Insert(ctx, "products", db.Doc{"_id": id, "store_id": int64(5)}); err != nil {
		t.Fatal(err)
	}
	// Answers, not failures:
	_, _ = s.Get(ctx, "products", 5, db.NewID())                                                            // not found
	_ = s.Insert(ctx, "products", db.Doc{"_id": id, "store_id": int64(5)})                                  // duplicate
	_, _ = s.Update(ctx, "products", 5, id, func(db.Doc) (db.Doc, error) { return nil, errors.New("412") }) // the caller's own
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = s.Find(canceled, "products", db.Query{StoreID: 5, Limit: 1}) // the client went away
	// Failures:
	_ = s.Insert(ctx, "products", db.Doc{"store_id": int64(5)}) // no _id
	_, _ = s.Get(ctx, "bad collection!", 5, id)                 // invalid name
	if n, err := s.Count(ctx, "products", 5, nil); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	text := scrape(t, m)
	wantLines(t, text,
		`storeapi_db_errors_total{op="insert"} 1`,
		`storeapi_db_errors_total{op="get"} 1`,
		`storeapi_db_errors_total{op="update"} 0`,
		`storeapi_db_errors_total{op="find"} 0`,
		`storeapi_db_operation_duration_seconds_count{op="insert"} 3`,
		`storeapi_db_operation_duration_seconds_count{op="count"} 1`,
	)
}

func BenchmarkMiddleware(b *testing.B) {
	m := New()
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	r := httptest.NewRequest("GET", "/v1/products/0123456789abcdef01234567.json", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
