package server

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"storeapi/webhooks"
)

// receiver is a local webhook endpoint that records what it gets.
type receiver struct {
	mu    sync.Mutex
	calls []receivedCall
	fail  int // answer 500 to this many calls first
	srv   *httptest.Server
}

// receivedCall is one call a receiver got.
type receivedCall struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, fail int) *receiver {
	rc := &receiver{fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.calls = append(rc.calls, receivedCall{header: r.Header.Clone(), body: body})
		if rc.fail > 0 {
			rc.fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// wait returns the calls once there are n, failing after a deadline.
func (rc *receiver) wait(t *testing.T, n int) []receivedCall {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.mu.Lock()
		calls := append([]receivedCall(nil), rc.calls...)
		rc.mu.Unlock()
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver got %d calls, want %d", len(calls), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhooks(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		rc := newReceiver(t, 2)
		ts.create("procedures", map[string]any{"title": "ERP sync",
			"triggers": []any{map[string]any{"resource": "products", "action": "create"}},
			"webhooks": []any{
				map[string]any{"api": map[string]any{"external_api": map[string]any{"uri": rc.srv.URL + "/hook",
					"headers": []any{map[string]any{"name": "X-Custom", "value": "yes"}}}}, "method": "POST"},
				map[string]any{"api": map[string]any{"store_api": map[string]any{"endpoint": "/products/(tr.resource_id).json"}},
					"method": "PATCH", "map_body": map[string]any{"subtitle": "synced (tr.body.sku)"}},
			}})
		id := ts.create("products", product("hooked", 5))
		// The receiver fails twice, then takes the third attempt.
		calls := rc.wait(t, 3)
		last := calls[2]
		var tr map[string]any
		if err := json.Unmarshal(last.body, &tr); err != nil || tr["resource_id"] != id || tr["action"] != "create" {
			t.Fatalf("webhook body: %s", last.body)
		}
		secret, err := os.ReadFile(filepath.Join(ts.cfg.DataDir, "secret.key"))
		if err != nil {
			t.Fatal(err)
		}
		key := webhooks.SigningKey([]byte(strings.TrimSpace(string(secret))), 1000)
		if !webhooks.Verify(key, last.body, last.header.Get(webhooks.SignatureHeader)) {
			t.Errorf("signature %q does not verify", last.header.Get(webhooks.SignatureHeader))
		}
		// The store's admins read the key from the API; receivers verify with it.
		checkErrorBody(t, "public webhook key", ts.public("GET", "/v1/_webhook_key.json"), 401, nil)
		ka := ts.admin("GET", "/v1/_webhook_key.json", nil)
		mustStatus(t, "webhook key", ka, 200)
		apiKey, err := hex.DecodeString(fmt.Sprint(ka.body["key"]))
		if err != nil || !webhooks.Verify(apiKey, last.body, last.header.Get(webhooks.SignatureHeader)) {
			t.Errorf("the key from _webhook_key does not verify the delivery: %s", ka.raw)
		}
		if last.header.Get("X-Store-ID") != "1000" || last.header.Get("X-Custom") != "yes" {
			t.Errorf("webhook headers: %v", last.header)
		}
		if calls[0].header.Get("X-Webhook-ID") == "" || calls[0].header.Get("X-Webhook-ID") != last.header.Get("X-Webhook-ID") {
			t.Errorf("retries of one delivery carry different ids: %q %q", calls[0].header.Get("X-Webhook-ID"), last.header.Get("X-Webhook-ID"))
		}
		// The store_api webhook patched the product with the trigger's values.
		deadline := time.Now().Add(10 * time.Second)
		for ts.admin("GET", "/v1/products/"+id+".json", nil).body["subtitle"] != "synced hooked" {
			if time.Now().After(deadline) {
				t.Fatalf("store_api webhook did not patch the product: %s", ts.admin("GET", "/v1/products/"+id+".json", nil).raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The outcome is on the trigger for the store's admins.
		for {
			list := ts.admin("GET", "/v1/triggers.json?resource_id="+id+"&action=create&fields=response", nil)
			res := list.body["result"].([]any)
			if len(res) == 1 && strings.Count(string(list.raw), `"delivered"`) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("trigger response: %s", list.raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestWebhookFailureVisible(t *testing.T) {
	ts := startServer(t, "sqlite")
	rc := newReceiver(t, 100)
	ts.create("procedures", map[string]any{"title": "Always failing",
		"triggers": []any{map[string]any{"resource": "orders"}},
		"webhooks": []any{map[string]any{"api": map[string]any{"external_api": map[string]any{"uri": rc.srv.URL}}, "method": "POST"}}})
	ts.create("orders", map[string]any{"amount": map[string]any{"total": 1}})
	rc.wait(t, 3) // every attempt of the backoff
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := ts.admin("GET", "/v1/triggers.json?response.webhooks.status=failed&fields=response", nil)
		if a.body["meta"].(map[string]any)["count"].(float64) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed delivery visible: %s", a.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSandboxWebhooksStayInside(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		cfg := sandboxConfig(t, "sqlite")
		cfg.SandboxWebhooks = allowed
		ts := startWithConfig(t, cfg)
		o := ts.openSandbox(false, nil)
		sa := sandboxAdmin{ts: ts, o: o, token: ts.loginAt("/sandbox", o.StoreID, o.Username, o.Password)}
		rc := newReceiver(t, 0)
		mustStatus(t, "sandbox procedure", sa.do("POST", "/v1/procedures.json", map[string]any{"title": "out",
			"triggers": []any{map[string]any{"resource": "brands"}},
			"webhooks": []any{map[string]any{"api": map[string]any{"external_api": map[string]any{"uri": rc.srv.URL}}, "method": "POST"}}}), 201)
		brand := sa.do("POST", "/v1/brands.json", map[string]any{"name": "B"})
		mustStatus(t, "sandbox brand", brand, 201)
		id := brand.body["_id"].(string)
		// The outcome lands on the sandbox trigger either way.
		want := `"failed"`
		if allowed {
			want = `"delivered"`
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			a := sa.do("GET", "/v1/triggers.json?resource_id="+id+"&fields=response", nil)
			if strings.Contains(string(a.raw), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("allowed=%v: trigger response %s", allowed, a.raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
		rc.mu.Lock()
		got := len(rc.calls)
		rc.mu.Unlock()
		if allowed != (got == 1) {
			t.Errorf("sandbox webhooks allowed=%v: the receiver got %d calls", allowed, got)
		}
	}
}
