package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"storeapi/db"
)

const store = int64(1000)

func TestNewOptions(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"no store", Options{Secret: testSecret}},
		{"no secret", Options{Store: s}},
		{"empty backoff", Options{Store: s, Secret: testSecret, Backoff: []time.Duration{}}},
		{"negative backoff", Options{Store: s, Secret: testSecret, Backoff: []time.Duration{0, -time.Second}}},
		{"lease not above timeout", Options{Store: s, Secret: testSecret, Timeout: time.Minute, Lease: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil || !strings.HasPrefix(err.Error(), "webhooks: ") {
				t.Errorf("got %v, want a webhooks error", err)
			}
		})
	}
	if _, err := New(Options{Store: s, Secret: testSecret}); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}

// TestDeliverySigned sends one trigger to a real receiver that verifies the signature
// as the README tells receivers to, and checks headers, body and the trigger's record.
func TestDeliverySigned(t *testing.T) {
	s := openStore(t)
	var bad atomic.Value
	rcv := newReceiver(t, func(_ int, h hook) int {
		key := SigningKey(testSecret, store)
		sig := h.Header.Get("X-Webhook-Signature")
		if sig != "sha256="+Sign(key, h.Body) || !Verify(key, h.Body, sig) {
			bad.Store("signature " + sig + " does not verify")
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	pid := addProcedure(t, s, store, `{"title":"t","triggers":[{"resource":"products","field":"price"}],
		"webhooks":[{"api":{"external_api":{"uri":"`+rcv.URL+`/hook?x=1","headers":[
			{"name":"Authorization","value":"Bearer abc"},{"name":"X-Webhook-ID","value":"forged"}]}},"method":"POST"}]}`)
	start(t, Options{Store: s, AllowPrivate: true, External: true})
	tr := recordTrigger(t, s, store, db.Doc{"fields": []any{"price"}, "body": db.Doc{"price": json.Number("10.5")}})
	other := recordTrigger(t, s, store, db.Doc{"fields": []any{"name"}}) // no procedure matches it
	eventually(t, "trigger delivered", func() bool { return entryStatus(t, s, store, tr["_id"].(string)) == StatusDelivered })

	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	hooks := rcv.hooks()
	if len(hooks) != 1 {
		t.Fatalf("got %d calls, want 1", len(hooks))
	}
	h := hooks[0]
	wantID := DeliveryID(tr["_id"].(string), pid, 0)
	for name, want := range map[string]string{
		"Content-Type": "application/json", "X-Store-Id": "1000", "X-Webhook-Id": wantID,
		"X-Webhook-Attempt": "1", "X-Trigger-Id": tr["_id"].(string), "Authorization": "Bearer abc",
		"User-Agent": UserAgent,
	} {
		if got := h.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("header %s: got %q want %q", name, got, want)
		}
	}
	if h.Method != http.MethodPost || h.Path != "/hook" {
		t.Errorf("got %s %s", h.Method, h.Path)
	}
	var body map[string]any
	if err := json.Unmarshal(h.Body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	if body["_id"] != tr["_id"] || body["resource"] != "products" || body["body"].(map[string]any)["price"] != 10.5 {
		t.Errorf("body is not the trigger: %s", h.Body)
	}
	if _, ok := body["response"]; ok {
		t.Errorf("body carries the response: %s", h.Body)
	}

	e := webhookEntries(t, s, store, tr["_id"].(string))[0]
	want := map[string]any{"delivery_id": wantID, "procedure_id": pid, "uri": rcv.URL + "/hook?x=1", "status": "delivered",
		"attempts": json.Number("1"), "last_status": json.Number("200"), "last_error": ""}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("entry %s: got %v want %v", k, e[k], v)
		}
	}
	checkTrigger(t, s, store, tr["_id"].(string))
	if got, _ := s.Get(context.Background(), "triggers", store, other["_id"].(string)); got["response"] != nil {
		t.Errorf("unmatched trigger got a response: %v", got["response"])
	}
	eventually(t, "queue emptied", func() bool {
		n, err := s.Count(context.Background(), QueueCollection, SystemStore, nil)
		return err == nil && n == 0
	})
}

func TestMapBodyAndMethods(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, nil)
	addProcedure(t, s, store, `{"title":"t","triggers":[{"resource":"orders"}],"webhooks":[
		{"api":{"external_api":{"uri":"`+rcv.URL+`/mapped"}},"method":"PUT",
			"map_body":{"order":"(tr.resource_id)","status":"(tr.body.status)","note":"order (tr.resource_id) is (tr.body.status)"}},
		{"api":{"external_api":{"uri":"`+rcv.URL+`/nobody"}},"method":"POST","send_body":false},
		{"api":{"external_api":{"uri":"`+rcv.URL+`/get"}},"method":"GET"}]}`)
	start(t, Options{Store: s, AllowPrivate: true, External: true})
	rid := db.NewID()
	tr := recordTrigger(t, s, store, db.Doc{"resource": "orders", "resource_id": rid, "body": db.Doc{"status": "paid"}})
	eventually(t, "three calls", func() bool { return len(rcv.hooks()) == 3 })
	eventually(t, "three entries", func() bool { return len(webhookEntries(t, s, store, tr["_id"].(string))) == 3 })
	key := SigningKey(testSecret, store)
	for _, h := range rcv.hooks() {
		if !Verify(key, h.Body, h.Header.Get(SignatureHeader)) {
			t.Errorf("%s: signature does not verify", h.Path)
		}
		switch h.Path {
		case "/mapped":
			want := `{"note":"order ` + rid + ` is paid","order":"` + rid + `","status":"paid"}`
			if h.Method != http.MethodPut || string(h.Body) != want {
				t.Errorf("mapped: got %s %s want PUT %s", h.Method, h.Body, want)
			}
		case "/nobody", "/get":
			if len(h.Body) != 0 {
				t.Errorf("%s: got body %s, want none", h.Path, h.Body)
			}
		default:
			t.Errorf("unexpected path %s", h.Path)
		}
	}
}

