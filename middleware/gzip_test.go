package middleware

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"x-gzip", true},
		{"*", true},
		{"*;q=0", false},
		{"*, gzip;q=0", false},
		{"deflate, br", false},
		{"identity", false},
		{"gzip;q=abc", true},
		{"gzipx", false},
		{";;,,", false},
	}
	for _, tt := range tests {
		if got := AcceptsGzip(tt.header); got != tt.want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*, gzip;q=0.5", "br;q=1.0, gzip;q=0.8", ";q=", ",,;;=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := AcceptsGzip(header)
		if !strings.Contains(strings.ToLower(header), "gzip") && !strings.Contains(header, "*") && got {
			t.Fatalf("AcceptsGzip(%q) = true without gzip or *", header)
		}
	})
}

// gzHandler answers with body, setting Content-Length when withLength, in chunks of
// chunk bytes (all at once when 0).
func gzHandler(status int, ctype string, body []byte, withLength bool, chunk int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		if withLength {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(status)
		if chunk == 0 {
			chunk = len(body) + 1
		}
		for b := body; len(b) > 0; {
			n := min(chunk, len(b))
			_, _ = w.Write(b[:n])
			b = b[n:]
		}
	})
}

// gzDecode decompresses b or fails the test.
func gzDecode(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip.NewReader: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func TestGzip(t *testing.T) {
	big := []byte(`{"result":[` + strings.Repeat(`{"_id":"0123456789abcdef01234567","sku":"abc"},`, 100) + `{}]}`)
	small := []byte(`{"_id":"0123456789abcdef01234567"}`)
	json := "application/json; charset=utf-8"
	tests := []struct {
		name         string
		method       string
		acceptEnc    string
		handler      http.Handler
		wantEncoded  bool
		wantStatus   int
		wantBody     []byte
		presetHeader map[string]string
	}{
		{"big with length", "GET", "gzip", gzHandler(200, json, big, true, 0), true, 200, big, nil},
		{"big streamed in chunks", "GET", "gzip, br", gzHandler(200, json, big, false, 100), true, 200, big, nil},
		{"big byte by byte", "GET", "gzip", gzHandler(200, json, big, false, 1), true, 200, big, nil},
		{"small with length", "GET", "gzip", gzHandler(200, json, small, true, 0), false, 200, small, nil},
		{"small without length", "GET", "gzip", gzHandler(200, json, small, false, 3), false, 200, small, nil},
		{"client does not accept", "GET", "", gzHandler(200, json, big, true, 0), false, 200, big, nil},
		{"client refuses", "GET", "gzip;q=0", gzHandler(200, json, big, true, 0), false, 200, big, nil},
		{"error answers too", "GET", "gzip", gzHandler(400, json, big, true, 0), true, 400, big, nil},
		{"image", "GET", "gzip", gzHandler(200, "image/png", big, true, 0), false, 200, big, nil},
		{"svg", "GET", "gzip", gzHandler(200, "image/svg+xml", big, true, 0), true, 200, big, nil},
		{"head", "HEAD", "gzip", gzHandler(200, json, nil, false, 0), false, 200, nil, nil},
		{"not modified", "GET", "gzip", gzHandler(304, "", nil, false, 0), false, 304, nil, nil},
		{"no content", "DELETE", "gzip", gzHandler(204, "", nil, false, 0), false, 204, nil, nil},
		{"already encoded", "GET", "gzip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "br")
			_, _ = w.Write(big)
		}), false, 200, big, nil},
	}
	mw := Gzip(0, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/v1/products.json", nil)
			if tt.acceptEnc != "" {
				r.Header.Set("Accept-Encoding", tt.acceptEnc)
			}
			w := httptest.NewRecorder()
			mw(tt.handler).ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if !hasVaryValue(w.Header(), "Accept-Encoding") {
				t.Errorf("Vary = %q, want Accept-Encoding in it", w.Header().Values("Vary"))
			}
			enc := w.Header().Get("Content-Encoding")
			body := w.Body.Bytes()
			if tt.wantEncoded {
				if enc != "gzip" {
					t.Fatalf("Content-Encoding %q, want gzip", enc)
				}
				if cl := w.Header().Get("Content-Length"); cl != "" {
					t.Errorf("Content-Length %s kept on a compressed answer", cl)
				}
				body = gzDecode(t, body)
			} else if enc == "gzip" {
				t.Fatalf("compressed, want it left alone")
			}
			if !bytes.Equal(body, tt.wantBody) {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}
}

// hasVaryValue reports whether h's Vary names v.
func hasVaryValue(h http.Header, v string) bool {
	for _, line := range h.Values("Vary") {
		for part := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(part), v) {
				return true
			}
		}
	}
	return false
}

// TestGzipPooledWriters runs many compressions at once through one middleware: pooled
// writers must never mix two answers (run with -race).
func TestGzipPooledWriters(t *testing.T) {
	mw := Gzip(16, 1)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, strings.Repeat(r.URL.Query().Get("s"), 200))
	}))
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := fmt.Sprintf("w%03d-", i)
			r := httptest.NewRequest("GET", "/?s="+s, nil)
			r.Header.Set("Accept-Encoding", "gzip")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				errs <- err
				return
			}
			if string(got) != strings.Repeat(s, 200) {
				errs <- fmt.Errorf("request %d got another answer: %.40q", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestGzipOverHTTP checks the middleware through a real server and client, which
// decompresses transparently.
func TestGzipOverHTTP(t *testing.T) {
	big := strings.Repeat("storefront ", 500)
	srv := httptest.NewServer(Gzip(0, 0)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, big)
		http.NewResponseController(w).Flush()
		_, _ = io.WriteString(w, big)
	})))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if !res.Uncompressed {
		t.Errorf("answer was not gzip-compressed")
	}
	if string(got) != big+big {
		t.Errorf("got %d bytes, want %d", len(got), 2*len(big))
	}
}
