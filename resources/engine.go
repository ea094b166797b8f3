// Package resources is storeapi's generic resource engine: it parses Store API addresses
// and list queries, and serves every verb of every resource and subresource from one set
// of handlers, driven by the rules in the registry and the resources' JSON Schemas.
package resources

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"storeapi/apierror"
	"storeapi/auth"
	"storeapi/db"
	"storeapi/schemas"
)

// DefaultMaxBody is the default limit of a request body in bytes (products may carry
// 500,000 characters of HTML and up to hundreds of pictures and variations).
const DefaultMaxBody = 4 << 20

// Options configure an Engine.
type Options struct {
	Store   db.Store
	Schemas *schemas.Set
	Auth    *auth.Service
	Log     *slog.Logger
	// Rules defaults to DefaultRules().
	Rules []Rule
	// MaxBody is the largest accepted request body in bytes; DefaultMaxBody when 0.
	MaxBody int64
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnTrigger returns the records to store with each trigger (the webhook queue
	// entry); nil adds none.
	OnTrigger func(ctx context.Context, trigger db.Doc) []db.Record
	// AfterTrigger is called after triggers were stored (to wake the dispatcher).
	AfterTrigger func()
	// SigningKey returns a store's webhook signing key, served to its admins at
	// _webhook_key; nil turns that address off.
	SigningKey func(storeID int64) []byte
	// Generation, when set, numbers the versions of a store's collection (see
	// cache.Cache.Generation); list counts are then remembered per version.
	Generation func(coll string, storeID int64) (uint64, bool)
}

// Engine serves the Store API's resources. It is safe for concurrent use.
type Engine struct {
	store   db.Store
	schemas *schemas.Set
	auth    *auth.Service
	log     *slog.Logger
	rules   map[string]*Rule
	names   []string
	maxBody int64
	now     func() time.Time

	onTrigger    func(ctx context.Context, trigger db.Doc) []db.Record
	afterTrigger func()
	counts       *countCache
	signingKey   func(storeID int64) []byte
}

// New returns an Engine over opts.Store. Every rule must have a schema.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Schemas == nil || opts.Auth == nil {
		return nil, fmt.Errorf("resources: store, schemas and auth are required")
	}
	e := &Engine{
		store:   opts.Store,
		schemas: opts.Schemas,
		auth:    opts.Auth,
		log:     opts.Log,
		rules:   map[string]*Rule{},
		maxBody: opts.MaxBody,
		now:     opts.Now,

		onTrigger:    opts.OnTrigger,
		afterTrigger: opts.AfterTrigger,
		signingKey:   opts.SigningKey,
	}
	if opts.Generation != nil {
		e.counts = newCountCache(opts.Generation, maxRememberedCounts)
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.maxBody <= 0 {
		e.maxBody = DefaultMaxBody
	}
	if e.now == nil {
		e.now = time.Now
	}
	rules := opts.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	for i := range rules {
		r := &rules[i]
		if !opts.Schemas.Has(r.Name) {
			return nil, fmt.Errorf("resources: no schema for resource %q", r.Name)
		}
		e.rules[r.Name] = r
		e.names = append(e.names, r.Name)
	}
	sort.Strings(e.names)
	return e, nil
}

// EnsureIndexes creates the indexes every resource's rule asks for.
func (e *Engine) EnsureIndexes(ctx context.Context) error {
	for _, name := range e.names {
		if err := e.store.EnsureIndexes(ctx, name, e.rules[name].Indexes); err != nil {
			return fmt.Errorf("resources: indexes of %s: %w", name, err)
		}
	}
	return nil
}

// ServeHTTP answers one Store API request whose path is an address of SPEC §1. The store
// id and identity were put in the request context by the middleware.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := e.serve(w, r); err != nil {
		apierror.Write(w, r, e.log, e.classify(r, err))
	}
}