// TestRetries: a receiver failing twice then answering 200 gets three attempts, each
// with the same X-Webhook-ID and the next attempt number.
func TestRetries(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, func(n int, _ hook) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	addProcedure(t, s, store, externalProc(rcv.URL))
	start(t, Options{Store: s, AllowPrivate: true, External: true,
		Backoff: []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}})
	tr := recordTrigger(t, s, store, nil)
	id := tr["_id"].(string)
	var seen []string
	eventually(t, "delivered on the third attempt", func() bool {
		es := webhookEntries(t, s, store, id)
		if len(es) != 1 {
			return false
		}
		st := fmt.Sprint(es[0]["status"], "/", es[0]["attempts"], "/", es[0]["last_status"])
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		return es[0]["status"] == StatusDelivered
	})
	hooks := rcv.hooks()
	if len(hooks) != 3 {
		t.Fatalf("got %d attempts, want 3", len(hooks))
	}
	for i, h := range hooks {
		if got := h.Header.Get("X-Webhook-Attempt"); got != strconv.Itoa(i+1) {
			t.Errorf("call %d: attempt header %q", i+1, got)
		}
		if h.Header.Get("X-Webhook-ID") != hooks[0].Header.Get("X-Webhook-ID") {
			t.Errorf("call %d: another delivery id", i+1)
		}
		if string(h.Body) != string(hooks[0].Body) {
			t.Errorf("call %d: body changed between attempts", i+1)
		}
	}
	if last := seen[len(seen)-1]; last != "delivered/3/200" {
		t.Errorf("final entry %s, want delivered/3/200 (seen %v)", last, seen)
	}
	for _, st := range seen[:len(seen)-1] {
		if !strings.HasPrefix(st, "pending/") || !strings.HasSuffix(st, "/503") {
			t.Errorf("intermediate entry %s, want pending after a 503", st)
		}
	}
}

