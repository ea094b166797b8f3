// Package server assembles storeapi: it opens the storage engine, loads the schemas,
// bootstraps the first store, builds the router with its middleware in one visible
// order, and runs the HTTP server until its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"storeapi/apierror"
	"storeapi/auth"
	"storeapi/db"
	"storeapi/metrics"
	"storeapi/middleware"
	"storeapi/schemas"
)

// Server is one storeapi node: a listener, the API handlers and the storage they use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	prod     *stack
	limiter  *middleware.RateLimiter
	metrics  *metrics.Metrics
	listener net.Listener
	http     *http.Server
	operator *http.Server
	opLn     net.Listener
}

// New opens everything the server needs and binds its listener (so Addr is known before
// Run); on the first start over an empty database it creates the first store.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := newServer(ctx, cfg, log, store)
	if err != nil {
		_ = store.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// newServer builds the server over an open store.
func newServer(ctx context.Context, cfg Config, log *slog.Logger, raw db.Store) (*Server, error) {
	set, err := schemas.Load()
	if err != nil {
		return nil, err
	}
	secret, err := loadSecret(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, metrics: metrics.New()}
	proxies, err := middleware.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s.limiter, err = middleware.NewRateLimiter(middleware.RateLimitOptions{
		Cached:   middleware.Rate{PerSecond: cfg.RateCached},
		Uncached: middleware.Rate{PerSecond: cfg.RateUncached},
		Auth:     middleware.Rate{PerSecond: cfg.RateAuth},
		ClientIP: proxies.ClientIP,
		OnLimit:  s.metrics.RateLimited,
		Log:      log,
	})
	if err != nil {
		return nil, err
	}
	if s.prod, err = s.newStack(ctx, auth.AudienceProduction, raw, secret, set); err != nil {
		return nil, err
	}
	_ = s.metrics.GaugeFunc("storeapi_cache_entries", "Answers in the response cache.",
		func() float64 { return float64(s.prod.cache.Stats().Entries) })
	if err := bootstrap(ctx, cfg, log, s.prod.auth); err != nil {
		return nil, err
	}
	if s.opLn, err = listenOperator(cfg); err != nil {
		return nil, err
	}
	if s.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		s.opLn.Close()
		return nil, fmt.Errorf("server: listen on %s: %w", cfg.Addr, err)
	}
	s.operator = &http.Server{Handler: s.operatorHandler(), ReadHeaderTimeout: 10 * time.Second}
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Addr is the address the server listens on (the real port when Config.Addr ends in :0).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Handler is the server's whole HTTP handler, for tests and benchmarks in-process.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Run serves until ctx ends, then stops taking connections, lets in-flight requests
// finish (up to the shutdown timeout) and closes the storage. It returns after cleanup.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("storeapi listening", "addr", s.Addr(), "engine", s.cfg.EngineName())
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	go func() { _ = s.operator.Serve(s.opLn) }()
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	for _, st := range s.stacks() {
		background.Add(1)
		go func() { defer background.Done(); st.run(bgCtx) }()
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		s.log.Warn("shutdown did not drain every request", "error", err)
	}
	_ = s.operator.Shutdown(shutdownCtx)
	stopBackground()
	background.Wait()
	for _, st := range s.stacks() {
		if err := st.close(shutdownCtx); err != nil {
			s.log.Error("closing the database", "env", st.name, "error", err)
		}
	}
	s.log.Info("storeapi stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// apiMethods are the verbs the Store API answers.
var apiMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// stacks are the server's environments.
func (s *Server) stacks() []*stack {
	return []*stack{s.prod}
}

// routes builds the router. The middleware order, outermost first:
//
//	Metrics → Recover → AccessLog → CORS (answers OPTIONS) → Gzip → router
//	/v1/…, /<store_id>/v1/…: the production stack's chain (see newStack)
//	/health, /metrics: no limits, no cache
func (s *Server) routes() http.Handler {
	api := s.prod.api
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = false
	r.HandleOPTIONS = false
	for _, m := range apiMethods {
		r.Handler(m, "/v1/*path", api)
	}
	r.Handler(http.MethodGet, "/health", http.HandlerFunc(s.health))
	r.Handler(http.MethodGet, "/metrics", s.metrics.Handler())
	// httprouter cannot put a wildcard store id beside the static /v1 prefix, so the
	// /<store_id>/v1/… form arrives through NotFound.
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if isStorePath(req.URL.Path) {
			api.ServeHTTP(w, req)
			return
		}
		apierror.Write(w, req, s.log, apierror.New(http.StatusNotFound, -44,
			"no resource at this address; the API is under /v1/"))
	})
	return middleware.Chain(r,
		s.metrics.Middleware,
		middleware.Recover(s.log),
		middleware.AccessLog(s.log),
		middleware.CORS(apiMethods),
		middleware.Gzip(middleware.DefaultGzipMinSize, 0),
	)
}

// isStorePath reports whether path is /v1 or /<digits>/v1[/…].
func isStorePath(path string) bool {
	if path == "/v1" {
		return true
	}
	seg, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || seg == "" || !(rest == "v1" || strings.HasPrefix(rest, "v1/")) {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return false
		}
	}
	return true
}

// health answers whether the database answers.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.prod.store.Ping(ctx); err != nil {
		s.log.Error("health check: database does not answer", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","database":false}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok","database":true}`))
}
