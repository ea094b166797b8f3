package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"storeapi/apierror"
)

// maxStoreID bounds store ids to what every JSON client holds exactly (2^53).
const maxStoreID = 1 << 53

// StoreExists reports whether a store exists.
type StoreExists func(ctx context.Context, storeID int64) (bool, error)

// Store resolves the store of a request — from the path (/<store_id>/v1/…) or else the
// X-Store-ID header — and puts it in the context. Missing: 417; not a positive integer:
// 400; no such store: 412. The API root (/v1/) needs no store.
func Store(exists StoreExists, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !needsStore(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			raw, fromPath := storeInPath(r.URL.Path)
			if !fromPath {
				raw = r.Header.Get("X-Store-ID")
			}
			if raw == "" {
				apierror.Write(w, r, log, apierror.New(http.StatusExpectationFailed, -40,
					"send the store id in the X-Store-ID header"))
				return
			}
			id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
			if err != nil || id <= 0 || id > maxStoreID {
				apierror.Write(w, r, log, apierror.Newf(http.StatusBadRequest, -41,
					"the store id %q is not a positive integer", raw))
				return
			}
			ok, err := exists(r.Context(), id)
			if err != nil {
				apierror.Write(w, r, log, apierror.Internal(err))
				return
			}
			if !ok {
				apierror.Write(w, r, log, apierror.Newf(http.StatusPreconditionFailed, -42,
					"there is no store %d", id))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithStoreID(r.Context(), id)))
		})
	}
}

// needsStore reports whether a path is served for one store (all but the API root).
func needsStore(path string) bool {
	switch path {
	case "/v1", "/v1/", "/v1/_sandbox.json", "/v1/_sandbox":
		return false
	}
	return true
}

// storeInPath returns the store id segment of /<store_id>/v1/… paths.
func storeInPath(path string) (string, bool) {
	rest := strings.TrimPrefix(path, "/")
	seg, tail, ok := strings.Cut(rest, "/")
	if !ok || seg == "" || seg == "v1" || !strings.HasPrefix(tail, "v1") {
		return "", false
	}
	return seg, true // digits or not: Store reports a bad one as an invalid store id
}

// knownStoreMax bounds how many existing stores RememberStores keeps.
const knownStoreMax = 100_000

// RememberStores wraps exists so that a store found to exist is taken as existing for
// ttl without asking the database again (see rememberStores).
func RememberStores(exists StoreExists, ttl time.Duration) StoreExists {
	return rememberStores(exists, ttl, knownStoreMax, time.Now)
}

// rememberStores wraps exists so that a store found to exist is taken as existing for
// ttl without asking again: the check of every request then costs no database read. A
// store that stops existing (a purged sandbox store) is refused at most ttl later.
// Missing stores are never remembered, so a store created a moment ago is served at
// once. At most max stores are remembered; when full, the memory starts over.
func rememberStores(exists StoreExists, ttl time.Duration, max int, now func() time.Time) StoreExists {
	var mu sync.Mutex
	seen := map[int64]time.Time{}
	return func(ctx context.Context, storeID int64) (bool, error) {
		t := now()
		mu.Lock()
		until, ok := seen[storeID]
		mu.Unlock()
		if ok && t.Before(until) {
			return true, nil
		}
		found, err := exists(ctx, storeID)
		if err != nil || !found {
			return found, err
		}
		mu.Lock()
		if len(seen) >= max {
			seen = map[int64]time.Time{}
		}
		seen[storeID] = t.Add(ttl)
		mu.Unlock()
		return true, nil
	}
}
