package server

import (
	"context"
	"net/http"

	"storeapi/auth"
	"storeapi/cache"
	"storeapi/db"
	"storeapi/metrics"
	"storeapi/middleware"
	"storeapi/resources"
	"storeapi/schemas"
)

// stack is one environment's whole API — production, or the sandbox — over its own
// database: the storage (wrapped by metrics and the response cache), auth with its own
// token audience, the resource engine, and the handler chain of /v1/….
type stack struct {
	name   string // auth audience and log name: "production" or "sandbox"
	raw    db.Store
	store  db.Store
	auth   *auth.Service
	engine *resources.Engine
	cache  *cache.Cache
	api    http.Handler
}

// newStack builds an environment over raw. Environments share the schemas, the rate
// limiter (a client's budget is one) and the metrics, never a cache or a token.
func (s *Server) newStack(ctx context.Context, name string, raw db.Store, secret []byte, set *schemas.Set) (*stack, error) {
	st := &stack{name: name, raw: raw}
	poll := s.cfg.CachePoll
	if s.cfg.EngineName() == "sqlite" {
		poll = -1 // one process owns the embedded database: no other node to hear from
	}
	// The cache's markers go through the metrics-wrapped store, not the cache's own.
	measured := metrics.WrapStore(raw, s.metrics)
	var err error
	st.cache, err = cache.New(ctx, cache.Options{MaxMB: s.cfg.CacheMB, TTL: s.cfg.CacheTTL, Poll: poll,
		Store: measured, Limit: s.limiter.Admit, OnLookup: s.metrics.CacheLookup, Log: s.log,
		SkipCollections: []string{"triggers"}})
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
	st.engine, err = resources.New(resources.Options{Store: st.store, Schemas: set, Auth: st.auth, Log: s.log, MaxBody: s.cfg.MaxBody})
	if err != nil {
		return nil, err
	}
	if err := st.engine.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	// Cache (public GETs; a hit is rate-limited as cached and answered here) →
	// ClientLimit (per IP) → Store (X-Store-ID or path) → Authenticate
	// (X-My-ID/X-Access-Token) → AuthLimit (per authentication) → engine.
	st.api = middleware.Chain(st.engine,
		st.cache.Middleware,
		s.limiter.ClientLimit,
		middleware.Store(st.auth.StoreExists, s.log),
		middleware.Authenticate(st.auth, s.log),
		s.limiter.AuthLimit,
	)
	return st, nil
}

// run keeps the stack's background work going until ctx ends.
func (st *stack) run(ctx context.Context) {
	st.cache.Run(ctx)
}

// close releases the stack's cache and database.
func (st *stack) close(ctx context.Context) error {
	_ = st.cache.Close()
	return st.raw.Close(ctx)
}
