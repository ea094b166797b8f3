package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"storeapi/db"
	"storeapi/db/sqlite"
	"storeapi/schemas"
)

var testSecret = []byte("test server secret")

// openStore opens a real SQLite database in the test's directory.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), "t.db"))
}

func openStoreAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// recordTrigger stores a trigger of store and its queue entry, as the server does with
// each write, and returns the trigger.
func recordTrigger(t testing.TB, s db.Store, store int64, tr db.Doc) db.Doc {
	t.Helper()
	return recordTriggerDepth(t, context.Background(), s, store, tr, 0)
}

func recordTriggerDepth(t testing.TB, ctx context.Context, s db.Store, store int64, tr db.Doc, depth int) db.Doc {
	t.Helper()
	now := db.Timestamp(time.Now())
	doc := db.Doc{
		"_id":               db.NewID(),
		"store_id":          json.Number(strconv.FormatInt(store, 10)),
		"created_at":        now,
		"updated_at":        now,
		"datetime":          now,
		"authentication_id": nil,
		"method":            "PATCH",
		"action":            "change",
		"resource":          "products",
	}
	for k, v := range tr {
		doc[k] = v
	}
	if err := s.Insert(ctx, "triggers", doc); err != nil {
		t.Fatalf("insert trigger: %v", err)
	}
	rec := QueueRecord(doc, depth)
	if err := s.Insert(ctx, rec.Coll, rec.Doc); err != nil {
		t.Fatalf("insert queue entry: %v", err)
	}
	return doc
}

// addProcedure stores a procedure (through JSON, so numbers are json.Number as the
// engine returns them) and returns its id.
func addProcedure(t testing.TB, s db.Store, store int64, procJSON string) string {
	t.Helper()
	var p db.Doc
	dec := json.NewDecoder(strings.NewReader(procJSON))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("procedure json: %v", err)
	}
	if err := testSchemas(t).Validate("procedures", p); err != nil {
		t.Fatalf("procedure not valid: %v", err)
	}
	p["_id"] = db.NewID()
	p["store_id"] = store
	if err := s.Insert(context.Background(), "procedures", p); err != nil {
		t.Fatalf("insert procedure: %v", err)
	}
	return p["_id"].(string)
}

// testSchemas loads the server's schemas.
func testSchemas(t testing.TB) *schemas.Set {
	t.Helper()
	set, err := schemas.Load()
	if err != nil {
		t.Fatalf("schemas: %v", err)
	}
	return set
}

// checkTrigger fails the test when the stored trigger is not valid against
// schemas/triggers.json.
func checkTrigger(t testing.TB, s db.Store, store int64, id string) {
	t.Helper()
	tr, err := s.Get(context.Background(), "triggers", store, id)
	if err != nil {
		t.Fatalf("get trigger: %v", err)
	}
	if err := testSchemas(t).Validate("triggers", tr); err != nil {
		t.Errorf("trigger %s not valid: %v", id, err)
	}
}

// hook is one request a receiver got.
type hook struct {
	Header http.Header
	Body   []byte
	Method string
	Path   string
}

// receiver is a real local HTTP server recording what it receives; answer decides the
// status of each request (n counts from 1), 200 when nil.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []hook
	answer func(n int, h hook) int
}

func newReceiver(t testing.TB, answer func(n int, h hook) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		h := hook{Header: req.Header.Clone(), Body: b, Method: req.Method, Path: req.URL.Path}
		r.mu.Lock()
		r.got = append(r.got, h)
		n := len(r.got)
		r.mu.Unlock()
		code := http.StatusOK
		if r.answer != nil {
			code = r.answer(n, h)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"answer":`+strconv.Itoa(code)+`}`)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) hooks() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hook(nil), r.got...)
}

// start runs a dispatcher until the test ends (or the returned stop is called).
func start(t testing.TB, opts Options) (*Dispatcher, func()) {
	t.Helper()
	if opts.Secret == nil {
		opts.Secret = testSecret
	}
	if opts.Poll == 0 {
		opts.Poll = 5 * time.Millisecond
	}
	d, err := New(opts)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return d, stop
}

// eventually waits until cond holds; the test fails if it never does (within a generous
// bound: this is a liveness check, not a timing assertion).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// webhookEntries returns the response.webhooks[] of a trigger.
func webhookEntries(t testing.TB, s db.Store, store int64, id string) []map[string]any {
	t.Helper()
	tr, err := s.Get(context.Background(), "triggers", store, id)
	if err != nil {
		t.Fatalf("get trigger: %v", err)
	}
	resp, _ := tr["response"].(map[string]any)
	list, _ := resp["webhooks"].([]any)
	var out []map[string]any
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

// entryStatus returns the status of the only webhook entry of a trigger, "" if none.
func entryStatus(t testing.TB, s db.Store, store int64, id string) string {
	t.Helper()
	es := webhookEntries(t, s, store, id)
	if len(es) != 1 {
		return ""
	}
	st, _ := es[0]["status"].(string)
	return st
}

func externalProc(uri string) string {
	return `{"title":"t","triggers":[{"resource":"products"}],"webhooks":[{"api":{"external_api":{"uri":"` + uri + `"}},"method":"POST"}]}`
}
