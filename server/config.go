package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"storeapi/cache"
	"storeapi/db"
	"storeapi/db/mongodb"
	"storeapi/db/sqlite"
	"storeapi/middleware"
	"storeapi/resources"
	"storeapi/sandbox"
)

// Config is every setting of a storeapi node. Each is a flag with an environment
// fallback; ParseConfig reads both.
type Config struct {
	// Addr is the listen address (STOREAPI_ADDR, --addr).
	Addr string
	// DataDir holds the SQLite database, bootstrap.json and the token secret file.
	DataDir string
	// MongoURI, when set, selects the MongoDB engine (MONGODB_URI, --mongodb-uri).
	MongoURI string
	// Database is the MongoDB database name, or the SQLite file's base name.
	Database string
	// Secret signs access tokens and derives API keys; when empty a random one is kept in
	// <DataDir>/secret.key. Nodes sharing one MongoDB must share it. Never logged.
	Secret string
	// TokenTTL is how long an access token lives.
	TokenTTL time.Duration
	// MaxBody is the largest request body accepted, in bytes.
	MaxBody int64
	// ShutdownTimeout bounds how long shutdown waits for in-flight requests.
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// RateCached, RateUncached and RateAuth are the request rates per second allowed per
	// client IP for cache hits, per client IP for everything else, and per
	// authentication; 0 turns that limit off.
	RateCached, RateUncached, RateAuth float64
	// TrustedProxies are the CIDRs/IPs whose X-Forwarded-For names the client.
	TrustedProxies string
	// CacheMB bounds the public-GET response cache; 0 turns it off.
	CacheMB int
	// CacheTTL is how long a cached answer may be served.
	CacheTTL time.Duration
	// CachePoll is how often a node looks for writes made on other nodes (MongoDB
	// engine only: the embedded engine has one process).
	CachePoll time.Duration
	// Sandbox is "on" (the sandbox is served under /sandbox on the listener; "" means
	// on too), "off", or a listen address: then it is also served at the root of a
	// listener of its own (STOREAPI_SANDBOX, --sandbox).
	Sandbox string
	// SandboxMaxAge is how long a sandbox document lives after its created_at; 0 means
	// 7 days.
	SandboxMaxAge time.Duration
	// SandboxPurgeInterval is how often the sandbox purge runs; 0 means an hour.
	SandboxPurgeInterval time.Duration
	// SandboxOpenRate is how many sandbox stores one client IP may open an hour; 0
	// turns the limit off.
	SandboxOpenRate float64
	// SandboxMaxStores caps the sandbox stores alive at once; 0 turns the cap off.
	SandboxMaxStores int
	// WebhookAllowPrivate lets webhooks call loopback, link-local and private addresses.
	WebhookAllowPrivate bool
	// SandboxWebhooks lets the sandbox's procedures call external URIs (its store_api
	// webhooks always run).
	SandboxWebhooks bool
	// WebhookBackoff is the wait before each delivery attempt; its length is the number
	// of attempts.
	WebhookBackoff []time.Duration
}

// ParseConfig reads the settings from args (without the program name) with fallbacks
// from getenv. Invalid values are refused with a message naming the setting.
func ParseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("storeapi", flag.ContinueOnError)
	finish := RegisterFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("server: %w", err)
	}
	return finish()
}

