package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"storeapi/apierror"
)

// Recover turns a panic in next into a logged 500 answer, so one bad request never
// takes the server down.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					err := fmt.Errorf("middleware: panic: %v\n%s", v, debug.Stack())
					apierror.Write(w, r, log, apierror.Internal(err))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}
