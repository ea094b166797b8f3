package middleware

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"storeapi/apierror"
)

// The names of the three limits, as OnLimit and the metrics report them.
const (
	// LimitCached is the per-client-IP limit of GETs answered from the response cache.
	LimitCached = "cached"
	// LimitUncached is the per-client-IP limit of every other request.
	LimitUncached = "uncached"
	// LimitAuth is the per-authentication limit of authenticated requests.
	LimitAuth = "auth"
)

// Defaults of RateLimitOptions.
const (
	// DefaultMaxWait is how long a request over its limit may be delayed before it is
	// refused instead.
	DefaultMaxWait = time.Second
	// DefaultMaxKeys bounds each limiter table (client IPs of each class, authentications).
	// A table entry costs about 150 bytes, so the three tables stay under ~50 MB.
	DefaultMaxKeys = 100_000
)

// codeRateLimited is the error_code of a 503 answer to a client over its limit.
const codeRateLimited = -53

// limiterShards is the number of independently locked parts of a limiter table.
const limiterShards = 64

// Context keys of the rate limiter (after the ones context.go declares).
const (
	admittedKey contextKey = 100 + iota
	probeKey
)

// Rate is one limit: PerSecond requests a second sustained, with bursts of up to Burst
// requests at once. PerSecond 0 turns the limit off. Burst 0 means max(1, ⌈PerSecond⌉).
type Rate struct {
	PerSecond float64
	Burst     int
}

// RateLimitOptions configure a RateLimiter.
type RateLimitOptions struct {
	// Cached limits each client IP's GETs answered from the response cache (SPEC: 30/s).
	Cached Rate
	// Uncached limits each client IP's other requests (SPEC: 6/s).
	Uncached Rate
	// Auth limits each authentication's requests (SPEC: 6/s).
	Auth Rate
	// MaxWait is the longest a request over its limit is delayed before it is refused
	// with 503; 0 means DefaultMaxWait, a negative value refuses at once.
	MaxWait time.Duration
	// MaxKeys bounds the entries of each limiter table (DefaultMaxKeys when 0). Idle
	// clients are forgotten first; a forgotten client starts again with a full burst.
	MaxKeys int
	// ClientIP returns a request's client address; the peer of the connection when nil
	// (see TrustedProxies.ClientIP). IPv6 clients are limited per /64 network.
	ClientIP func(r *http.Request) netip.Addr
	// OnLimit, when set, is called each time a request of a limit is delayed
	// (rejected false) or refused (rejected true).
	OnLimit func(limit string, rejected bool)
	// Log receives refused requests at debug level; nil discards.
	Log *slog.Logger
	// Now is the clock (time.Now when nil); Sleep waits d or until ctx ends (a timer
	// when nil). Tests inject both.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// RateLimiter enforces the per-client-IP and per-authentication request limits of SPEC
// §7 with token buckets (golang.org/x/time/rate). A request over its limit is first
// delayed, up to MaxWait, and then refused with 503, error_code -53 and Retry-After.
// Every limited answer carries X-RateLimit-Limit (the sustained rate per second),
// X-RateLimit-Remaining (the requests that may follow at once) and X-RateLimit-Reset
// (seconds until the bucket is full again).
//
// It is used in three places: Admit, called by the response cache once it knows
// whether a GET is a hit; ClientLimit, before the store and authentication are
// resolved, for every request Admit has not seen; and AuthLimit, after Authenticate.
// An authenticated request is limited per authentication, not per IP, but a request
// whose credentials fail is charged to its IP's uncached limit, and credentials are
// not even checked while that limit is exhausted.
//
// Memory is bounded: each table keeps at most MaxKeys limiters, forgetting the idle
// ones first. It is safe for concurrent use.
type RateLimiter struct {
	cached   *limiterTable[netip.Addr]
	uncached *limiterTable[netip.Addr]
	auth     *limiterTable[string]
	maxWait  time.Duration
	clientIP func(*http.Request) netip.Addr
	onLimit  func(string, bool)
	log      *slog.Logger
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
}

// NewRateLimiter returns a RateLimiter; a negative or non-finite rate or burst is an error.
func NewRateLimiter(opts RateLimitOptions) (*RateLimiter, error) {
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	l := &RateLimiter{
		maxWait:  opts.MaxWait,
		clientIP: opts.ClientIP,
		onLimit:  opts.OnLimit,
		log:      opts.Log,
		now:      opts.Now,
		sleep:    opts.Sleep,
	}
	var err error
	if l.cached, err = newLimiterTable[netip.Addr](LimitCached, opts.Cached, maxKeys); err != nil {
		return nil, err
	}
	if l.uncached, err = newLimiterTable[netip.Addr](LimitUncached, opts.Uncached, maxKeys); err != nil {
		return nil, err
	}
	if l.auth, err = newLimiterTable[string](LimitAuth, opts.Auth, maxKeys); err != nil {
		return nil, err
	}
	if l.maxWait == 0 {
		l.maxWait = DefaultMaxWait
	}
	if l.maxWait < 0 {
		l.maxWait = 0
	}
	if l.clientIP == nil {
		l.clientIP = TrustedProxies{}.ClientIP
	}
	if l.onLimit == nil {
		l.onLimit = func(string, bool) {}
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sleep == nil {
		l.sleep = sleepContext
	}
	return l, nil
}

// Keys returns how many limiters each table holds now: client IPs of cached GETs,
// client IPs of other requests, and authentications.
func (l *RateLimiter) Keys() (cached, uncached, auth int) {
	return l.cached.len(), l.uncached.len(), l.auth.len()
}

// Admit applies the client IP's limit to a request the response cache is about to
// answer: the cached limit for a hit, the uncached one for a miss. It reports false
// after answering 503 itself. On true the request to pass on is returned: for a miss
// it is r marked as admitted, so that ClientLimit does not count it a second time.
func (l *RateLimiter) Admit(w http.ResponseWriter, r *http.Request, hit bool) (*http.Request, bool) {
	if hit {
		if l.cached == nil {
			return r, true
		}
		return r, take(l, w, r, l.cached, l.ipKey(r))
	}
	if l.uncached == nil {
		return r, true
	}
	if !take(l, w, r, l.uncached, l.ipKey(r)) {
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), admittedKey, true)), true
}

