package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"storeapi/schemas"
)

func TestReadResponse(t *testing.T) {
	const next = "NEXT"
	tests := []struct {
		name    string
		in      string
		want    response
		wantErr bool
		// rest is what must be left unread (default: next).
		rest string
	}{
		{name: "content length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + next,
			want: response{status: 200}},
		{name: "header names any case", in: "HTTP/1.1 200 OK\r\ncontent-length:  3 \r\nx-cache: HIT\r\n\r\nabc" + next,
			want: response{status: 200, hit: true}},
		{name: "miss", in: "HTTP/1.1 200 OK\r\nX-Cache: MISS\r\nContent-Length: 0\r\n\r\n" + next,
			want: response{status: 200}},
		{name: "chunked with extension and trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: v\r\n\r\n" + next, want: response{status: 200}},
		{name: "204 has no body", in: "HTTP/1.1 204 No Content\r\n\r\n" + next, want: response{status: 204}},
		{name: "304 ignores its length", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n" + next,
			want: response{status: 304}},
		{name: "1xx skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}" + next,
			want: response{status: 201}},
		{name: "status without reason", in: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n" + next, want: response{status: 404}},
		{name: "connection close", in: "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx" + next,
			want: response{status: 503, close: true}},
		{name: "no length reads to the end", in: "HTTP/1.0 200 OK\r\n\r\nall of this" + next,
			want: response{status: 200, close: true}, rest: "-"},
		{name: "LF only", in: "HTTP/1.1 200 OK\nContent-Length: 1\n\nx" + next, want: response{status: 200}},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: true},
		{name: "letters in status", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "status below 100", in: "HTTP/1.1 099 OK\r\n\r\n", wantErr: true},
		{name: "status glued to reason", in: "HTTP/1.1 200OK\r\n\r\n", wantErr: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: true},
		{name: "huge length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", wantErr: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", wantErr: true},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantErr: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: true},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", wantErr: true},
		{name: "truncated head", in: "HTTP/1.1 200 OK\r\nContent-Le", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "too many headers", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("A: b\r\n", maxHeaderLines+1) + "\r\n", wantErr: true},
		{name: "line too long", in: "HTTP/1.1 200 OK\r\nA: " + strings.Repeat("b", readBufSize) + "\r\n\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tt.in), readBufSize)
			got, err := readResponse(r, tt.want.status)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %+v and no error, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			rest, _ := io.ReadAll(r)
			want := tt.rest
			if want == "" {
				want = next
			} else if want == "-" {
				want = ""
			}
			if string(rest) != want {
				t.Fatalf("left %q unread, want %q", rest, want)
			}
		})
	}
}

// TestReadResponseKeepsErrorBody checks that an unexpected answer's body is kept.
func TestReadResponseKeepsErrorBody(t *testing.T) {
	body := `{"status":400,"message":"bad"}`
	in := "HTTP/1.1 400 Bad Request\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	r := bufio.NewReader(strings.NewReader(in))
	res, err := readResponse(r, 200)
	if err != nil || res.status != 400 || res.body != body {
		t.Fatalf("got %+v, %v; want status 400 and body %s", res, err, body)
	}
	res, err = readResponse(r, 200)
	if err != nil || res.status != 200 || res.body != "" {
		t.Fatalf("second answer: got %+v, %v", res, err)
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReaderSize(strings.NewReader(string(in)), 64)
		res, err := readResponse(r, 200)
		if err == nil && (res.status < 100 || res.status > 999) {
			t.Fatalf("status %d accepted", res.status)
		}
	})
}