// TestFinalFailure: after the last attempt the delivery is failed, visible on the
// trigger and through the list filter admins use.
func TestFinalFailure(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, func(int, hook) int { return http.StatusBadGateway })
	addProcedure(t, s, store, externalProc(rcv.URL))
	start(t, Options{Store: s, AllowPrivate: true, External: true, Backoff: []time.Duration{0, 10 * time.Millisecond}})
	tr := recordTrigger(t, s, store, nil)
	id := tr["_id"].(string)
	eventually(t, "failed", func() bool { return entryStatus(t, s, store, id) == StatusFailed })
	if n := len(rcv.hooks()); n != 2 {
		t.Errorf("got %d attempts, want 2", n)
	}
	e := webhookEntries(t, s, store, id)[0]
	if e["last_status"] != json.Number("502") || !strings.HasPrefix(e["last_error"].(string), "HTTP 502: ") {
		t.Errorf("entry %v", e)
	}
	checkTrigger(t, s, store, id)
	failed, err := s.Find(context.Background(), "triggers", db.Query{StoreID: store, Limit: 10,
		Conds: []db.Cond{{Path: "response.webhooks.status", Op: db.OpEq, Values: []db.Value{str("failed")}}}})
	if err != nil || len(failed) != 1 || failed[0]["_id"] != id {
		t.Errorf("filter response.webhooks.status=failed: %v, %v", failed, err)
	}
}

// TestPrivateRefused: without AllowPrivate, loopback is refused at dial time, for an IP
// and for a name that resolves to it; no request reaches the receiver.
func TestPrivateRefused(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, nil)
	port := rcv.URL[strings.LastIndex(rcv.URL, ":")+1:]
	addProcedure(t, s, store, externalProc(rcv.URL))
	addProcedure(t, s, store, externalProc("http://localhost:"+port+"/by-name"))
	start(t, Options{Store: s, External: true})
	tr := recordTrigger(t, s, store, nil)
	id := tr["_id"].(string)
	eventually(t, "both failed", func() bool {
		es := webhookEntries(t, s, store, id)
		return len(es) == 2 && es[0]["status"] == StatusFailed && es[1]["status"] == StatusFailed
	})
	for _, e := range webhookEntries(t, s, store, id) {
		if !strings.HasPrefix(e["last_error"].(string), "address not allowed") || e["attempts"] != json.Number("1") {
			t.Errorf("entry %v, want one attempt refused", e)
		}
	}
	if n := len(rcv.hooks()); n != 0 {
		t.Errorf("receiver got %d calls", n)
	}
}

// TestResponseCap: a huge answer is not read beyond MaxResponse, and last_error keeps
// only its start.
func TestResponseCap(t *testing.T) {
	s := openStore(t)
	const huge = 64 << 20
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if strings.HasSuffix(r.URL.Path, "/fail") {
			code = http.StatusInternalServerError
		}
		w.WriteHeader(code)
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < huge/len(chunk); i++ {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	addProcedure(t, s, store, externalProc(srv.URL+"/ok"))
	addProcedure(t, s, store, externalProc(srv.URL+"/fail"))
	start(t, Options{Store: s, AllowPrivate: true, External: true, MaxResponse: 1024, Backoff: []time.Duration{0}})
	tr := recordTrigger(t, s, store, nil)
	eventually(t, "both finished", func() bool {
		es := webhookEntries(t, s, store, tr["_id"].(string))
		return len(es) == 2 && es[0]["status"] != StatusPending && es[1]["status"] != StatusPending
	})
	for _, e := range webhookEntries(t, s, store, tr["_id"].(string)) {
		switch e["uri"] {
		case srv.URL + "/ok":
			if e["status"] != StatusDelivered {
				t.Errorf("ok: %v", e)
			}
		case srv.URL + "/fail":
			if e["status"] != StatusFailed || len(e["last_error"].(string)) > maxErrorText+20 {
				t.Errorf("fail: status %v, last_error of %d bytes", e["status"], len(e["last_error"].(string)))
			}
		}
	}
	srv.Close() // waits for the handlers: their writes fail once the client has hung up
	if w := written.Load(); w >= 2*huge {
		t.Errorf("the receiver wrote both answers in full (%d bytes): they were read past the cap", w)
	}
}

// TestExternalOff: with External false (the sandbox), external webhooks fail at once
// without a call, and store_api webhooks still run.
func TestExternalOff(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, nil)
	addProcedure(t, s, store, `{"title":"t","triggers":[{"resource":"products"}],"webhooks":[
		{"api":{"external_api":{"uri":"`+rcv.URL+`"}},"method":"POST"},
		{"api":{"store_api":{"endpoint":"/products/(tr.resource_id).json"}},"method":"PATCH","map_body":{"synced":true}}]}`)
	var calls atomic.Int32
	start(t, Options{Store: s, AllowPrivate: true, External: false,
		StoreAPI: func(ctx context.Context, storeID int64, method, path string, body []byte) (int, []byte, error) {
			calls.Add(1)
			return http.StatusNoContent, nil, nil
		}})
	tr := recordTrigger(t, s, store, db.Doc{"resource_id": db.NewID()})
	eventually(t, "both finished", func() bool {
		es := webhookEntries(t, s, store, tr["_id"].(string))
		return len(es) == 2 && es[0]["status"] != StatusPending && es[1]["status"] != StatusPending
	})
	for _, e := range webhookEntries(t, s, store, tr["_id"].(string)) {
		if e["uri"] != nil && (e["status"] != StatusFailed || e["last_error"] != "external calls are off") {
			t.Errorf("external: %v", e)
		}
		if e["endpoint"] != nil && e["status"] != StatusDelivered {
			t.Errorf("store api: %v", e)
		}
	}
	if n := len(rcv.hooks()); n != 0 {
		t.Errorf("receiver got %d calls with external calls off", n)
	}
	if calls.Load() != 1 {
		t.Errorf("store api called %d times", calls.Load())
	}
}