// authProbe is how AuthLimit tells ClientLimit that a request's credentials held.
type authProbe struct{ verified bool }

// ClientLimit applies the client IP's uncached limit to every request that Admit has not
// already admitted. Requests that send credentials (X-Access-Token or X-My-ID) are let
// through to be limited per authentication, unless their IP's limit is exhausted; when
// their credentials then fail, the IP is charged. Place it before the Store and
// Authenticate middleware so that refused requests cost no database work.
func (l *RateLimiter) ClientLimit(next http.Handler) http.Handler {
	if l.uncached == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if admitted, _ := r.Context().Value(admittedKey).(bool); admitted {
			next.ServeHTTP(w, r)
			return
		}
		ip := l.ipKey(r)
		if r.Header.Get("X-Access-Token") == "" && r.Header.Get("X-My-ID") == "" {
			if take(l, w, r, l.uncached, ip) {
				next.ServeHTTP(w, r)
			}
			return
		}
		lim := l.uncached.get(ip)
		now := l.now()
		if lim.TokensAt(now) < 1 {
			// Failed credentials used this IP's requests up: the request waits (or is
			// refused) as an unauthenticated one would, and pays.
			if !take(l, w, r, l.uncached, ip) {
				return
			}
		} else {
			l.uncached.setHeaders(w.Header(), lim, now)
		}
		probe := &authProbe{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), probeKey, probe)))
		if !probe.verified {
			lim.AllowN(l.now(), 1)
		}
	})
}

// AuthLimit applies the per-authentication limit to requests that Authenticate verified
// (Identity is set); other requests pass untouched. Place it right after Authenticate.
func (l *RateLimiter) AuthLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Identity(r.Context())
		if id == nil {
			next.ServeHTTP(w, r)
			return
		}
		if probe, _ := r.Context().Value(probeKey).(*authProbe); probe != nil {
			probe.verified = true
		}
		if l.auth != nil && !take(l, w, r, l.auth, id.AuthenticationID) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ipKey is the limiter key of a request's client: its address, or its /64 network for
