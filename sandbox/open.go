package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"storeapi/apierror"
	"storeapi/auth"
	"storeapi/db"
	"storeapi/schemas"
)

// Error codes (error_code) of the Opener's refusals.
const (
	// CodeInvalidRequest is a body that is not {"seed": <bool>} (400), or a verb other
	// than POST (405).
	CodeInvalidRequest = "sandbox_invalid_request"
	// CodeRateLimited is a client IP over its opening rate (429, Retry-After).
	CodeRateLimited = "sandbox_rate_limited"
	// CodeFull is the cap of live sandbox stores reached (503, Retry-After: when the
	// oldest live store expires).
	CodeFull = "sandbox_full"
)

// maxOpenBody is the largest body of an opening request.
const maxOpenBody = 4 << 10

// maxRateKeys bounds how many client IPs the opening rate remembers.
const maxRateKeys = 100_000

// OpenOptions configure an Opener.
type OpenOptions struct {
	// Auth is the sandbox environment's auth service (audience "sandbox"); stores are
	// created through it. Required.
	Auth *auth.Service
	// Store is the sandbox database the seed data is written to (with the response
	// cache's decorator). Required.
	Store db.Store
	// Registry is the database the opened stores are recorded and counted in
	// (CollOpened, under store 0): the sandbox database without the cache decorator,
	// since these records are no store's data. nil: Store.
	Registry db.Store
	// Schemas, when set, completes the seed data with the schemas' defaults and checks
	// it, as the resource engine does for documents clients send.
	Schemas *schemas.Set
	// MaxAge is how long a store lives (its expires_at); DefaultMaxAge when 0.
	MaxAge time.Duration
	// RatePerHour is how many stores a client IP (an IPv6 /64) may open per hour: a
	// bucket of that many, refilled evenly over the hour. 0 turns the limit off.
	RatePerHour float64
	// MaxStores caps the stores alive at once (opened less than MaxAge ago); 0 turns
	// the cap off.
	MaxStores int
	// ClientIP returns the client's address (see middleware.TrustedProxies.ClientIP);
	// nil means the connection's peer.
	ClientIP func(r *http.Request) netip.Addr
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives refusals (debug) and failures (error); nil discards.
	Log *slog.Logger
	// OnOpen, when set, is called once per request with its outcome: "opened",
	// "rate_limited", "full", "invalid" or "failed".
	OnOpen func(outcome string)
}

// Opened is the answer to an opening request: the new store and its admin's
// credentials (shown once: the password is stored only as a hash), its lifetime, and
// the ids of the seed documents per resource when seed data was asked for.
type Opened struct {
	StoreID          int64  `json:"store_id"`
	AuthenticationID string `json:"authentication_id"`
	Username         string `json:"username"`
	Password         string `json:"password"`
	APIKey           string `json:"api_key"`
	// CreatedAt is when the store was opened; ExpiresAt is CreatedAt + MaxAge: the store
	// and everything in it are deleted at the first purge round after that.
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
	// Seed lists the seed documents' ids by resource; SeedError says why seeding
	// stopped early (the store is open all the same).
	Seed      map[string][]string `json:"seed,omitempty"`
	SeedError string              `json:"seed_error,omitempty"`
}

// Opener serves POST /v1/_sandbox.json of the sandbox (no authentication, no store):
// it opens a sandbox store and answers 201 with Opened. The body is optional; it may be
// {"seed": true} to fill the store with sample brands, categories, products, a customer
// and an order. Refusals: 400 for another body, 405 for another verb, 429 over the
// client's opening rate and 503 when MaxStores stores are alive, each with Retry-After.
//
// The cap is checked and the store recorded under one lock, so one node never goes
// over it; nodes sharing a database may go over it by as many stores as are opened on
// them at the same instant.
type Opener struct {
	auth      *auth.Service
	store     db.Store
	registry  db.Store
	schemas   *schemas.Set
	maxAge    time.Duration
	maxStores int
	clientIP  func(*http.Request) netip.Addr
	now       func() time.Time
	log       *slog.Logger
	onOpen    func(string)
	rates     *ipRates
	mu        sync.Mutex // serialises the cap check with the store's creation
}

