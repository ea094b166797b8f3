package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"storeapi/auth"
	"storeapi/db/embedded"
)

// The integration suite runs every scenario against both engines: SQLite directly, and
// the MongoDB engine against an embedded FerretDB (the MongoDB-wire test server).

// ferret is the one FerretDB of this test binary, started on first use.
var ferret struct {
	once sync.Once
	srv  *embedded.Server
	err  error
	n    atomic.Int64
}

// ferretURI returns the URI of the shared FerretDB.
func ferretURI(t testing.TB) string {
	ferret.once.Do(func() {
		dir, err := os.MkdirTemp("", "storeapi-ferret-")
		if err != nil {
			ferret.err = err
			return
		}
		ferret.srv, ferret.err = embedded.Start(context.Background(), dir, slog.New(slog.DiscardHandler))
	})
	if ferret.err != nil {
		t.Fatalf("starting FerretDB: %v", ferret.err)
	}
	return ferret.srv.URI()
}

// TestMain stops the shared FerretDB after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if ferret.srv != nil {
		ferret.srv.Stop()
	}
	os.Exit(code)
}

// engines are the storage engines every integration scenario runs on.
var engines = []string{"sqlite", "mongodb"}

// testServer is a running server and what a test needs to speak to it.
type testServer struct {
	t    testing.TB
	cfg  Config
	srv  *Server
	base string
	boot auth.Bootstrap
	// token is the admin's access token of the first store.
	token string
	stop  func()
}

// testConfig is a valid configuration over a temp dir, for the engine.
func testConfig(t testing.TB, engine string) Config {
	cfg := Config{
		Addr:            "127.0.0.1:0",
		DataDir:         t.TempDir(),
		Database:        "storeapi",
		TokenTTL:        24 * time.Hour,
		MaxBody:         1 << 20,
		ShutdownTimeout: 5 * time.Second,
		LogLevel:        "error",
		CacheMB:         16,
		CacheTTL:        time.Minute,
		CachePoll:       time.Second,
		// Webhook receivers of the tests listen on loopback; retries come quickly.
		WebhookAllowPrivate: true,
		WebhookBackoff:      []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond},
		// Rates off: every test client is 127.0.0.1; the limits have their own tests.
		// The sandbox (a second database) is off but in its own tests: it adds a few
		// hundred milliseconds to every start on FerretDB.
		Sandbox: SandboxOff,
	}
	if engine == "mongodb" {
		cfg.MongoURI = ferretURI(t)
		cfg.Database = fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e9, ferret.n.Add(1))
	}
	return cfg
}

// startServer starts a server for the engine and logs in as the bootstrap admin.
func startServer(t testing.TB, engine string) *testServer {
	t.Helper()
	return startWithConfig(t, testConfig(t, engine))
}

// startWithConfig starts a server with cfg; it stops when the test ends.
func startWithConfig(t testing.TB, cfg Config) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("starting the server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	ts := &testServer{t: t, cfg: cfg, srv: s, base: "http://" + s.Addr()}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server stopped with %v", err)
			}
		})
	}
	t.Cleanup(ts.stop)
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, "bootstrap.json"))
	if err != nil {
		t.Fatalf("reading bootstrap.json: %v", err)
	}
	if err := json.Unmarshal(data, &ts.boot); err != nil {
		t.Fatalf("bootstrap.json: %v", err)
	}
	ts.token = ts.login(ts.boot.StoreID, ts.boot.Username, ts.boot.Password)
	return ts
}

// forEachEngine runs fn as a subtest on a fresh server of every engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			fn(t, startServer(t, engine))
		})
	}
}

// answer is a response as the tests read it.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// req describes one request of a scenario.
type req struct {
	method  string
	path    string
	store   int64 // X-Store-ID; 0: none
	token   string
	myID    string
	headers map[string]string
	body    any // string sent as is; anything else as JSON
}

// do sends r and reads the answer.
func (ts *testServer) do(r req) answer {
	ts.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	hr, err := http.NewRequest(r.method, ts.base+r.path, body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if r.store != 0 {
		hr.Header.Set("X-Store-ID", fmt.Sprint(r.store))
	}
	if r.token != "" {
		hr.Header.Set("X-Access-Token", r.token)
		myID := r.myID
		if myID == "" {
			myID = ts.boot.AuthenticationID
		}
		hr.Header.Set("X-My-ID", myID)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// admin sends r as the first store's admin.
func (ts *testServer) admin(method, path string, body any) answer {
	ts.t.Helper()
	return ts.do(req{method: method, path: path, store: ts.boot.StoreID, token: ts.token, body: body})
}

// public sends r without authentication to the first store.
func (ts *testServer) public(method, path string) answer {
	ts.t.Helper()
	return ts.do(req{method: method, path: path, store: ts.boot.StoreID})
}

// login runs _login and _authenticate and returns the access token.
func (ts *testServer) login(storeID int64, username, password string) string {
	ts.t.Helper()
	a := ts.do(req{method: "POST", path: "/v1/_login.json", store: storeID,
		body: map[string]any{"username": username, "pass_md5_hash": md5hex(password)}})
	if a.status != 200 {
		ts.t.Fatalf("login: got %d %s", a.status, a.raw)
	}
	a = ts.do(req{method: "POST", path: "/v1/_authenticate.json", store: storeID,
		body: map[string]any{"_id": a.body["_id"], "api_key": a.body["api_key"]}})
	if a.status != 200 {
		ts.t.Fatalf("authenticate: got %d %s", a.status, a.raw)
	}
	token, _ := a.body["access_token"].(string)
	return token
}

// mustStatus fails the test when a's status is not want.
func mustStatus(t testing.TB, what string, a answer, want int) {
	t.Helper()
	if a.status != want {
		t.Fatalf("%s: got status %d, want %d; body %s", what, a.status, want, a.raw)
	}
}

// createStore creates another store on the server's database while it runs.
func (ts *testServer) createStore(storeID int64) (auth.Bootstrap, string) {
	ts.t.Helper()
	b, err := CreateStore(context.Background(), ts.cfg, auth.StoreOptions{StoreID: storeID, Name: "Store"})
	if err != nil {
		ts.t.Fatalf("creating store %d: %v", storeID, err)
	}
	return b, ts.login(b.StoreID, b.Username, b.Password)
}
