package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"storeapi/apierror"
	"storeapi/db"
)

// maxTokenLen bounds the access tokens Verify parses; ours are far shorter.
const maxTokenLen = 2048

// claims are an access token's claims: sub (the authentication id), aud, exp, iat and
// the store the token is bound to.
type claims struct {
	StoreID int64 `json:"store_id"`
	jwt.RegisteredClaims
}

// Identity is who an access token speaks for, with the permissions its authentication
// has now.
type Identity struct {
	AuthenticationID string
	StoreID          int64
	// Permissions maps "<resource>[/<subresource>]" or "*" to the verbs allowed there
	// ("GET", "POST", "PATCH", "PUT", "DELETE" or "all"), as stored.
	Permissions map[string][]string
}

// Verify checks the access token and X-My-ID of a request to a store and returns the
// identity, with the authentication's current permissions.
//
// An expired token is a 401 with error_code 132. A malformed token, a wrong signature,
// a token of another store or audience, a myID that is not the token's, or an
// authentication deleted since, is a 401 with error_code 102.
func (s *Service) Verify(ctx context.Context, storeID int64, myID, token string) (*Identity, error) {
	if myID == "" || token == "" {
		return nil, errUnauthorized("authentication required: send X-My-ID and X-Access-Token")
	}
	invalid := errUnauthorized("invalid access token or X-My-ID, authenticate again")
	if len(token) > maxTokenLen || !db.ValidID(myID) {
		return nil, invalid
	}
	var c claims
	if _, err := s.parser.ParseWithClaims(token, &c, s.tokenKey); err != nil {
		return nil, invalid
	}
	if c.StoreID != storeID || c.Subject != myID || !slices.Contains(c.Audience, s.audience) || c.ExpiresAt == nil {
		return nil, invalid
	}
	if !s.now().Before(c.ExpiresAt.Time) {
		e := apierror.New(http.StatusUnauthorized, CodeTokenExpired, "access token expired, authenticate again")
		e.UserMessage = apierror.UserMessage{EnUS: "Your session expired, please log in again", PtBR: "Sua sessão expirou, faça login novamente"}
		return nil, e
	}
	doc, err := s.store.Get(ctx, CollAuthentications, storeID, myID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, apierror.Internal(err)
	}
	return &Identity{AuthenticationID: myID, StoreID: storeID, Permissions: permissionsOf(doc["permissions"])}, nil
}

// tokenKey is the jwt key function: the server secret (the parser admits HS256 only).
func (s *Service) tokenKey(*jwt.Token) (any, error) {
	return s.secret, nil
}

// permissionsOf reads a stored permissions object, skipping what is not a list of strings.
func permissionsOf(v any) map[string][]string {
	obj, _ := v.(map[string]any)
	perms := make(map[string][]string, len(obj))
	for k, list := range obj {
		items, _ := list.([]any)
		verbs := make([]string, 0, len(items))
		for _, it := range items {
			if verb, ok := it.(string); ok {
				verbs = append(verbs, verb)
			}
		}
		perms[k] = verbs
	}
	return perms
}

// Can reports whether the identity may use method on a resource (and subresource, when
// not ""): allowed when the permissions of "<resource>/<subresource>", "<resource>" or
// "*" list the method or "all". Verbs compare case-insensitively; HEAD counts as GET.
// A nil identity can do nothing.
func (id *Identity) Can(resource, subresource, method string) bool {
	if id == nil || method == "" {
		return false
	}
	if strings.EqualFold(method, http.MethodHead) {
		method = http.MethodGet
	}
	keys := [3]string{resource, "*", ""}
	if subresource != "" {
		keys[2] = resource + "/" + subresource
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		for _, verb := range id.Permissions[k] {
			if strings.EqualFold(verb, "all") || strings.EqualFold(verb, method) {
				return true
			}
		}
	}
	return false
}
