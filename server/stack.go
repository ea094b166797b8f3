package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"time"

	"storeapi/auth"
	"storeapi/cache"
	"storeapi/db"
	"storeapi/metrics"
	"storeapi/middleware"
	"storeapi/resources"
	"storeapi/schemas"
	"storeapi/webhooks"
)

// stack is one environment's whole API — production, or the sandbox — over its own
// database: the storage (wrapped by metrics and the response cache), auth with its own
// token audience, the resource engine, and the handler chain of /v1/….
type stack struct {
	name   string // auth audience and log name: "production" or "sandbox"
	log    *slog.Logger
	raw    db.Store
	store  db.Store
	auth   *auth.Service
	engine *resources.Engine
	cache  *cache.Cache
	hooks  *webhooks.Dispatcher
	api    http.Handler
}

// newStack builds an environment over raw. Environments share the schemas, the rate
// limiter (a client's budget is one) and the metrics, never a cache or a token.
func (s *Server) newStack(ctx context.Context, name string, raw db.Store, secret []byte, set *schemas.Set) (*stack, error) {
	st := &stack{name: name, raw: raw, log: s.log.With("env", name)}
	poll := s.cfg.CachePoll
	if s.cfg.EngineName() == "sqlite" {
		poll = -1 // one process owns the embedded database: no other node to hear from
	}
	// The cache's markers go through the metrics-wrapped store, not the cache's own.
	measured := metrics.WrapStore(raw, s.metrics)
	var err error
	st.cache, err = cache.New(ctx, cache.Options{MaxMB: s.cfg.CacheMB, TTL: s.cfg.CacheTTL, Poll: poll,
		Store: measured, Limit: s.limiter.Admit, OnLookup: s.metrics.CacheLookup, Log: s.log,
		// Collections no public answer shows: writing them leaves cached answers alone.
		SkipCollections: []string{"triggers", webhooks.QueueCollection, webhooks.DeliveryCollection}})
	if err != nil {
		return nil, err
	}
	// Every write of every package goes through the cache's decorator, so none can
	// forget to make its store's cached answers fresh.
	st.store = cache.WrapStore(measured, st.cache)
	st.auth, err = auth.New(auth.Options{Store: st.store, Secret: secret, TokenTTL: s.cfg.TokenTTL, Audience: name})
	if err != nil {
		return nil, err
	}
	// The dispatcher's bookkeeping lives under the system store 0; through the cache it
	// would read as "every store changed" (its store_api calls go through the engine).
	st.hooks, err = webhooks.New(webhooks.Options{Store: measured, Log: st.log, Secret: secret,
		Backoff: s.cfg.WebhookBackoff, AllowPrivate: s.cfg.WebhookAllowPrivate,
		External: name == auth.AudienceProduction || s.cfg.SandboxWebhooks, StoreAPI: st.storeAPI})
	if err != nil {
		return nil, err
	}
	st.engine, err = resources.New(resources.Options{Store: st.store, Schemas: set, Auth: st.auth, Log: s.log, MaxBody: s.cfg.MaxBody,
		// A write's webhook queue entry commits with it and its trigger.
		OnTrigger: func(ctx context.Context, tr db.Doc) []db.Record {
			return []db.Record{webhooks.QueueRecord(tr, webhooks.Depth(ctx))}
		},
		AfterTrigger: st.hooks.Kick,
		Generation:   st.cache.Generation,
		SigningKey:   func(storeID int64) []byte { return webhooks.SigningKey(secret, storeID) },
	})
	if err != nil {
		return nil, err
	}
	if err := st.engine.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	// Cache (public GETs; a hit is rate-limited as cached and answered here) →
	// ClientLimit (per IP) → Store (X-Store-ID or path) → Authenticate
	// (X-My-ID/X-Access-Token) → AuthLimit (per authentication) → engine.
	// Production stores are never deleted: the check of every request is remembered for
	// a while. Sandbox stores are purged, and refused as soon as they are.
	storeExists := st.auth.StoreExists
	if name == auth.AudienceProduction {
		storeExists = middleware.RememberStores(storeExists, 30*time.Second)
	}
	st.api = middleware.Chain(st.engine,
		st.cache.Middleware,
		s.limiter.ClientLimit,
		middleware.Store(storeExists, s.log),
		middleware.Authenticate(st.auth, s.log),
		s.limiter.AuthLimit,
	)
	return st, nil
}

// run keeps the stack's background work going until ctx ends: the cache's poller and
// the webhook dispatcher.
func (st *stack) run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := st.hooks.Run(ctx); err != nil && ctx.Err() == nil {
			st.log.Error("webhook dispatcher stopped", "error", err)
		}
	}()
	st.cache.Run(ctx)
	<-done
}

// storeAPI serves a store_api webhook: the request goes straight to the engine as the
// store's admin, with the webhook depth of ctx, so the write it makes records its own
// trigger (and webhooks stop at webhooks.MaxDepth).
func (st *stack) storeAPI(ctx context.Context, storeID int64, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "/v1"+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	admin := &auth.Identity{StoreID: storeID, Permissions: map[string][]string{"*": {"all"}}}
	req = req.WithContext(middleware.WithIdentity(middleware.WithStoreID(req.Context(), storeID), admin))
	rec := &recorder{header: http.Header{}}
	st.engine.ServeHTTP(rec, req)
	return rec.status, rec.body.Bytes(), nil
}

// recorder keeps an in-process answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header returns the answer's header.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader keeps the status.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// Write keeps the body (a 200 when no status was set).
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// close releases the stack's cache and database.
func (st *stack) close(ctx context.Context) error {
	_ = st.cache.Close()
	return st.raw.Close(ctx)
}
