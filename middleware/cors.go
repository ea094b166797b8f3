package middleware

import (
	"net/http"
	"strings"
)

// corsAllowHeaders are the request headers browsers may send to the Store API.
const corsAllowHeaders = "Content-Type, Accept, X-Store-ID, X-My-ID, X-Access-Token, X-Cache-Tag, If-Match, If-None-Match"

// corsExposeHeaders are the answer headers browser scripts may read.
const corsExposeHeaders = "ETag, Location, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-Sandbox, X-Cache"

// CORS lets browser scripts of any origin call the API, and answers preflight (and
// every OPTIONS) requests itself, without authentication, listing the verbs in Allow.
func CORS(allowedMethods []string) func(http.Handler) http.Handler {
	methods := strings.Join(append(append([]string{}, allowedMethods...), http.MethodOptions), ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			if r.Method == http.MethodOptions {
				h.Set("Allow", methods)
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "86400")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