// TestStoreAPILoop: a store_api webhook whose write matches its own procedure again is
// stopped after MaxDepth levels, and the trigger that is not dispatched says so.
func TestStoreAPILoop(t *testing.T) {
	s := openStore(t)
	addProcedure(t, s, store, `{"title":"loop","triggers":[{"resource":"products","action":"change"}],"webhooks":[
		{"api":{"store_api":{"endpoint":"/products/(tr.resource_id).json"}},"method":"PATCH","map_body":{"name":"(tr.body.name)"}}]}`)
	type apiCall struct {
		store        int64
		method, path string
		body         string
		depth        int
	}
	var mu sync.Mutex
	var calls []apiCall
	var last atomic.Value
	var d *Dispatcher
	d, _ = start(t, Options{Store: s, StoreAPI: func(ctx context.Context, storeID int64, method, path string, body []byte) (int, []byte, error) {
		mu.Lock()
		calls = append(calls, apiCall{storeID, method, path, string(body), Depth(ctx)})
		mu.Unlock()
		// What the server does: apply the write, record its trigger with the depth.
		var b db.Doc
		_ = json.Unmarshal(body, &b)
		tr := recordTriggerDepth(t, ctx, s, storeID, db.Doc{"resource_id": strings.TrimSuffix(path[len("/products/"):], ".json"), "body": b}, Depth(ctx))
		last.Store(tr["_id"].(string))
		d.Kick()
		return http.StatusNoContent, nil, nil
	}})
	rid := db.NewID()
	recordTrigger(t, s, store, db.Doc{"resource_id": rid, "body": db.Doc{"name": "n"}})
	eventually(t, "loop stopped", func() bool {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n != MaxDepth+1 {
			return false
		}
		id, _ := last.Load().(string)
		tr, err := s.Get(context.Background(), "triggers", store, id)
		resp, _ := tr["response"].(map[string]any)
		return err == nil && resp["skipped"] != nil
	})
	checkTrigger(t, s, store, last.Load().(string))
	for i, c := range calls {
		want := apiCall{store, http.MethodPatch, "/products/" + rid + ".json", `{"name":"n"}`, i + 1}
		if c != want {
			t.Errorf("call %d: got %+v want %+v", i, c, want)
		}
	}
	eventually(t, "queue emptied", func() bool {
		n, err := s.Count(context.Background(), QueueCollection, SystemStore, nil)
		return err == nil && n == 0
	})
}