// TestRequestIsHTTP checks that the prepared requests are what net/http reads.
func TestRequestIsHTTP(t *testing.T) {
	tests := []struct {
		method, target string
		headers        []string
		body           string
	}{
		{"GET", "/v1/products/0123456789abcdef01234567.json", []string{"X-Store-ID", "1000", "X-Cache-Tag", "x"}, ""},
		{"GET", "/v1/products.json?name%25=azul&limit=20", nil, ""},
		{"POST", "/v1/products.json", []string{"X-My-ID", "a"}, `{"sku":"a1"}`},
		{"PATCH", "/v1/products/x.json", nil, `{}`},
	}
	for _, tt := range tests {
		raw := appendRequest(nil, tt.method, "127.0.0.1:1", tt.target, tt.headers, []byte(tt.body))
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(raw))))
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.target, err)
		}
		body, _ := io.ReadAll(req.Body)
		if req.Method != tt.method || req.RequestURI != tt.target || req.Host != "127.0.0.1:1" || string(body) != tt.body {
			t.Fatalf("got %s %s host %s body %q, want %s %s body %q", req.Method, req.RequestURI, req.Host, body, tt.method, tt.target, tt.body)
		}
		for i := 0; i < len(tt.headers); i += 2 {
			if got := req.Header.Get(tt.headers[i]); got != tt.headers[i+1] {
				t.Fatalf("header %s: got %q, want %q", tt.headers[i], got, tt.headers[i+1])
			}
		}
	}
}

func TestHist(t *testing.T) {
	// Every value lies in its bucket, and buckets follow each other without gaps.
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		v := r.Int64N(int64(1) << uint(r.IntN(62)+1))
		lo, hi := bucketRange(bucketOf(v))
		if v < lo || v > hi {
			t.Fatalf("%d is in bucket %d [%d, %d]", v, bucketOf(v), lo, hi)
		}
	}
	if b := bucketOf(math.MaxInt64); b != histBuckets-1 {
		t.Fatalf("MaxInt64 is in bucket %d, want the last, %d", b, histBuckets-1)
	}
	for i := 1; i < histBuckets; i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, bucket %d ends at %d", i, lo, i-1, prevHi)
		}
	}
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0, time.Microsecond}, {1, 1000 * time.Microsecond}}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		if d := float64(got-tt.want) / float64(tt.want); d < -0.04 || d > 0.04 {
			t.Errorf("quantile(%v): got %v, want %v ± 4%%", tt.q, got, tt.want)
		}
	}
	if got, want := h.mean(), 500500*time.Nanosecond; got != want {
		t.Errorf("mean: got %v, want %v", got, want)
	}
	var m hist
	m.merge(&h)
	m.merge(&h)
	if m.n != 2000 || m.quantile(0.5) != h.quantile(0.5) || m.max != h.max {
		t.Errorf("merge: got n %d p50 %v max %d", m.n, m.quantile(0.5), m.max)
	}
	var empty hist
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Error("empty histogram: want zeros")
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1:0", false},
		{"localhost:8080", false},
		{"10.0.0.1:80", false},
		{"[::1]:80", false},
		{"example.com:80", false},
		{"127.0.0.1", false},
		{"127.0.0.1:http", false},
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q): got %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}

func TestParseScenarios(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"get", "get", false},
		{"patch, get ,get", "get,patch", false},
		{"all", strings.Join(allScenarios, ","), false},
		{"engine,rss", "rss,engine", false},
		{"", "", true},
		{" , ", "", true},
		{"gets", "", true},
	}
	for _, tt := range tests {
		got, err := parseScenarios(tt.in)
		if (err != nil) != tt.wantErr || strings.Join(got, ",") != tt.want {
			t.Errorf("parseScenarios(%q): got %v, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"-products", "100000", "-conns", "8", "-duration", "2s", "-scenarios", "get,rss"}, false},
		{[]string{"-products", "10"}, true},
		{[]string{"-conns", "0"}, true},
		{[]string{"-duration", "1ms"}, true},
		{[]string{"-hot", "6000"}, true},
		{[]string{"-cache-mb", "0"}, true},
		{[]string{"-disturbed", "2"}, true},
		{[]string{"-retries", "-1"}, true},
		{[]string{"-rss-requests", "0"}, true},
		{[]string{"-scenarios", "nope"}, true},
		{[]string{"extra"}, true},
	}
	for _, tt := range tests {
		_, err := parseOptions(tt.args, io.Discard)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseOptions(%q): got %v, want error %v", tt.args, err, tt.wantErr)
		}
	}
}