// IPv6 (one subscriber commonly holds a whole /64).
func (l *RateLimiter) ipKey(r *http.Request) netip.Addr {
	a := l.clientIP(r)
	if a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// take spends one token of key's bucket in t. Within the bucket it returns true at
// once; over it, it waits up to maxWait and returns true; beyond that it answers 503
// and returns false. The X-RateLimit headers are set in every case.
func take[K comparable](l *RateLimiter, w http.ResponseWriter, r *http.Request, t *limiterTable[K], key K) bool {
	now := l.now()
	lim := t.get(key)
	res := lim.ReserveN(now, 1)
	h := w.Header()
	if res.OK() {
		delay := res.DelayFrom(now)
		t.setHeaders(h, lim, now)
		if delay == 0 {
			return true
		}
		if delay <= l.maxWait {
			l.onLimit(t.name, false)
			if err := l.sleep(r.Context(), delay); err == nil {
				return true
			}
			// The client went away while waiting: give the token back.
		}
		res.CancelAt(now)
	}
	l.onLimit(t.name, true)
	t.setHeaders(h, lim, now)
	need := 1 - lim.TokensAt(now)
	retry := 1
	if need > 0 && t.limit > 0 {
		retry = max(1, int(math.Ceil(need/float64(t.limit))))
	}
	e := apierror.Newf(http.StatusServiceUnavailable, codeRateLimited,
		"too many requests: the %s limit is %s a second, retry after %d s", t.name, t.limitText, retry)
	e.Header = http.Header{"Retry-After": {strconv.Itoa(retry)}}
	apierror.Write(w, r, l.log, e)
	return false
}

// sleepContext waits d, or until ctx ends (returning its error).
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// limiterTable holds one token bucket per key, at most maxKeys of them. Each shard keeps
// two generations of keys: a key used during the current generation is in cur, one
// used only during the previous one in prev; when cur is full, prev (the keys idle for
// a whole generation) is dropped and cur becomes prev. A key found in prev moves back
// to cur, so active clients are never forgotten while idle ones are.
type limiterTable[K comparable] struct {
	name      string
	limit     rate.Limit
	burst     int
	limitText string // X-RateLimit-Limit
	seed      maphash.Seed
	half      int // entries per generation of one shard
	shards    [limiterShards]limiterShard[K]
}

// limiterShard is one independently locked part of a limiterTable.
type limiterShard[K comparable] struct {
	mu   sync.Mutex
	cur  map[K]*rate.Limiter
	prev map[K]*rate.Limiter
	_    [40]byte // keeps shards on separate cache lines
}

// newLimiterTable returns a table for rt, or nil when rt is off (PerSecond 0).
func newLimiterTable[K comparable](name string, rt Rate, maxKeys int) (*limiterTable[K], error) {
	if rt.PerSecond < 0 || math.IsNaN(rt.PerSecond) || math.IsInf(rt.PerSecond, 0) || rt.Burst < 0 {
		return nil, fmt.Errorf("middleware: %s rate limit %v/s burst %d: %w", name, rt.PerSecond, rt.Burst, errBadRate)
	}
	if rt.PerSecond == 0 {
		return nil, nil
	}
	burst := rt.Burst
	if burst == 0 {
		burst = max(1, int(math.Ceil(rt.PerSecond)))
	}
	t := &limiterTable[K]{
		name:      name,
		limit:     rate.Limit(rt.PerSecond),
		burst:     burst,
		limitText: strconv.FormatFloat(rt.PerSecond, 'f', -1, 64),
		seed:      maphash.MakeSeed(),
		half:      max(1, maxKeys/(2*limiterShards)),
	}
	for i := range t.shards {
		t.shards[i].cur = map[K]*rate.Limiter{}
	}
	return t, nil
}

// errBadRate is wrapped by NewRateLimiter's error for an impossible rate.
var errBadRate = errors.New("a rate and a burst must be finite and not negative")

// get returns key's limiter, creating it with a full bucket when the table has none.
func (t *limiterTable[K]) get(key K) *rate.Limiter {
	s := &t.shards[maphash.Comparable(t.seed, key)%limiterShards]
	s.mu.Lock()
	lim := s.cur[key]
	if lim == nil {
		if lim = s.prev[key]; lim != nil {
			delete(s.prev, key)
		} else {
			lim = rate.NewLimiter(t.limit, t.burst)
		}
		if len(s.cur) >= t.half {
			s.prev = s.cur
			s.cur = make(map[K]*rate.Limiter, t.half/4)
		}
		s.cur[key] = lim
	}
	s.mu.Unlock()
	return lim
}

// len counts the limiters held.
func (t *limiterTable[K]) len() int {
	if t == nil {
		return 0
	}
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.prev)
		s.mu.Unlock()
	}
	return n
}

// setHeaders writes the X-RateLimit headers of lim's state at now.
func (t *limiterTable[K]) setHeaders(h http.Header, lim *rate.Limiter, now time.Time) {
	tokens := lim.TokensAt(now)
	remaining := 0
	if tokens >= 1 {
		remaining = int(tokens)
	}
	reset := 0
	if missing := float64(t.burst) - tokens; missing > 0 {
		reset = int(math.Ceil(missing / float64(t.limit)))
	}
	h["X-Ratelimit-Limit"] = []string{t.limitText}
	h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(remaining)}
	h["X-Ratelimit-Reset"] = []string{strconv.Itoa(reset)}
}