// TestOrder: with one call at a time and a receiver that always answers, deliveries
// arrive in the order the triggers were recorded.
func TestOrder(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, nil)
	addProcedure(t, s, store, externalProc(rcv.URL))
	addProcedure(t, s, store+1, externalProc(rcv.URL))
	var ids []string
	for i := range 30 {
		tr := recordTrigger(t, s, store+int64(i%2), nil)
		ids = append(ids, tr["_id"].(string))
	}
	start(t, Options{Store: s, AllowPrivate: true, External: true, MaxInFlight: 1})
	eventually(t, "all delivered", func() bool { return len(rcv.hooks()) == len(ids) })
	for i, h := range rcv.hooks() {
		if got := h.Header.Get("X-Trigger-ID"); got != ids[i] {
			t.Fatalf("call %d: trigger %s, want %s", i, got, ids[i])
		}
		if want := strconv.FormatInt(store+int64(i%2), 10); h.Header.Get("X-Store-ID") != want {
			t.Fatalf("call %d: store %s want %s", i, h.Header.Get("X-Store-ID"), want)
		}
	}
}

// TestTwoDispatchers: two dispatchers over one database (two nodes) send every
// delivery once: dispatch is idempotent and claims are atomic.
func TestTwoDispatchers(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, func(n int, h hook) int {
		if n%5 == 0 && h.Header.Get("X-Webhook-Attempt") == "1" {
			return http.StatusInternalServerError // some retries, claimed by either node
		}
		return http.StatusOK
	})
	addProcedure(t, s, store, externalProc(rcv.URL))
	opts := Options{Store: s, AllowPrivate: true, External: true, Backoff: []time.Duration{0, time.Millisecond, time.Millisecond}}
	start(t, opts)
	start(t, opts)
	const n = 60
	for range n {
		recordTrigger(t, s, store, nil)
	}
	delivered := func() int {
		c, _ := s.Count(context.Background(), DeliveryCollection, SystemStore,
			[]db.Cond{{Path: "status", Op: db.OpEq, Values: []db.Value{str(StatusDelivered)}}})
		return int(c)
	}
	eventually(t, "all delivered", func() bool { return delivered() == n })
	perID := map[string][]string{}
	for _, h := range rcv.hooks() {
		id := h.Header.Get("X-Webhook-ID")
		perID[id] = append(perID[id], h.Header.Get("X-Webhook-Attempt"))
	}
	if len(perID) != n {
		t.Fatalf("%d delivery ids, want %d", len(perID), n)
	}
	for id, attempts := range perID {
		for i, a := range attempts {
			if a != strconv.Itoa(i+1) {
				t.Errorf("delivery %s: attempts %v, an attempt was sent twice", id, attempts)
				break
			}
		}
	}
}

// TestMissingTrigger: a queue entry whose trigger never appears is dropped after a
// lease, and one whose trigger appears later is dispatched.
func TestMissingTrigger(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, nil)
	addProcedure(t, s, store, externalProc(rcv.URL))
	ctx := context.Background()
	old := db.Doc{"_id": db.NewID(), "store_id": json.Number(strconv.FormatInt(store, 10)), "created_at": "2000-01-01T00:00:00.000Z"}
	if rec := QueueRecord(old, 0); s.Insert(ctx, rec.Coll, rec.Doc) != nil {
		t.Fatal("insert")
	}
	late := db.Doc{"_id": db.NewID(), "store_id": json.Number(strconv.FormatInt(store, 10))}
	if rec := QueueRecord(late, 0); s.Insert(ctx, rec.Coll, rec.Doc) != nil {
		t.Fatal("insert")
	}
	start(t, Options{Store: s, AllowPrivate: true, External: true})
	eventually(t, "old entry dropped", func() bool {
		_, err := s.Get(ctx, QueueCollection, SystemStore, old["_id"].(string))
		return errors.Is(err, db.ErrNotFound)
	})
	if _, err := s.Get(ctx, QueueCollection, SystemStore, late["_id"].(string)); err != nil {
		t.Fatalf("late entry: %v", err)
	}
	now := db.Timestamp(time.Now())
	late["created_at"], late["updated_at"], late["datetime"] = now, now, now
	late["method"], late["action"], late["resource"] = "POST", "create", "products"
	if err := s.Insert(ctx, "triggers", late); err != nil {
		t.Fatal(err)
	}
	eventually(t, "late trigger delivered", func() bool { return entryStatus(t, s, store, late["_id"].(string)) == StatusDelivered })
}

