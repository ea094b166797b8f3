package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// etagOf is the strong entity tag of an answer's bytes.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// docETag is the entity tag of a document as an authenticated GET answers it; If-Match
// compares with it.
func docETag(doc any) string {
	data, _ := json.Marshal(doc)
	return etagOf(data)
}

// writeJSON sends v with status. GET answers carry an ETag and answer 304 to a matching
// If-None-Match; public ones may be kept by browsers for a short while.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any, public bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		tag := etagOf(data)
		h.Set("ETag", tag)
		// X-Cache-Tag asks for an answer no shared cache or browser keeps.
		if public && r.Header.Get("X-Cache-Tag") == "" {
			h.Set("Cache-Control", "public, max-age=30")
		} else {
			h.Set("Cache-Control", "private, no-store")
		}
		h.Add("Vary", "X-Store-ID, X-My-ID, X-Access-Token")
		if etagMatches(r.Header.Get("If-None-Match"), tag) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
	return nil
}

// writeNoContent answers 204.
func writeNoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// etagMatches reports whether an If-None-Match / If-Match header value names tag
// (a comma list, "*" matching anything, weak tags compared by their opaque part).
func etagMatches(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == tag {
			return true
		}
	}
	return false
}
