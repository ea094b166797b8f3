// Package middleware holds storeapi's http.Handler wrappers, each with one job: recovering
// panics, logging, CORS, resolving the store of a request, authenticating it, limiting
// body size. The order they run in is written once, where the router is built.
package middleware

import (
	"context"

	"storeapi/auth"
)

// contextKey keys the request values this package sets.
type contextKey int

const (
	storeIDKey contextKey = iota
	identityKey
)

// WithStoreID returns ctx carrying the request's store id.
func WithStoreID(ctx context.Context, storeID int64) context.Context {
	return context.WithValue(ctx, storeIDKey, storeID)
}

// StoreID returns the store id resolved for the request, or 0 when the address needs none.
func StoreID(ctx context.Context) int64 {
	id, _ := ctx.Value(storeIDKey).(int64)
	return id
}

// WithIdentity returns ctx carrying the caller's verified authentication.
func WithIdentity(ctx context.Context, id *auth.Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// Identity returns the caller's verified authentication, or nil for a public request.
func Identity(ctx context.Context) *auth.Identity {
	id, _ := ctx.Value(identityKey).(*auth.Identity)
	return id
}
