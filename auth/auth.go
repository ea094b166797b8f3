// Package auth is storeapi's authentication (SPEC §6): the _login and _authenticate
// exchanges, access-token verification and permissions, the credentials that back them,
// and the creation of a store with its first admin authentication.
//
// It works over the db.Store seam only. Secrets never sit in the database in a form that
// logs in: credentials live in their own collection ("credentials", never a public
// resource) as a bcrypt hash of the client's MD5 password hash and a key version; the
// api_key is an HMAC of the server-held secret over the store, authentication id and key
// version, so it is recomputed rather than stored, and a database dump alone cannot
// produce one. Access tokens are HS256 JWTs bound to one store and one audience
// ("production" or "sandbox").
//
// Every error meant for a client is an *apierror.Error; anything else is wrapped with
// apierror.Internal.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"storeapi/apierror"
	"storeapi/db"
)

// Collections this package reads and writes.
const (
	// CollAuthentications is the public resource holding authentications (permissions, profile).
	CollAuthentications = "authentications"
	// CollCredentials holds the credentials of an authentication, under the
	// authentication's _id: password_hash (bcrypt of the MD5 hex; absent when it has no
	// password), key_version and timestamps. Never served to clients.
	CollCredentials = "credentials"
	// CollStores is the public resource holding stores.
	CollStores = "stores"
	// CollStoreIDs holds one reservation per created store id (its _id is the store id in
	// 24 hex digits) and, under store 0, the counter of automatic store ids. Never served
	// to clients.
	CollStoreIDs = "store_ids"
)

// Error codes of this package's answers (the error_code of the body).
const (
	// CodeInvalidRequest is a malformed _login/_authenticate body or an invalid argument.
	CodeInvalidRequest = 101
	// CodeUnauthorized is wrong or missing credentials or an unacceptable access token.
	CodeUnauthorized = 102
	// CodeStoreExists answers CreateStore with a store id that is taken.
	CodeStoreExists = 110
	// CodeTokenExpired is an access token past its expiry.
	CodeTokenExpired = 132
	// CodeNotFound is an unknown authentication.
	CodeNotFound = -44
)

// Audiences a Service can serve; a token issued for one is refused by the other.
const (
	AudienceProduction = "production"
	AudienceSandbox    = "sandbox"
)

// ErrStoreExists is the cause of CreateStore's answer when the store id is taken.
var ErrStoreExists = errors.New("auth: store already exists")

// minSecret is the shortest accepted server secret.
const minSecret = 32

// Options configures a Service.
type Options struct {
	// Store is the database; required.
	Store db.Store
	// Secret signs access tokens and derives api keys: at least 32 bytes, held by the
	// server (configuration), never stored in the database. Changing it invalidates every
	// api key and token.
	Secret []byte
	// TokenTTL is how long an access token lives; 0 means 24 hours.
	TokenTTL time.Duration
	// Audience is "production" or "sandbox": tokens carry it and are refused elsewhere.
	Audience string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service runs authentication over one database. It is safe for concurrent use.
type Service struct {
	store    db.Store
	secret   []byte
	ttl      time.Duration
	audience string
	now      func() time.Time
	parser   *jwt.Parser
	// cost is the bcrypt cost of new password hashes; dummy is a hash of that cost that
	// Login compares against when the user is unknown, so both answers take as long.
	cost  int
	dummy []byte
}

// New checks opts and returns a Service. It does no I/O (it computes one bcrypt hash,
// tens of milliseconds of CPU).
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("auth: no store")
	}
	if len(opts.Secret) < minSecret {
		return nil, fmt.Errorf("auth: secret must be at least %d bytes, got %d", minSecret, len(opts.Secret))
	}
	if opts.Audience != AudienceProduction && opts.Audience != AudienceSandbox {
		return nil, fmt.Errorf("auth: audience must be %q or %q, got %q", AudienceProduction, AudienceSandbox, opts.Audience)
	}
	if opts.TokenTTL < 0 {
		return nil, fmt.Errorf("auth: negative token ttl %s", opts.TokenTTL)
	}
	s := &Service{
		store:    opts.Store,
		secret:   append([]byte(nil), opts.Secret...),
		ttl:      opts.TokenTTL,
		audience: opts.Audience,
		now:      opts.Now,
		parser:   jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithoutClaimsValidation()),
	}
	if s.ttl == 0 {
		s.ttl = 24 * time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.setCost(bcrypt.DefaultCost); err != nil {
		return nil, err
	}
	return s, nil
}

// setCost sets the bcrypt cost of new hashes and makes the dummy hash match it.
func (s *Service) setCost(cost int) error {
	dummy, err := bcrypt.GenerateFromPassword([]byte("storeapi dummy password hash"), cost)
	if err != nil {
		return fmt.Errorf("auth: bcrypt: %w", err)
	}
	s.cost, s.dummy = cost, dummy
	return nil
}

// timestamp is now in the stored timestamp form.
func (s *Service) timestamp() string {
	return db.Timestamp(s.now())
}

// errUnauthorized is the one answer to wrong credentials and unacceptable tokens.
func errUnauthorized(message string) *apierror.Error {
	return apierror.New(http.StatusUnauthorized, CodeUnauthorized, message)
}

// errLogin is the one answer of Login to a wrong user or password, whichever it is.
func errLogin() *apierror.Error {
	e := errUnauthorized("invalid credentials: unknown user or wrong password")
	e.UserMessage = apierror.UserMessage{EnUS: "Wrong username or password", PtBR: "Usuário ou senha incorretos"}
	return e
}

// errInvalid is a 400 for a malformed request.
func errInvalid(format string, args ...any) *apierror.Error {
	return apierror.Newf(http.StatusBadRequest, CodeInvalidRequest, format, args...)
}

// errNoAuthentication is the 404 of an unknown authentication.
func errNoAuthentication(authID string) *apierror.Error {
	e := apierror.Newf(http.StatusNotFound, CodeNotFound, "authentication %q not found", authID)
	e.Cause = db.ErrNotFound
	return e
}

// authenticationExists reports whether the authentication document is there.
func (s *Service) authenticationExists(ctx context.Context, storeID int64, authID string) (bool, error) {
	if !db.ValidID(authID) {
		return false, nil
	}
	_, err := s.store.Get(ctx, CollAuthentications, storeID, authID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, db.ErrNotFound):
		return false, nil
	}
	return false, err
}