// NewOpener checks opts and returns an Opener. It creates the index of CollOpened that
// counting live stores uses.
func NewOpener(ctx context.Context, opts OpenOptions) (*Opener, error) {
	o := &Opener{auth: opts.Auth, store: opts.Store, registry: opts.Registry, schemas: opts.Schemas,
		maxAge: opts.MaxAge, maxStores: opts.MaxStores, clientIP: opts.ClientIP,
		now: opts.Now, log: opts.Log, onOpen: opts.OnOpen}
	switch {
	case o.auth == nil || o.store == nil:
		return nil, errors.New("sandbox: the opener needs auth and a store")
	case opts.MaxAge < 0:
		return nil, errors.New("sandbox: negative max age")
	case opts.MaxStores < 0:
		return nil, errors.New("sandbox: negative store cap")
	case opts.RatePerHour < 0 || math.IsNaN(opts.RatePerHour) || math.IsInf(opts.RatePerHour, 0):
		return nil, errors.New("sandbox: the opening rate must be 0 (off) or a positive number")
	}
	if o.registry == nil {
		o.registry = o.store
	}
	if o.maxAge == 0 {
		o.maxAge = DefaultMaxAge
	}
	if o.clientIP == nil {
		o.clientIP = peerIP
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.onOpen == nil {
		o.onOpen = func(string) {}
	}
	if opts.RatePerHour > 0 {
		o.rates = newIPRates(opts.RatePerHour, maxRateKeys)
	}
	if err := o.registry.EnsureIndexes(ctx, CollOpened, []db.Index{{Paths: []string{Field}}}); err != nil {
		return nil, fmt.Errorf("sandbox: index of %s: %w", CollOpened, err)
	}
	return o, nil
}

// openRequest is the body of an opening request.
type openRequest struct {
	Seed bool `json:"seed"`
}

// parseOpenBody reads the body of an opening request: empty, or one JSON object with
// at most the boolean "seed". Anything else is a 400 saying what is wrong.
func parseOpenBody(body []byte) (openRequest, error) {
	var req openRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return openRequest{}, errInvalid(`the body must be empty or a JSON object {"seed": true|false}: ` + jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return openRequest{}, errInvalid(`the body must be one JSON object {"seed": true|false}, with nothing after it`)
	}
	return req, nil
}

// jsonProblem describes a decoding error without echoing the client's data at length.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return strconv.Quote(typeErr.Field) + " must be a boolean"
		}
		return "not a JSON object"
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON"
	}
	if msg := err.Error(); len(msg) < 100 {
		return msg // e.g. json: unknown field "seeds"
	}
	return "malformed JSON"
}

// errInvalid is the 400 of a bad opening request.
func errInvalid(message string) *apierror.Error {
	return apierror.New(http.StatusBadRequest, CodeInvalidRequest, message)
}

