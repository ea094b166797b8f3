package middleware

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"storeapi/apierror"
	"storeapi/auth"
)

// rlClock is an injected clock: time moves only when the test says. Sleep records the
// delays asked for without moving time, so that tests see every delay decision.
type rlClock struct {
	mu      sync.Mutex
	t       time.Time
	slept   []time.Duration
	delayed map[string]int
	refused map[string]int
}

func newRLClock() *rlClock {
	return &rlClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), delayed: map[string]int{}, refused: map[string]int{}}
}

func (c *rlClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *rlClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *rlClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *rlClock) OnLimit(limit string, rejected bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rejected {
		c.refused[limit]++
	} else {
		c.delayed[limit]++
	}
}

// newTestLimiter builds a RateLimiter on clk.
func newTestLimiter(t *testing.T, clk *rlClock, opts RateLimitOptions) *RateLimiter {
	t.Helper()
	opts.Now, opts.Sleep, opts.OnLimit = clk.Now, clk.Sleep, clk.OnLimit
	l, err := NewRateLimiter(opts)
	if err != nil {
		t.Fatalf("NewRateLimiter: %v", err)
	}
	return l
}

// rlOKHandler answers 200 "ok".
var rlOKHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })

// rlRequest sends one request from ip through h.
func rlRequest(h http.Handler, ip string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/v1/products.json", nil)
	r.RemoteAddr = ip + ":40000"
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() {
		r.RemoteAddr = "[" + ip + "]:40000"
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkRejected checks a 503 answer of the rate limiter.
func checkRejected(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	var body struct {
		Status    int `json:"status"`
		ErrorCode any `json:"error_code"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if body.Status != 503 || body.ErrorCode != float64(-53) {
		t.Errorf("body %s, want status 503 and error_code -53", w.Body)
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", w.Header().Get("Retry-After"))
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if w.Header().Get(h) == "" {
			t.Errorf("503 without %s", h)
		}
	}
}

func TestRateLimitDelaysThenRefuses(t *testing.T) {
	clk := newRLClock()
	l := newTestLimiter(t, clk, RateLimitOptions{Uncached: Rate{PerSecond: 6}})
	h := l.ClientLimit(rlOKHandler)
	for i := range 6 {
		w := rlRequest(h, "192.0.2.1", nil)
		if w.Code != 200 {
			t.Fatalf("request %d: status %d, want 200", i+1, w.Code)
		}
		if got, want := w.Header().Get("X-RateLimit-Remaining"), strconv.Itoa(5-i); got != want {
			t.Errorf("request %d: X-RateLimit-Remaining %s, want %s", i+1, got, want)
		}
		if got := w.Header().Get("X-RateLimit-Limit"); got != "6" {
			t.Errorf("X-RateLimit-Limit %s, want 6", got)
		}
		if got, want := w.Header().Get("X-RateLimit-Reset"), "1"; got != want {
			t.Errorf("request %d: X-RateLimit-Reset %s, want %s", i+1, got, want)
		}
	}
	if len(clk.slept) != 0 {
		t.Fatalf("the burst was delayed: %v", clk.slept)
	}
	// Over the burst: delayed by 1/6 s more each time, up to the 1 s bound.
	for i := range 6 {
		w := rlRequest(h, "192.0.2.1", nil)
		if w.Code != 200 {
			t.Fatalf("delayed request %d: status %d, want 200", i+1, w.Code)
		}
		want := time.Duration(float64(time.Second) * float64(i+1) / 6)
		if got := clk.slept[i]; math.Abs(float64(got-want)) > float64(time.Millisecond) {
			t.Errorf("delay %d = %v, want %v", i+1, got, want)
		}
	}
	checkRejected(t, rlRequest(h, "192.0.2.1", nil))
	if clk.delayed[LimitUncached] != 6 || clk.refused[LimitUncached] != 1 {
		t.Errorf("OnLimit saw %v delayed, %v refused; want 6 and 1", clk.delayed, clk.refused)
	}
	// Another client is not affected; time refills the first one.
	if w := rlRequest(h, "192.0.2.2", nil); w.Code != 200 || len(clk.slept) != 6 {
		t.Errorf("another IP: status %d, delays %d; want 200 at once", w.Code, len(clk.slept))
	}
	clk.Advance(3 * time.Second)
	if w := rlRequest(h, "192.0.2.1", nil); w.Code != 200 || len(clk.slept) != 6 {
		t.Errorf("after 3 s: status %d, delays %d; want 200 at once", w.Code, len(clk.slept))
	}
}

func TestRateLimitCachedAndAdmit(t *testing.T) {
	clk := newRLClock()
	l := newTestLimiter(t, clk, RateLimitOptions{
		Cached:   Rate{PerSecond: 30},
		Uncached: Rate{PerSecond: 2},
		MaxWait:  -1,
	})
	// A miss admitted by the cache must not be counted again by ClientLimit.
	client := l.ClientLimit(rlOKHandler)
	cacheLike := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit := r.URL.Query().Get("hit") == "1"
		r, ok := l.Admit(w, r, hit)
		if !ok {
			return
		}
		if hit {
			_, _ = w.Write([]byte("from cache"))
			return
		}
		client.ServeHTTP(w, r)
	})
	get := func(hit bool) *httptest.ResponseRecorder {
		target := "/v1/products.json"
		if hit {
			target += "?hit=1"
		}
		r := httptest.NewRequest("GET", target, nil)
		r.RemoteAddr = "198.51.100.4:1"
		w := httptest.NewRecorder()
		cacheLike.ServeHTTP(w, r)
		return w
	}
	for i := range 2 {
		if w := get(false); w.Code != 200 {
			t.Fatalf("miss %d: status %d, want 200 (counted twice?)", i+1, w.Code)
		}
	}
	checkRejected(t, get(false))
	// Hits have their own, larger budget.
	for i := range 30 {
		w := get(true)
		if w.Code != 200 {
			t.Fatalf("hit %d: status %d, want 200", i+1, w.Code)
		}
		if i == 0 && w.Header().Get("X-RateLimit-Limit") != "30" {
			t.Errorf("hit X-RateLimit-Limit %s, want 30", w.Header().Get("X-RateLimit-Limit"))
		}
	}
	checkRejected(t, get(true))
	if clk.refused[LimitCached] != 1 || clk.refused[LimitUncached] != 1 {
		t.Errorf("refused %v, want one of each", clk.refused)
	}
}

func TestRateLimitIPv6Networks(t *testing.T) {
	clk := newRLClock()
	l := newTestLimiter(t, clk, RateLimitOptions{Uncached: Rate{PerSecond: 1}, MaxWait: -1})
	h := l.ClientLimit(rlOKHandler)
	if w := rlRequest(h, "2001:db8:1:2::1", nil); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	// Same /64: same bucket.
	checkRejected(t, rlRequest(h, "2001:db8:1:2::ffff", nil))
	// Another /64: its own.
	if w := rlRequest(h, "2001:db8:1:3::1", nil); w.Code != 200 {
		t.Errorf("another /64: status %d, want 200", w.Code)
	}
}

// fakeAuthenticate stands in for Authenticate: token "good" verifies as the
// authentication named by X-My-ID; anything else is a 401.
func fakeAuthenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-Access-Token")
		if tok == "" {
			next.ServeHTTP(w, r)
			return
		}
		if tok != "good" {
			apierror.Write(w, r, nil, apierror.New(http.StatusUnauthorized, 102, "bad token"))
			return
		}
		id := &auth.Identity{AuthenticationID: r.Header.Get("X-My-ID"), StoreID: 1000}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

func TestRateLimitPerAuthentication(t *testing.T) {
	clk := newRLClock()
	l := newTestLimiter(t, clk, RateLimitOptions{
		Uncached: Rate{PerSecond: 2},
		Auth:     Rate{PerSecond: 3},
		MaxWait:  -1,
	})
	h := Chain(rlOKHandler, l.ClientLimit, fakeAuthenticate, l.AuthLimit)
	const ip = "203.0.113.50"
	asA := map[string]string{"X-Access-Token": "good", "X-My-ID": "aaaaaaaaaaaaaaaaaaaaaaaa"}
	asB := map[string]string{"X-Access-Token": "good", "X-My-ID": "bbbbbbbbbbbbbbbbbbbbbbbb"}
	bad := map[string]string{"X-Access-Token": "forged", "X-My-ID": "aaaaaaaaaaaaaaaaaaaaaaaa"}
	for i := range 3 {
		w := rlRequest(h, ip, asA)
		if w.Code != 200 {
			t.Fatalf("authenticated %d: status %d, want 200", i+1, w.Code)
		}
		if got := w.Header().Get("X-RateLimit-Limit"); got != "3" {
			t.Errorf("authenticated answer X-RateLimit-Limit %s, want the auth limit 3", got)
		}
	}
	checkRejected(t, rlRequest(h, ip, asA))
	if w := rlRequest(h, ip, asB); w.Code != 200 {
		t.Errorf("another authentication from the same IP: status %d, want 200", w.Code)
	}
	// Authenticated requests did not use the IP's budget: two public requests pass...
	for i := range 2 {
		if w := rlRequest(h, ip, nil); w.Code != 200 {
			t.Fatalf("public %d: status %d, want 200", i+1, w.Code)
		}
	}
	checkRejected(t, rlRequest(h, ip, nil))
	// ...and failed credentials are charged to the IP: refused before being checked.
	const ip2 = "203.0.113.51"
	for i := range 2 {
		if w := rlRequest(h, ip2, bad); w.Code != http.StatusUnauthorized {
			t.Fatalf("forged %d: status %d, want 401", i+1, w.Code)
		}
	}
	checkRejected(t, rlRequest(h, ip2, bad))
	if c, u, a := l.Keys(); c != 0 || u != 2 || a != 2 {
		t.Errorf("Keys() = %d, %d, %d; want 0, 2, 2", c, u, a)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	clk := newRLClock()
	l := newTestLimiter(t, clk, RateLimitOptions{})
	h := Chain(rlOKHandler, l.ClientLimit, fakeAuthenticate, l.AuthLimit)
	for range 100 {
		w := rlRequest(h, "192.0.2.9", map[string]string{"X-Access-Token": "good", "X-My-ID": "a"})
		if w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("status %d, limit header %q; want 200 and no limit", w.Code, w.Header().Get("X-RateLimit-Limit"))
		}
		if r, ok := l.Admit(w, httptest.NewRequest("GET", "/", nil), true); !ok || r == nil {
			t.Fatal("Admit refused with limits off")
		}
	}
}

func TestRateLimitClientGoneWhileWaiting(t *testing.T) {
	clk := newRLClock()
	l := newTestLimiter(t, clk, RateLimitOptions{Uncached: Rate{PerSecond: 1}})
	h := l.ClientLimit(rlOKHandler)
	if w := rlRequest(h, "192.0.2.1", nil); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	r.RemoteAddr = "192.0.2.1:1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	// The abandoned reservation was given back: one second later the bucket has a
	// token and the next request is not delayed.
	clk.Advance(time.Second)
	slept := len(clk.slept)
	if w := rlRequest(h, "192.0.2.1", nil); w.Code != 200 || len(clk.slept) != slept {
		t.Errorf("status %d, delays %v; want 200 without delay", w.Code, clk.slept[slept:])
	}
}

func TestNewRateLimiterRefusesBadRates(t *testing.T) {
	for _, rt := range []Rate{{PerSecond: -1}, {PerSecond: math.NaN()}, {PerSecond: math.Inf(1)}, {PerSecond: 1, Burst: -1}} {
		if _, err := NewRateLimiter(RateLimitOptions{Auth: rt}); err == nil {
			t.Errorf("rate %+v accepted", rt)
		}
	}
}

// TestLimiterTableBounded feeds 1.5 million distinct client addresses through one table:
// it must never hold more than its bound, and a client that keeps coming back must keep
// its limiter (its state) all along.
func TestLimiterTableBounded(t *testing.T) {
	n := 1_500_000
	if testing.Short() {
		n = 200_000
	}
	const maxKeys = 100_000
	tab, err := newLimiterTable[netip.Addr]("uncached", Rate{PerSecond: 6}, maxKeys)
	if err != nil {
		t.Fatal(err)
	}
	hot := netip.MustParseAddr("198.51.100.1")
	hotLim := tab.get(hot)
	peak := 0
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if i >= 1<<24 {
			t.Fatal("test addresses overflowed")
		}
		tab.get(a)
		if i%1000 == 0 {
			if tab.get(hot) != hotLim {
				t.Fatalf("after %d other clients the hot client lost its limiter", i)
			}
		}
		if i%100_000 == 0 {
			peak = max(peak, tab.len())
		}
	}
	peak = max(peak, tab.len())
	if peak > maxKeys {
		t.Errorf("table held %d limiters, bound %d", peak, maxKeys)
	}
	if peak < maxKeys/4 {
		t.Errorf("table held only %d limiters: eviction too eager for a bound of %d", peak, maxKeys)
	}
}

func BenchmarkRateLimitAdmitHit(b *testing.B) {
	l, err := NewRateLimiter(RateLimitOptions{Cached: Rate{PerSecond: 1e9, Burst: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v1/products.json", nil)
	r.RemoteAddr = "192.0.2.1:5000"
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		l.Admit(w, r, true)
	}
}