// TestRunLoad drives a small local server with a bounded number of requests.
func TestRunLoad(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		switch r.URL.Path {
		case "/hit":
			w.Header().Set("X-Cache", "HIT")
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			return
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 100_000))) // chunked
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	path := func(p string) gen {
		return func(buf []byte, _ uint64, _ *rand.Rand) []byte {
			return appendRequest(buf, "GET", addr, p, nil, nil)
		}
	}
	tests := []struct {
		name                   string
		path                   string
		total                  uint64
		wantOK, wantHits, errs uint64
	}{
		{"ok", "/", 300, 300, 0, 0},
		{"hits", "/hit", 200, 200, 200, 0},
		{"chunked", "/big", 50, 50, 0, 0},
		{"unexpected status", "/fail", 40, 0, 0, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			served.Store(0)
			res, err := runLoad(context.Background(), loadSpec{addr: addr, conns: 4, total: tt.total, want: http.StatusOK, next: path(tt.path)})
			if err != nil {
				t.Fatal(err)
			}
			if res.requests != tt.wantOK || res.hits != tt.wantHits || res.errors != tt.errs || res.lat.n != tt.wantOK {
				t.Fatalf("got %d ok, %d hits, %d errors, %d latencies; want %d, %d, %d", res.requests, res.hits, res.errors, res.lat.n, tt.wantOK, tt.wantHits, tt.errs)
			}
			if got := served.Load(); got != int64(tt.total) {
				t.Fatalf("server answered %d requests, want %d", got, tt.total)
			}
		})
	}
	// A duration-bounded run measures only after its warm-up, and a refused target
	// fails at once.
	res, err := runLoad(context.Background(), loadSpec{addr: addr, conns: 2, warm: 50 * time.Millisecond, dur: 100 * time.Millisecond, want: 200, next: path("/")})
	if err != nil || res.requests == 0 || res.elapsed <= 0 {
		t.Fatalf("timed run: got %+v, %v", res, err)
	}
	if _, err := runLoad(context.Background(), loadSpec{addr: "10.1.2.3:80", conns: 1, total: 1, want: 200, next: path("/")}); err == nil {
		t.Fatal("a run against 10.1.2.3 started")
	}
}

// TestRunLoadStopsOnErrors checks that a dead target ends the run instead of spinning.
func TestRunLoadStopsOnErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	res, err := runLoad(context.Background(), loadSpec{addr: addr, conns: 50, dur: time.Hour, want: 200,
		next: func(buf []byte, _ uint64, _ *rand.Rand) []byte { return appendRequest(buf, "GET", addr, "/", nil, nil) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.errors < maxErrors || res.requests != 0 {
		t.Fatalf("got %d errors, %d requests; want at least %d errors", res.errors, res.requests, maxErrors)
	}
}

// TestProductBodyValid checks that the synthetic products (what POST sends and the
// seed writes) are valid products, so that PATCHes of seeded documents validate.
func TestProductBodyValid(t *testing.T) {
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 200 {
		doc := productDoc(r, 1000, i, "0123456789abcdef01234567", isoNow())
		if err := set.Validate("products", doc); err != nil {
			t.Fatalf("product %d: %v", i, err)
		}
	}
	if err := set.Validate("stores", storeDoc(1001, isoNow())); err != nil {
		var ve *schemas.ValidationError
		if !errors.As(err, &ve) {
			t.Fatal(err)
		}
		t.Fatalf("store: %v", err)
	}
}

func TestCPUShare(t *testing.T) {
	a := takeCPU()
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	b := takeCPU()
	if !a.ok || !b.ok {
		t.Skip("no /proc on this system")
	}
	if f := b.othersSince(a); f != -1 && (f < 0 || f > 1) {
		t.Fatalf("others' share %v is not in [0, 1]", f)
	}
	if got := b.othersSince(b); got != -1 {
		t.Fatalf("share over no time: got %v, want -1", got)
	}
}