// ServeHTTP opens a store (see Opener).
func (o *Opener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	opened, outcome, err := o.serve(w, r)
	o.onOpen(outcome)
	if err != nil {
		apierror.Write(w, r, o.log, err)
		return
	}
	data, err := json.Marshal(opened)
	if err != nil {
		apierror.Write(w, r, o.log, apierror.Internal(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(data)
}

// serve runs one opening request; outcome is what OnOpen reports.
func (o *Opener) serve(w http.ResponseWriter, r *http.Request) (Opened, string, error) {
	if r.Method != http.MethodPost {
		e := apierror.Newf(http.StatusMethodNotAllowed, CodeInvalidRequest, "%s is not allowed here: POST opens a sandbox store", r.Method)
		e.Header = http.Header{"Allow": {"POST, OPTIONS"}}
		return Opened{}, "invalid", e
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOpenBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Opened{}, "invalid", apierror.Newf(http.StatusRequestEntityTooLarge, CodeInvalidRequest,
				"the body is over %d bytes", maxOpenBody)
		}
		return Opened{}, "invalid", errInvalid("the body could not be read")
	}
	req, err := parseOpenBody(body)
	if err != nil {
		return Opened{}, "invalid", err
	}

	now := o.now()
	var undo func()
	if o.rates != nil {
		ok, retry, cancel := o.rates.take(ipKey(o.clientIP(r)), now)
		if !ok {
			e := apierror.Newf(http.StatusTooManyRequests, CodeRateLimited,
				"too many sandbox stores opened from your address: the limit is %s an hour; retry after %d s",
				strconv.FormatFloat(o.rates.perHour, 'f', -1, 64), retry)
			e.Header = http.Header{"Retry-After": {strconv.Itoa(retry)}}
			return Opened{}, "rate_limited", e
		}
		undo = cancel
	}
	opened, outcome, err := o.open(r.Context(), req, now)
	if err != nil && undo != nil {
		undo() // a refused or failed opening does not count against the client
	}
	return opened, outcome, err
}

// open checks the cap, creates the store, records it and seeds it.
func (o *Opener) open(ctx context.Context, req openRequest, now time.Time) (Opened, string, error) {
	o.mu.Lock()
	if o.maxStores > 0 {
		live, retry, err := o.live(ctx, now)
		if err != nil {
			o.mu.Unlock()
			return Opened{}, "failed", apierror.Internal(err)
		}
		if live >= int64(o.maxStores) {
			o.mu.Unlock()
			e := apierror.Newf(http.StatusServiceUnavailable, CodeFull,
				"the sandbox holds its maximum of %d live stores; one expires in %d s, retry then", o.maxStores, retry)
			e.Header = http.Header{"Retry-After": {strconv.Itoa(retry)}}
			return Opened{}, "full", e
		}
	}
	// The clock is read before the store is created, so that expires_at is never after
	// the moment its created_at makes the purge take it.
	created := db.Timestamp(now)
	b, err := o.auth.CreateStore(ctx, auth.StoreOptions{Name: "Sandbox store"})
	if err != nil {
		o.mu.Unlock()
		return Opened{}, "failed", err
	}
	expires := db.Timestamp(now.Add(o.maxAge))
	if err := o.registry.Insert(context.WithoutCancel(ctx), CollOpened, db.Doc{
		"_id": db.NewID(), "store_id": int64(0), "store": b.StoreID, Field: created, "expires_at": expires,
	}); err != nil {
		// The store is open and its owner gets it; it just escapes the cap.
		o.log.Error("sandbox: recording an opened store failed", "store_id", b.StoreID, "error", err)
	}
	o.mu.Unlock()

	opened := Opened{StoreID: b.StoreID, AuthenticationID: b.AuthenticationID, Username: b.Username,
		Password: b.Password, APIKey: b.APIKey, CreatedAt: created, ExpiresAt: expires}
	if req.Seed {
		// The store exists: whatever happens now, its credentials are answered (a 5xx
		// would make clients open another one).
		ids, err := seed(context.WithoutCancel(ctx), o.store, o.schemas, b.StoreID, o.now())
		if len(ids) > 0 {
			opened.Seed = ids
		}
		if err != nil {
			o.log.Error("sandbox: seeding a store failed", "store_id", b.StoreID, "error", err)
			opened.SeedError = "the seed data could not all be written; the store is open"
		}
	}
	o.log.Info("sandbox: store opened", "store_id", b.StoreID, "seed", req.Seed, "expires_at", expires)
	return opened, "opened", nil
}

// live counts the stores opened less than MaxAge ago, and when the oldest of them
// expires, in whole seconds from now (at least 1).
func (o *Opener) live(ctx context.Context, now time.Time) (int64, int, error) {
	since := db.Timestamp(now.Add(-o.maxAge).Add(time.Millisecond))
	conds := []db.Cond{{Path: Field, Op: db.OpGte, Values: []db.Value{{Typed: since, Raw: since}}}}
	n, err := o.registry.Count(ctx, CollOpened, 0, conds)
	if err != nil {
		return 0, 0, fmt.Errorf("sandbox: counting live stores: %w", err)
	}
	retry := 1
	if n < int64(o.maxStores) {
		return n, retry, nil
	}
	oldest, err := o.registry.Find(ctx, CollOpened, db.Query{StoreID: 0, Conds: conds,
		Sort: []db.SortField{{Path: Field}}, Fields: []string{Field}, Limit: 1})
	if err != nil {
		return 0, 0, fmt.Errorf("sandbox: finding the oldest live store: %w", err)
	}
	if len(oldest) == 1 {
		s, _ := oldest[0][Field].(string)
		if t, err := parseTimestamp(s); err == nil {
			retry = max(1, int(math.Ceil(t.Add(o.maxAge).Sub(now).Seconds())))
		}
	}
	return n, retry, nil
}

// peerIP is the address of the connection's peer.
func peerIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// ipKey is the rate key of a client: its address, or its /64 network for IPv6 (one
// subscriber commonly holds a whole /64).
func ipKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// ipRates holds one token bucket per client key, at most max of them: when full, the
// buckets that have refilled completely (which a new bucket equals) are dropped, and
// if that is not enough, arbitrary ones (the cap on live stores still bounds what a
// client with countless addresses can open).
type ipRates struct {
	perHour float64
	limit   rate.Limit
	burst   int
	max     int
	mu      sync.Mutex
	m       map[netip.Addr]*rate.Limiter
}

// newIPRates returns the buckets of perHour openings an hour.
func newIPRates(perHour float64, maxKeys int) *ipRates {
	return &ipRates{perHour: perHour, limit: rate.Limit(perHour / 3600),
		burst: max(1, int(math.Ceil(perHour))), max: maxKeys, m: map[netip.Addr]*rate.Limiter{}}
}

// take spends one token of key's bucket at now. When there is none it returns false
// and the seconds until there is one; otherwise true and a function that gives the
// token back.
func (t *ipRates) take(key netip.Addr, now time.Time) (ok bool, retry int, cancel func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lim := t.m[key]
	if lim == nil {
		if len(t.m) >= t.max {
			t.evict(now)
		}
		lim = rate.NewLimiter(t.limit, t.burst)
		t.m[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, 3600, nil
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, max(1, int(math.Ceil(d.Seconds()))), nil
	}
	return true, 0, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		res.CancelAt(now)
	}
}

// evict makes room: it drops full buckets, then arbitrary ones down to half of max.
func (t *ipRates) evict(now time.Time) {
	for k, lim := range t.m {
		if lim.TokensAt(now) >= float64(t.burst) {
			delete(t.m, k)
		}
	}
	for k := range t.m {
		if len(t.m) <= t.max/2 {
			break
		}
		delete(t.m, k)
	}
}