// RegisterFlags defines the settings' flags on fs (with fallbacks from getenv) and
// returns the function that, after fs.Parse, builds and validates the Config. Commands
// with flags of their own use it to accept the server's settings too.
func RegisterFlags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	cfg := &Config{}
	fs.StringVar(&cfg.Addr, "addr", env("STOREAPI_ADDR", ":3000"), "listen address (STOREAPI_ADDR)")
	fs.StringVar(&cfg.DataDir, "data-dir", env("STOREAPI_DATA_DIR", "./data"), "data directory (STOREAPI_DATA_DIR)")
	fs.StringVar(&cfg.MongoURI, "mongodb-uri", env("MONGODB_URI", ""), "MongoDB URI; empty for the embedded SQLite engine (MONGODB_URI)")
	fs.StringVar(&cfg.Database, "database", env("STOREAPI_DATABASE", "storeapi"), "database name (STOREAPI_DATABASE)")
	fs.StringVar(&cfg.Secret, "secret", env("STOREAPI_SECRET", ""), "token signing secret, 32+ characters (STOREAPI_SECRET)")
	fs.StringVar(&cfg.LogLevel, "log-level", env("STOREAPI_LOG_LEVEL", "info"), "debug, info, warn or error (STOREAPI_LOG_LEVEL)")
	ttl := fs.String("token-ttl", env("STOREAPI_TOKEN_TTL", "24h"), "access token lifetime (STOREAPI_TOKEN_TTL)")
	shutdown := fs.String("shutdown-timeout", env("STOREAPI_SHUTDOWN_TIMEOUT", "15s"), "graceful shutdown limit (STOREAPI_SHUTDOWN_TIMEOUT)")
	fs.Float64Var(&cfg.RateCached, "rate-cached", envFloat(getenv, "STOREAPI_RATE_CACHED", 30), "requests/s per client IP answered from the cache; 0 off (STOREAPI_RATE_CACHED)")
	fs.Float64Var(&cfg.RateUncached, "rate-uncached", envFloat(getenv, "STOREAPI_RATE_UNCACHED", 6), "other requests/s per client IP; 0 off (STOREAPI_RATE_UNCACHED)")
	fs.Float64Var(&cfg.RateAuth, "rate-auth", envFloat(getenv, "STOREAPI_RATE_AUTH", 6), "requests/s per authentication; 0 off (STOREAPI_RATE_AUTH)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", env("STOREAPI_TRUSTED_PROXIES", ""), "comma list of proxy CIDRs/IPs whose X-Forwarded-For is believed (STOREAPI_TRUSTED_PROXIES)")
	fs.IntVar(&cfg.CacheMB, "cache-mb", int(envFloat(getenv, "STOREAPI_CACHE_MB", cache.DefaultMaxMB)), "response cache size in MB; 0 off (STOREAPI_CACHE_MB)")
	cacheTTL := fs.String("cache-ttl", env("STOREAPI_CACHE_TTL", "5m"), "how long a cached answer lives (STOREAPI_CACHE_TTL)")
	cachePoll := fs.String("cache-poll", env("STOREAPI_CACHE_POLL", "1s"), "how often to see other nodes' writes, MongoDB only (STOREAPI_CACHE_POLL)")
	maxBody := fs.String("max-body", env("STOREAPI_MAX_BODY", strconv.Itoa(resources.DefaultMaxBody)), "largest request body in bytes (STOREAPI_MAX_BODY)")
	fs.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", env("STOREAPI_WEBHOOK_ALLOW_PRIVATE", "") == "true", "let webhooks call loopback/link-local/private addresses (STOREAPI_WEBHOOK_ALLOW_PRIVATE)")
	fs.BoolVar(&cfg.SandboxWebhooks, "sandbox-webhooks", env("STOREAPI_SANDBOX_WEBHOOKS", "") == "true", "let sandbox procedures call external URIs (STOREAPI_SANDBOX_WEBHOOKS)")
	backoff := fs.String("webhook-backoff", env("STOREAPI_WEBHOOK_BACKOFF", "0s,1m,5m,30m,2h,6h"), "waits before each webhook attempt (STOREAPI_WEBHOOK_BACKOFF)")
	fs.StringVar(&cfg.Sandbox, "sandbox", env("STOREAPI_SANDBOX", "on"), "the sandbox under /sandbox: on, off, or a listen address to also serve it at the root of its own listener (STOREAPI_SANDBOX)")
	sandboxAge := fs.String("sandbox-max-age", env("STOREAPI_SANDBOX_MAX_AGE", "168h"), "how long sandbox documents live after their creation, e.g. 168h or 7d (STOREAPI_SANDBOX_MAX_AGE)")
	sandboxPurge := fs.String("sandbox-purge-interval", env("STOREAPI_SANDBOX_PURGE_INTERVAL", "1h"), "how often the sandbox purge runs (STOREAPI_SANDBOX_PURGE_INTERVAL)")
	fs.Float64Var(&cfg.SandboxOpenRate, "sandbox-open-rate", envFloat(getenv, "STOREAPI_SANDBOX_OPEN_RATE", sandbox.DefaultOpenRate), "sandbox stores one client IP may open an hour; 0 off (STOREAPI_SANDBOX_OPEN_RATE)")
	fs.IntVar(&cfg.SandboxMaxStores, "sandbox-max-stores", int(envFloat(getenv, "STOREAPI_SANDBOX_MAX_STORES", sandbox.DefaultMaxStores)), "sandbox stores alive at once; 0 no cap (STOREAPI_SANDBOX_MAX_STORES)")
	return func() (Config, error) {
		var err error
		if cfg.TokenTTL, err = time.ParseDuration(*ttl); err != nil {
			return *cfg, fmt.Errorf("server: token-ttl: %w", err)
		}
		if cfg.ShutdownTimeout, err = time.ParseDuration(*shutdown); err != nil {
			return *cfg, fmt.Errorf("server: shutdown-timeout: %w", err)
		}
		if cfg.MaxBody, err = strconv.ParseInt(*maxBody, 10, 64); err != nil {
			return *cfg, fmt.Errorf("server: max-body: %w", err)
		}
		if cfg.CacheTTL, err = time.ParseDuration(*cacheTTL); err != nil {
			return *cfg, fmt.Errorf("server: cache-ttl: %w", err)
		}
		if cfg.CachePoll, err = time.ParseDuration(*cachePoll); err != nil {
			return *cfg, fmt.Errorf("server: cache-poll: %w", err)
		}
		if cfg.WebhookBackoff, err = parseBackoff(*backoff); err != nil {
			return *cfg, err
		}
		if cfg.SandboxMaxAge, err = parseDays(*sandboxAge); err != nil {
			return *cfg, fmt.Errorf("server: sandbox-max-age: %w", err)
		}
		if cfg.SandboxPurgeInterval, err = parseDays(*sandboxPurge); err != nil {
			return *cfg, fmt.Errorf("server: sandbox-purge-interval: %w", err)
		}
		return *cfg, cfg.Validate()
	}
}

