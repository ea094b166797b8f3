package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"storeapi/apierror"
	"storeapi/auth"
	"storeapi/db"
	"storeapi/db/mongodb"
	"storeapi/db/sqlite"
	"storeapi/middleware"
	"storeapi/resources"
	"storeapi/sandbox"
	"storeapi/schemas"
	"storeapi/webhooks"
)

// The values of Config.Sandbox besides a listen address.
const (
	SandboxOn  = "on"
	SandboxOff = "off"
)

// sandboxPrefix is where the main listener serves the sandbox.
const sandboxPrefix = "/sandbox"

// sandboxEnv is the sandbox environment (SPEC §9): a stack over its own database, the
// opener of sandbox stores, the purge, and, when Config.Sandbox is an address, a
// listener of its own serving the sandbox at the root.
type sandboxEnv struct {
	st       *stack
	opener   *sandbox.Opener
	purger   *sandbox.Purger
	listener net.Listener // nil without a listener of its own
	http     *http.Server
}

// SandboxEnabled reports whether the settings serve a sandbox.
func (c Config) SandboxEnabled() bool { return c.Sandbox != SandboxOff }

// SandboxAddr is the sandbox's own listen address, "" when it has none.
func (c Config) SandboxAddr() string {
	switch c.Sandbox {
	case "", SandboxOn, SandboxOff:
		return ""
	}
	return c.Sandbox
}

// OpenSandboxStore opens the sandbox's database: SQLite <data dir>/<database>-sandbox.db,
// or the MongoDB database <database>_sandbox on the same deployment.
func OpenSandboxStore(ctx context.Context, c Config) (db.Store, error) {
	if c.MongoURI != "" {
		return mongodb.Open(ctx, c.MongoURI, c.Database+"_sandbox")
	}
	return sqlite.Open(ctx, filepath.Join(c.DataDir, c.Database+"-sandbox.db"))
}

// sandboxSecret derives the sandbox's token and api key secret from the server's, so
// that not even a signature is shared between the environments (audiences already
// keep tokens apart).
func sandboxSecret(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("storeapi sandbox secret v1"))
	return []byte(hex.EncodeToString(m.Sum(nil)))
}

// sandboxCollections are the collections the purge empties of old documents: stores
// first (a store stops existing before its data goes), the other resources, then the
// internal collections written by auth and the sandbox. The automatic store id counter
// (store_ids, store 0) has no created_at and stays, so that store ids are never handed
// out twice; cache_events carry no store data and are purged by the cache within a
// minute.
func sandboxCollections() []string {
	colls := []string{auth.CollStores}
	for _, r := range resources.DefaultRules() {
		if r.Name != auth.CollStores {
			colls = append(colls, r.Name)
		}
	}
	return append(colls, auth.CollCredentials, auth.CollStoreIDs, sandbox.CollOpened,
		webhooks.QueueCollection, webhooks.DeliveryCollection, resources.SequencesCollection)
}

// newSandbox builds the sandbox environment over raw.
func (s *Server) newSandbox(ctx context.Context, raw db.Store, secret []byte, set *schemas.Set, proxies middleware.TrustedProxies) (*sandboxEnv, error) {
	st, err := s.newStack(ctx, auth.AudienceSandbox, raw, sandboxSecret(secret), set)
	if err != nil {
		return nil, err
	}
	sb := &sandboxEnv{st: st}
	purged := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storeapi_sandbox_purged_documents_total",
		Help: "Sandbox documents deleted by the purge, by collection.",
	}, []string{"collection"})
	opens := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storeapi_sandbox_opens_total",
		Help: "Requests to open a sandbox store, by outcome (opened, rate_limited, full, invalid, failed).",
	}, []string{"outcome"})
	for _, c := range []prometheus.Collector{purged, opens} {
		if err := s.metrics.Registry().Register(c); err != nil {
			_ = st.cache.Close()
			return nil, fmt.Errorf("server: sandbox metrics: %w", err)
		}
	}
	_ = s.metrics.GaugeFunc("storeapi_sandbox_cache_entries", "Answers in the sandbox's response cache.",
		func() float64 { return float64(st.cache.Stats().Entries) })
	sb.opener, err = sandbox.NewOpener(ctx, sandbox.OpenOptions{
		Auth: st.auth, Store: st.store, Registry: raw, Schemas: set,
		MaxAge: s.cfg.SandboxMaxAge, RatePerHour: s.cfg.SandboxOpenRate, MaxStores: s.cfg.SandboxMaxStores,
		ClientIP: proxies.ClientIP, Log: s.log,
		OnOpen: func(outcome string) { opens.WithLabelValues(outcome).Inc() },
	})
	if err == nil {
		sb.purger, err = sandbox.NewPurger(sandbox.PurgeOptions{
			Store: st.store, State: raw, Collections: sandboxCollections(),
			MaxAge: s.cfg.SandboxMaxAge, Interval: s.cfg.SandboxPurgeInterval, Log: s.log,
			OnPurge: func(coll string, n int64) { purged.WithLabelValues(coll).Add(float64(n)) },
		})
	}
	if err == nil && s.cfg.SandboxAddr() != "" {
		if sb.listener, err = net.Listen("tcp", s.cfg.SandboxAddr()); err != nil {
			err = fmt.Errorf("server: sandbox listen on %s: %w", s.cfg.SandboxAddr(), err)
		}
	}
	if err != nil {
		_ = st.cache.Close()
		return nil, err
	}
	if sb.listener != nil {
		sb.http = s.httpServer(s.sandboxRoutes(sb))
	}
	return sb, nil
}