// TestRunWaitsForCalls: Run returns only after the call in flight when ctx ended has
// finished and its outcome is stored.
func TestRunWaitsForCalls(t *testing.T) {
	s := openStore(t)
	hit, release := make(chan struct{}), make(chan struct{})
	rcv := newReceiver(t, func(int, hook) int {
		close(hit)
		<-release
		return http.StatusOK
	})
	addProcedure(t, s, store, externalProc(rcv.URL))
	tr := recordTrigger(t, s, store, nil)
	d, err := New(Options{Store: s, Secret: testSecret, AllowPrivate: true, External: true, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	<-hit
	cancel()
	time.Sleep(20 * time.Millisecond) // let Run see the end of ctx while the call is held
	close(release)
	<-done
	if st := entryStatus(t, s, store, tr["_id"].(string)); st != StatusDelivered {
		t.Errorf("after Run returned the trigger says %q, want delivered", st)
	}
	del, err := s.Get(context.Background(), DeliveryCollection, SystemStore, webhookEntries(t, s, store, tr["_id"].(string))[0]["delivery_id"].(string))
	if err != nil || del["status"] != StatusDelivered {
		t.Errorf("delivery %v, %v", del, err)
	}
}

// TestPurge: finished deliveries are deleted after Retention; the trigger keeps the
// outcome and pending deliveries stay.
func TestPurge(t *testing.T) {
	s := openStore(t)
	rcv := newReceiver(t, func(n int, h hook) int {
		if strings.HasSuffix(h.Path, "/slow") {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	addProcedure(t, s, store, externalProc(rcv.URL+"/ok"))
	addProcedure(t, s, store, externalProc(rcv.URL+"/slow"))
	start(t, Options{Store: s, AllowPrivate: true, External: true, Retention: time.Millisecond,
		Backoff: []time.Duration{0, time.Hour}})
	tr := recordTrigger(t, s, store, nil)
	id := tr["_id"].(string)
	eventually(t, "one delivered, one waiting", func() bool {
		es := webhookEntries(t, s, store, id)
		return len(es) == 2 && es[0]["status"] != es[1]["status"]
	})
	eventually(t, "the delivered one purged", func() bool {
		n, err := s.Count(context.Background(), DeliveryCollection, SystemStore, nil)
		return err == nil && n == 1
	})
	left, _ := s.Find(context.Background(), DeliveryCollection, db.Query{StoreID: SystemStore, Limit: 10})
	if len(left) != 1 || left[0]["status"] != StatusPending {
		t.Errorf("left %v, want the pending delivery", left)
	}
	if es := webhookEntries(t, s, store, id); len(es) != 2 {
		t.Errorf("trigger lost its entries: %v", es)
	}
}

// TestSlowStoreLeavesRoom: a store whose receiver hangs takes at most its share of the
// call slots; another store's deliveries still go through.
func TestSlowStoreLeavesRoom(t *testing.T) {
	s := openStore(t)
	release := make(chan struct{})
	var hung atomic.Int32
	slow := newReceiver(t, func(int, hook) int {
		hung.Add(1)
		<-release
		return http.StatusOK
	})
	fast := newReceiver(t, nil)
	addProcedure(t, s, store, externalProc(slow.URL))
	addProcedure(t, s, store+1, externalProc(fast.URL))
	start(t, Options{Store: s, AllowPrivate: true, External: true, MaxInFlight: 4})
	t.Cleanup(func() { close(release) }) // runs before the dispatcher stops
	for range 10 {
		recordTrigger(t, s, store, nil)
	}
	var fastIDs []string
	for range 5 {
		fastIDs = append(fastIDs, recordTrigger(t, s, store+1, nil)["_id"].(string))
	}
	for _, id := range fastIDs {
		eventually(t, "the other store's trigger delivered", func() bool { return entryStatus(t, s, store+1, id) == StatusDelivered })
	}
	eventually(t, "the slow store's calls reach its bound", func() bool { return hung.Load() >= 2 })
	if n := hung.Load(); n != 2 {
		t.Errorf("the slow store has %d calls in flight, want MaxInFlight/2 = 2", n)
	}
}
