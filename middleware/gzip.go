package middleware

import (
	"bufio"
	"compress/gzip"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// DefaultGzipMinSize is the smallest answer body Gzip compresses: below about a
// kilobyte the gzip header and the CPU cost outweigh the bytes saved.
const DefaultGzipMinSize = 1024

// Gzip compresses answers of at least minSize bytes (DefaultGzipMinSize when 0) with
// gzip at level (gzip.DefaultCompression when 0) for clients whose Accept-Encoding
// allows gzip. Every answer gets "Vary: Accept-Encoding". It leaves alone answers
// to HEAD, 1xx, 204, 206 and 304 answers, answers that already have a
// Content-Encoding (the response cache stores compressed bodies), and media types that
// are already compressed (images, audio, video, archives). Writers come from a
// sync.Pool. A level outside gzip's range means gzip.DefaultCompression.
//
// The ETag of a compressed answer is the one of the uncompressed body: the API
// answers no range requests, so the two encodings never mix, and If-None-Match keeps
// working whichever encoding a client got.
func Gzip(minSize, level int) func(http.Handler) http.Handler {
	if minSize <= 0 {
		minSize = DefaultGzipMinSize
	}
	if level < gzip.HuffmanOnly || level > gzip.BestCompression || level == 0 {
		level = gzip.DefaultCompression
	}
	pool := &sync.Pool{New: func() any {
		gz, _ := gzip.NewWriterLevel(nil, level)
		return gz
	}}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Accept-Encoding")
			if r.Method == http.MethodHead || !AcceptsGzip(r.Header.Get("Accept-Encoding")) {
				next.ServeHTTP(w, r)
				return
			}
			gw := &gzipWriter{ResponseWriter: w, pool: pool, minSize: minSize}
			defer gw.finish()
			next.ServeHTTP(gw, r)
		})
	}
}

// AcceptsGzip reports whether an Accept-Encoding header value allows a gzip answer:
// it names gzip (or x-gzip, or *) with a non-zero quality, and does not refuse gzip
// explicitly. Malformed parts are ignored.
func AcceptsGzip(header string) bool {
	if header == "" {
		return false
	}
	star := false
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		ok := qualityNonZero(params)
		if coding == "*" {
			star = ok
			continue
		}
		return ok
	}
	return star
}

// qualityNonZero reads the parameters of one Accept-Encoding entry and reports whether
// its q value is above zero (no q means 1). A malformed q counts as 1.
func qualityNonZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return true
		}
		return q > 0
	}
	return true
}

// gzipWriter decides, when the answer's header is written, whether to compress it:
// from Content-Length when the handler set it, otherwise after minSize bytes (or the
// end of the body, whichever comes first).
type gzipWriter struct {
	http.ResponseWriter
	pool    *sync.Pool
	minSize int
	status  int    // the status the handler set, 0 before
	decided bool   // headers sent to ResponseWriter
	buf     []byte // body held back until the decision
	gz      *gzip.Writer
}

// WriteHeader remembers the status; the header goes out once the encoding is decided.
func (g *gzipWriter) WriteHeader(code int) {
	if g.decided || g.status != 0 {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		g.ResponseWriter.WriteHeader(code)
		return
	}
	g.status = code
	h := g.Header()
	if !compressible(code, h) {
		g.decide(false)
		return
	}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		g.decide(err == nil && n >= int64(g.minSize))
	}
}

// Write compresses, passes through, or holds back b until the decision.
func (g *gzipWriter) Write(b []byte) (int, error) {
	if g.status == 0 {
		g.WriteHeader(http.StatusOK)
	}
	if g.decided {
		if g.gz != nil {
			return g.gz.Write(b)
		}
		return g.ResponseWriter.Write(b)
	}
	g.buf = append(g.buf, b...)
	if len(g.buf) >= g.minSize {
		if err := g.decideAndFlushBuffer(true); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush sends what is buffered (deciding to compress if undecided) and flushes.
func (g *gzipWriter) Flush() {
	if g.status == 0 {
		g.WriteHeader(http.StatusOK)
	}
	if !g.decided {
		_ = g.decideAndFlushBuffer(true)
	}
	if g.gz != nil {
		_ = g.gz.Flush()
	}
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}

// Hijack hands the connection over (websockets and the like never compress).
func (g *gzipWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(g.ResponseWriter).Hijack()
}

// Unwrap gives http.ResponseController the underlying writer.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// decide sends the header, compressed or not.
func (g *gzipWriter) decide(compress bool) {
	g.decided = true
	if compress {
		h := g.Header()
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		h.Del("Accept-Ranges")
		gz := g.pool.Get().(*gzip.Writer)
		gz.Reset(g.ResponseWriter)
		g.gz = gz
	}
	g.ResponseWriter.WriteHeader(g.status)
}

// decideAndFlushBuffer decides and writes the held-back bytes.
func (g *gzipWriter) decideAndFlushBuffer(compress bool) error {
	g.decide(compress)
	buf := g.buf
	g.buf = nil
	if len(buf) == 0 {
		return nil
	}
	var err error
	if g.gz != nil {
		_, err = g.gz.Write(buf)
	} else {
		_, err = g.ResponseWriter.Write(buf)
	}
	return err
}

// finish ends the answer: a body that stayed under minSize goes out as it is; a
// compressed one gets its gzip trailer and the writer returns to the pool.
func (g *gzipWriter) finish() {
	if g.status == 0 && !g.decided {
		// The handler wrote nothing: net/http sends its own empty 200.
		return
	}
	if !g.decided {
		_ = g.decideAndFlushBuffer(false)
	}
	if g.gz != nil {
		_ = g.gz.Close()
		g.gz.Reset(nil)
		g.pool.Put(g.gz)
		g.gz = nil
	}
}

// compressible reports whether an answer with this status and header may be compressed.
func compressible(code int, h http.Header) bool {
	switch code {
	case http.StatusNoContent, http.StatusNotModified, http.StatusPartialContent, http.StatusSwitchingProtocols:
		return false
	}
	if h.Get("Content-Encoding") != "" || h.Get("Content-Range") != "" {
		return false
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	if strings.HasPrefix(ct, "image/svg") {
		return true
	}
	for _, prefix := range []string{"image/", "audio/", "video/", "font/woff", "application/zip", "application/gzip",
		"application/x-gzip", "application/zstd", "application/octet-stream", "application/pdf"} {
		if strings.HasPrefix(ct, prefix) {
			return false
		}
	}
	return true
}
