package middleware

import (
	"context"
	"log/slog"
	"net/http"

	"storeapi/apierror"
	"storeapi/auth"
)

// Verifier checks an access token of a store and returns the caller's authentication.
type Verifier interface {
	Verify(ctx context.Context, storeID int64, myID, token string) (*auth.Identity, error)
}

// Authenticate verifies X-My-ID and X-Access-Token when a request sends them and puts
// the authentication in the context; a bad or expired token is 401 at once. Requests
// without them go on as public: the handlers decide what the public may do.
func Authenticate(v Verifier, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := r.Header.Get("X-Access-Token")
			myID := r.Header.Get("X-My-ID")
			storeID := StoreID(r.Context())
			if (token == "" && myID == "") || storeID == 0 {
				next.ServeHTTP(w, r)
				return
			}
			id, err := v.Verify(r.Context(), storeID, myID, token)
			if err != nil {
				apierror.Write(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}