// Validate refuses settings the server cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("server: addr is empty")
	case c.DataDir == "":
		return errors.New("server: data-dir is empty")
	case c.Database == "":
		return errors.New("server: database is empty")
	case c.Secret != "" && len(c.Secret) < 32:
		return errors.New("server: secret must have at least 32 characters")
	case c.TokenTTL <= 0:
		return errors.New("server: token-ttl must be positive")
	case c.MaxBody < 1024:
		return errors.New("server: max-body must be at least 1024 bytes")
	case c.ShutdownTimeout <= 0:
		return errors.New("server: shutdown-timeout must be positive")
	case c.RateCached < 0 || c.RateUncached < 0 || c.RateAuth < 0:
		return errors.New("server: rates must be 0 (off) or positive")
	case c.CacheMB < 0:
		return errors.New("server: cache-mb must be 0 (off) or positive")
	case c.CacheMB > 0 && c.CacheTTL <= 0:
		return errors.New("server: cache-ttl must be positive")
	case c.CachePoll <= 0:
		return errors.New("server: cache-poll must be positive")
	case c.SandboxMaxAge < 0 || c.SandboxPurgeInterval < 0:
		return errors.New("server: sandbox-max-age and sandbox-purge-interval must be positive")
	case c.SandboxOpenRate < 0:
		return errors.New("server: sandbox-open-rate must be 0 (off) or positive")
	case c.SandboxMaxStores < 0:
		return errors.New("server: sandbox-max-stores must be 0 (no cap) or positive")
	}
	if addr := c.SandboxAddr(); addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("server: sandbox %q is not on, off or a listen address (host:port)", c.Sandbox)
		}
	}
	if _, err := middleware.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("server: trusted-proxies: %w", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("server: log-level %q is not debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// envFloat reads a number setting from the environment; an unparsable value is left
// as -1, which Validate refuses with the setting's name.
func envFloat(getenv func(string) string, key string, def float64) float64 {
	v := getenv(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return -1
	}
	return f
}

// parseDays is time.ParseDuration that also reads whole days ("7d").
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// EngineName says which storage engine the settings select.
func (c Config) EngineName() string {
	if c.MongoURI != "" {
		return "mongodb"
	}
	return "sqlite"
}

// LogValue shows the settings with the secrets masked.
func (c Config) LogValue() []any {
	secret := "(file in data dir)"
	if c.Secret != "" {
		secret = "****"
	}
	uri := ""
	if c.MongoURI != "" {
		uri = "****"
	}
	return []any{"addr", c.Addr, "data_dir", c.DataDir, "engine", c.EngineName(), "mongodb_uri", uri,
		"database", c.Database, "secret", secret, "token_ttl", c.TokenTTL.String(), "max_body", c.MaxBody,
		"rate_cached", c.RateCached, "rate_uncached", c.RateUncached, "rate_auth", c.RateAuth,
		"trusted_proxies", c.TrustedProxies, "cache_mb", c.CacheMB, "cache_ttl", c.CacheTTL.String(),
		"sandbox", c.Sandbox, "sandbox_max_age", c.SandboxMaxAge.String(),
		"sandbox_purge_interval", c.SandboxPurgeInterval.String(), "sandbox_open_rate", c.SandboxOpenRate,
		"sandbox_max_stores", c.SandboxMaxStores}
}

// OpenStore opens the storage engine the settings select.
func OpenStore(ctx context.Context, c Config) (db.Store, error) {
	if c.MongoURI != "" {
		return mongodb.Open(ctx, c.MongoURI, c.Database)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(c.DataDir, c.Database+".db"))
}

// parseBackoff reads a comma list of durations.
func parseBackoff(list string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(list, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("server: webhook-backoff: %q is not a duration", part)
		}
		out = append(out, d)
	}
	return out, nil
}
