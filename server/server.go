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
	sandbox  *sandboxEnv // nil when the sandbox is off
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
	var sandboxStore db.Store
	if cfg.SandboxEnabled() {
		if sandboxStore, err = OpenSandboxStore(ctx, cfg); err != nil {
			_ = store.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("server: sandbox database: %w", err)
		}
	}
	s, err := newServer(ctx, cfg, log, store, sandboxStore)
	if err != nil {
		_ = store.Close(context.WithoutCancel(ctx))
		if sandboxStore != nil {
			_ = sandboxStore.Close(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return s, nil
}

// newServer builds the server over open stores; sandboxRaw is nil when the sandbox is
// off.
func newServer(ctx context.Context, cfg Config, log *slog.Logger, raw, sandboxRaw db.Store) (*Server, error) {
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
	if sandboxRaw != nil {
		if s.sandbox, err = s.newSandbox(ctx, sandboxRaw, secret, set, proxies); err != nil {
			return nil, err
		}
	}
	if s.opLn, err = listenOperator(cfg); err != nil {
		s.sandbox.closeListener()
		return nil, err
	}
	if s.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		s.opLn.Close()
		s.sandbox.closeListener()
		return nil, fmt.Errorf("server: listen on %s: %w", cfg.Addr, err)
	}
	s.operator = &http.Server{Handler: s.operatorHandler(), ReadHeaderTimeout: 10 * time.Second}
	s.http = s.httpServer(s.routes())
	return s, nil
}

// httpServer is an http.Server of h with the server's timeouts.
func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Addr is the address the server listens on (the real port when Config.Addr ends in :0).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Handler is the server's whole HTTP handler, for tests and benchmarks in-process.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Run serves until ctx ends, then stops taking connections, lets in-flight requests
// finish (up to the shutdown timeout) and closes the storage. It returns after cleanup.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("storeapi listening", "addr", s.Addr(), "engine", s.cfg.EngineName())
	s.logSandbox()
	servers := []*http.Server{s.http}
	errc := make(chan error, 2)
	go func() { errc <- s.http.Serve(s.listener) }()
	go func() { _ = s.operator.Serve(s.opLn) }()
	if sb := s.sandbox; sb != nil && sb.http != nil {
		servers = append(servers, sb.http)
		go func() { errc <- sb.http.Serve(sb.listener) }()
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	for _, st := range s.stacks() {
		background.Add(1)
		go func() { defer background.Done(); st.run(bgCtx) }()
	}
	if sb := s.sandbox; sb != nil {
		background.Add(1)
		go func() { defer background.Done(); _ = sb.purger.Run(bgCtx) }()
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	var drained sync.WaitGroup
	for _, hs := range servers {
		drained.Add(1)
		go func() {
			defer drained.Done()
			if err := hs.Shutdown(shutdownCtx); err != nil {
				s.log.Warn("shutdown did not drain every request", "error", err)
			}
		}()
	}
	drained.Wait()
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
	if s.sandbox != nil {
		return []*stack{s.prod, s.sandbox.st}
	}
	return []*stack{s.prod}
}

// routes builds the router. The middleware order, outermost first:
//
//	Metrics → Recover → AccessLog → CORS (answers OPTIONS) → Gzip → router
//	/v1/…, /<store_id>/v1/…: the production stack's chain (see newStack)
//	/sandbox/…: the sandbox, prefix taken off (see sandboxEnv.serve)
//	/health, /metrics: no limits, no cache
func (s *Server) routes() http.Handler {
	api := s.prod.api
	r := newRouter()
	for _, m := range apiMethods {
		r.Handler(m, "/v1/*path", api)
		if s.sandbox != nil {
			r.Handler(m, sandboxPrefix+"/*path", s.sandbox.prefixed())
		}
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
	return s.middleware(r)
}

// middleware wraps a listener's router in the middleware every answer goes through.
func (s *Server) middleware(r http.Handler) http.Handler {
	return middleware.Chain(r,
		s.metrics.Middleware,
		middleware.Recover(s.log),
		middleware.AccessLog(s.log),
		middleware.CORS(apiMethods),
		middleware.Gzip(middleware.DefaultGzipMinSize, 0),
	)
}

// newRouter is an httprouter that leaves redirects, 405s and OPTIONS to storeapi: the
// engine answers wrong verbs with its own body, CORS answers OPTIONS.
func newRouter() *httprouter.Router {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = false
	r.HandleOPTIONS = false
	return r
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
	s.pingHealth(w, r, s.prod.store)
}

// pingHealth answers whether store answers.
func (s *Server) pingHealth(w http.ResponseWriter, r *http.Request, store db.Store) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := store.Ping(ctx); err != nil {
		s.log.Error("health check: database does not answer", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","database":false}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok","database":true}`))
}
