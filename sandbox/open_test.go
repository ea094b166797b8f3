package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"storeapi/auth"
	"storeapi/db"
	"storeapi/schemas"
)

// newOpener returns an Opener over a fresh SQLite database with the test clock c.
func newOpener(t *testing.T, c *clock, opts OpenOptions) (*Opener, db.Store, *auth.Service) {
	t.Helper()
	s := openDB(t)
	a, err := auth.New(auth.Options{Store: s, Secret: []byte(strings.Repeat("k", 32)), Audience: auth.AudienceSandbox, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	opts.Auth, opts.Store, opts.Now = a, s, c.now
	o, err := NewOpener(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return o, s, a
}

// post sends an opening request from the address ip.
func post(o http.Handler, ip, method, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/v1/_sandbox.json", strings.NewReader(body))
	r.RemoteAddr = ip + ":1234"
	w := httptest.NewRecorder()
	o.ServeHTTP(w, r)
	return w
}

// errorCode reads the error_code of an error answer.
func errorCode(t *testing.T, w *httptest.ResponseRecorder) any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	return body["error_code"]
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: t0}
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	o, s, a := newOpener(t, c, OpenOptions{Schemas: set, MaxAge: 48 * time.Hour})
	w := post(o, "192.0.2.1", "POST", `{"seed": true}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("open: got %d %s, want 201", w.Code, w.Body)
	}
	var got Opened
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.StoreID != auth.FirstStoreID || got.Username != auth.AdminUsername || got.Password == "" || got.APIKey == "" || !db.ValidID(got.AuthenticationID) {
		t.Errorf("opened: %+v", got)
	}
	if got.CreatedAt != db.Timestamp(t0) || got.ExpiresAt != db.Timestamp(t0.Add(48*time.Hour)) {
		t.Errorf("created_at %s expires_at %s, want %s and %s", got.CreatedAt, got.ExpiresAt, db.Timestamp(t0), db.Timestamp(t0.Add(48*time.Hour)))
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	// The credentials log in.
	login, err := a.Login(ctx, got.StoreID, []byte(`{"username":"admin","pass_md5_hash":"`+md5hex(got.Password)+`"}`), "")
	if err != nil || login.APIKey != got.APIKey || login.ID != got.AuthenticationID {
		t.Errorf("login with the answered credentials: %+v, %v", login, err)
	}
	// The seed is there, in the store, as answered.
	want := map[string]int{"brands": 2, "categories": 2, "products": 3, "customers": 1, "orders": 1}
	for coll, n := range want {
		if len(got.Seed[coll]) != n {
			t.Errorf("seed %s: %d ids, want %d", coll, len(got.Seed[coll]), n)
		}
		for _, id := range got.Seed[coll] {
			d, err := s.Get(ctx, coll, got.StoreID, id)
			if err != nil {
				t.Fatalf("seed %s %s: %v", coll, id, err)
			}
			if err := set.Validate(coll, d); err != nil {
				t.Errorf("stored seed %s is invalid: %v", coll, err)
			}
		}
	}
	// Without a body: no seed, the next store id.
	w = post(o, "192.0.2.1", "POST", "")
	if w.Code != http.StatusCreated {
		t.Fatalf("open without body: %d %s", w.Code, w.Body)
	}
	var second Opened
	_ = json.Unmarshal(w.Body.Bytes(), &second)
	if second.StoreID != got.StoreID+1 || second.Seed != nil {
		t.Errorf("second store: %+v", second)
	}
}

func TestOpenRefusals(t *testing.T) {
	c := &clock{t: t0}
	o, _, _ := newOpener(t, c, OpenOptions{})
	for _, tc := range []struct {
		name, method, body string
		status             int
	}{
		{"GET", "GET", "", http.StatusMethodNotAllowed},
		{"not JSON", "POST", "seed", http.StatusBadRequest},
		{"array", "POST", "[]", http.StatusBadRequest},
		{"seed not a boolean", "POST", `{"seed":"yes"}`, http.StatusBadRequest},
		{"unknown field", "POST", `{"seeds":true}`, http.StatusBadRequest},
		{"two objects", "POST", `{} {}`, http.StatusBadRequest},
		{"too big", "POST", `{"seed":true` + strings.Repeat(" ", maxOpenBody) + `}`, http.StatusRequestEntityTooLarge},
	} {
		w := post(o, "192.0.2.1", tc.method, tc.body)
		if w.Code != tc.status || errorCode(t, w) != CodeInvalidRequest {
			t.Errorf("%s: got %d %s, want %d with error_code %s", tc.name, w.Code, w.Body, tc.status, CodeInvalidRequest)
		}
	}
	if w := post(o, "192.0.2.1", "PUT", ""); w.Header().Get("Allow") != "POST, OPTIONS" {
		t.Errorf("405 without Allow: %v", w.Header())
	}
}

func TestOpenRateLimit(t *testing.T) {
	c := &clock{t: t0}
	var outcomes []string
	o, _, _ := newOpener(t, c, OpenOptions{RatePerHour: 2, OnOpen: func(s string) { outcomes = append(outcomes, s) }})
	for i := range 2 {
		if w := post(o, "192.0.2.1", "POST", ""); w.Code != http.StatusCreated {
			t.Fatalf("open %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := post(o, "192.0.2.1", "POST", "")
	if w.Code != http.StatusTooManyRequests || errorCode(t, w) != CodeRateLimited {
		t.Fatalf("third open within the hour: got %d %s, want 429 %s", w.Code, w.Body, CodeRateLimited)
	}
	// Two an hour: one more every 30 minutes.
	if ra := w.Header().Get("Retry-After"); ra != "1800" {
		t.Errorf("Retry-After %q, want 1800", ra)
	}
	// Another address has its own budget; an invalid request spends none.
	if w := post(o, "192.0.2.2", "POST", "{"); w.Code != http.StatusBadRequest {
		t.Fatalf("invalid: %d", w.Code)
	}
	if w := post(o, "192.0.2.2", "POST", ""); w.Code != http.StatusCreated {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
	// IPv6 clients are counted per /64.
	for i, ip := range []string{"[2001:db8::1]", "[2001:db8::2]", "[2001:db8::3]"} {
		want := http.StatusCreated
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if w := post(o, ip, "POST", ""); w.Code != want {
			t.Errorf("open from %s: %d, want %d", ip, w.Code, want)
		}
	}
	c.t = c.t.Add(30 * time.Minute)
	if w := post(o, "192.0.2.1", "POST", ""); w.Code != http.StatusCreated {
		t.Errorf("open after 30 minutes: %d %s", w.Code, w.Body)
	}
	want := []string{"opened", "opened", "rate_limited", "invalid", "opened", "opened", "opened", "rate_limited", "opened"}
	if strings.Join(outcomes, ",") != strings.Join(want, ",") {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
}

func TestOpenCap(t *testing.T) {
	c := &clock{t: t0}
	o, _, _ := newOpener(t, c, OpenOptions{MaxStores: 2, MaxAge: time.Hour, RatePerHour: 1})
	open := func(ip string, want int, wantRetry string) {
		t.Helper()
		w := post(o, ip, "POST", "")
		if w.Code != want {
			t.Fatalf("open from %s at +%s: got %d %s, want %d", ip, c.t.Sub(t0), w.Code, w.Body, want)
		}
		if want == http.StatusServiceUnavailable {
			if errorCode(t, w) != CodeFull {
				t.Errorf("error_code %v, want %s", errorCode(t, w), CodeFull)
			}
			if ra := w.Header().Get("Retry-After"); ra != wantRetry {
				t.Errorf("Retry-After %q, want %s (when the oldest live store expires)", ra, wantRetry)
			}
		}
	}
	open("192.0.2.1", http.StatusCreated, "")
	c.t = c.t.Add(10 * time.Minute)
	open("192.0.2.2", http.StatusCreated, "")
	c.t = c.t.Add(10 * time.Minute)
	open("192.0.2.3", http.StatusServiceUnavailable, "2400")
	// The first store expires at +60 min: a slot is free (the purge has not run: the
	// cap counts stores younger than MaxAge). One opening an hour is allowed, and the
	// refusal at +20 min spent none of it, or this would be a 429.
	c.t = t0.Add(time.Hour)
	open("192.0.2.3", http.StatusCreated, "")
	open("192.0.2.4", http.StatusServiceUnavailable, "600")
}

func TestIPRatesEviction(t *testing.T) {
	r := newIPRates(1, 4)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	for i := range 10 {
		if ok, _, _ := r.take(addr(i), t0); !ok {
			t.Fatalf("first take of %d refused", i)
		}
		if len(r.m) > 4 {
			t.Fatalf("%d buckets held, max 4", len(r.m))
		}
	}
	// Refilled buckets are dropped first: an hour later every bucket is full again.
	ok, _, cancel := r.take(addr(9), t0)
	if ok || cancel != nil {
		t.Errorf("second take of the last address within the hour allowed")
	}
	if ok, _, _ := r.take(addr(20), t0.Add(2*time.Hour)); !ok {
		t.Errorf("new address refused")
	}
}

func TestNewOpenerRefuses(t *testing.T) {
	s := openDB(t)
	a, err := auth.New(auth.Options{Store: s, Secret: []byte(strings.Repeat("k", 32)), Audience: auth.AudienceSandbox})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts OpenOptions
	}{
		{"no auth", OpenOptions{Store: s}},
		{"no store", OpenOptions{Auth: a}},
		{"negative cap", OpenOptions{Auth: a, Store: s, MaxStores: -1}},
		{"negative rate", OpenOptions{Auth: a, Store: s, RatePerHour: -1}},
		{"negative age", OpenOptions{Auth: a, Store: s, MaxAge: -time.Hour}},
	} {
		if _, err := NewOpener(context.Background(), tc.opts); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestParseOpenBody(t *testing.T) {
	for _, tc := range []struct {
		body string
		want openRequest
		ok   bool
	}{
		{"", openRequest{}, true},
		{"  \n", openRequest{}, true},
		{"{}", openRequest{}, true},
		{`{"seed":true}`, openRequest{Seed: true}, true},
		{`{"seed":false}`, openRequest{}, true},
		{`{"seed":1}`, openRequest{}, false},
		{`{"seed":null}`, openRequest{}, true},
		{`null`, openRequest{}, true},
		{`"x"`, openRequest{}, false},
		{`{"seed":true}x`, openRequest{}, false},
		{`{"seed":true`, openRequest{}, false},
	} {
		got, err := parseOpenBody([]byte(tc.body))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseOpenBody(%q) = %+v, %v; want %+v ok %v", tc.body, got, err, tc.want, tc.ok)
		}
		if err != nil {
			var e interface{ Unwrap() error }
			if !errors.As(err, &e) {
				t.Errorf("parseOpenBody(%q): error %T is not an answer", tc.body, err)
			}
		}
	}
}

func FuzzParseOpenBody(f *testing.F) {
	for _, s := range []string{"", "{}", `{"seed":true}`, `{"seed":"x"}`, "[", `{"a":1}`, `{"seed":true}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseOpenBody(body)
		if err != nil && req != (openRequest{}) {
			t.Errorf("error %v with a request %+v", err, req)
		}
	})
}