// serve answers one sandbox request whose path is the API's (/v1/…, /<store_id>/v1/…):
// the opening of a store, or the sandbox stack's chain. Every answer says it is the
// sandbox's.
func (sb *sandboxEnv) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(sandbox.Header, "true")
	switch p := r.URL.Path; {
	case p == "/v1/_sandbox.json" || p == "/v1/_sandbox":
		sb.opener.ServeHTTP(w, r)
	case p == "/v1" || strings.HasPrefix(p, "/v1/") || isStorePath(p):
		sb.st.api.ServeHTTP(w, r)
	default:
		apierror.Write(w, r, nil, apierror.New(http.StatusNotFound, -44,
			"no resource at this address; the sandbox API is under /sandbox/v1/"))
	}
}

// prefixed serves /sandbox/<API path>: the prefix is taken off the path (and its raw
// form) and put back on the Location of created documents.
func (sb *sandboxEnv) prefixed() http.Handler {
	return http.StripPrefix(sandboxPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb.serve(&locationWriter{ResponseWriter: w}, r)
	}))
}

// locationWriter prefixes a Location header that points into the API (/v1/…) with
// /sandbox when the answer's header is written.
type locationWriter struct {
	http.ResponseWriter
	wrote bool
}

// fix rewrites the Location header once.
func (w *locationWriter) fix() {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.ResponseWriter.Header()
	if loc := h.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, sandboxPrefix+"/") {
		h.Set("Location", sandboxPrefix+loc)
	}
}

// WriteHeader fixes the Location and sends the header.
func (w *locationWriter) WriteHeader(code int) {
	w.fix()
	w.ResponseWriter.WriteHeader(code)
}

// Write fixes the Location (when the header was not written yet) and writes b.
func (w *locationWriter) Write(b []byte) (int, error) {
	w.fix()
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *locationWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sandboxRoutes builds the handler of the sandbox's own listener: the sandbox at the
// root (/v1/…, /<store_id>/v1/…) and under /sandbox as on the main listener, and its
// /health; the middleware is the main listener's.
func (s *Server) sandboxRoutes(sb *sandboxEnv) http.Handler {
	root := http.HandlerFunc(sb.serve)
	r := newRouter()
	for _, m := range apiMethods {
		r.Handler(m, "/v1/*path", root)
		r.Handler(m, sandboxPrefix+"/*path", sb.prefixed())
	}
	r.Handler(http.MethodGet, "/health", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.pingHealth(w, req, sb.st.store)
	}))
	r.NotFound = root // /<store_id>/v1/… (and the 404 of anything else)
	return s.middleware(r)
}

// sandboxURL is the address the sandbox API is reached at on a listener address.
func sandboxURL(addr, prefix string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + prefix + "/v1/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + prefix + "/v1/"
}

// logSandbox says how to reach the sandbox.
func (s *Server) logSandbox() {
	if s.sandbox == nil {
		s.log.Info("sandbox off (--sandbox=off)")
		return
	}
	base := sandboxURL(s.Addr(), sandboxPrefix)
	attrs := []any{"url", base, "open_store", "POST " + base + "_sandbox.json",
		"max_age", s.cfg.sandboxMaxAge().String(), "cache_base", strings.TrimSuffix(base, "v1/") + ":store_id/v1/"}
	if sb := s.sandbox; sb.listener != nil {
		attrs = append(attrs, "own_url", sandboxURL(sb.listener.Addr().String(), ""))
	}
	s.log.Info("sandbox: the same API over a separate database whose documents expire; open a store to use it", attrs...)
}

// sandboxMaxAge is the configured or default sandbox age.
func (c Config) sandboxMaxAge() time.Duration {
	if c.SandboxMaxAge == 0 {
		return sandbox.DefaultMaxAge
	}
	return c.SandboxMaxAge
}

// closeListener closes the sandbox's own listener, if any (when the server fails to
// start after binding it).
func (sb *sandboxEnv) closeListener() {
	if sb != nil && sb.listener != nil {
		_ = sb.listener.Close()
	}
}
