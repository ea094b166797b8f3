// Package metrics is storeapi's Prometheus instrumentation: one registry (not the
// global default) with the HTTP request counters and latencies by route class, the
// response cache's hits and misses, the rate limiter's delays and refusals, and the
// database's errors and latencies, served as Prometheus text by Handler (GET /metrics).
//
// The metrics:
//
//	storeapi_http_requests_total{class,code}            requests answered
//	storeapi_http_request_duration_seconds{class}       time to answer
//	storeapi_http_requests_in_flight                    requests being answered
//	storeapi_cache_lookups_total{result="hit"|"miss"}   response cache lookups
//	storeapi_rate_limited_total{limit,action}           limit: cached|uncached|auth; action: delayed|rejected
//	storeapi_db_errors_total{op}                        database calls that failed (not found and duplicate are answers, not errors)
//	storeapi_db_operation_duration_seconds{op}          database call latency
//
// plus the Go runtime's and the process's standard collectors. Route classes are
// document, list, subresource, special and other (see Classify).
package metrics

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The route classes of the request metrics.
const (
	ClassDocument    = "document"    // one document: /v1/<resource>/<id>, stores/me, authentications/me
	ClassList        = "list"        // a resource: /v1/<resource>
	ClassSubresource = "subresource" // below a document: /v1/<resource>/<id>/<property>[/…]
	ClassSpecial     = "special"     // the API root, schemas, _login, _authenticate, $count, $aggregate, …
	ClassOther       = "other"       // anything else: /metrics, /health, unknown paths
)

// classes lists the route classes in index order.
var classes = [...]string{ClassDocument, ClassList, ClassSubresource, ClassSpecial, ClassOther}

// class indexes into classes.
type class int

const (
	classDocument class = iota
	classList
	classSubresource
	classSpecial
	classOther
	numClasses
)

// minCode and maxCode bound the statuses counted under their own code label; others
// are counted as code "other".
const (
	minCode = 100
	maxCode = 599
)

// latencyBuckets suit an API whose cached answers take tens of microseconds and whose
// slow ones a few seconds.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds storeapi's collectors and their registry. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	lookups    *prometheus.CounterVec
	rateLimits *prometheus.CounterVec
	dbErrors   *prometheus.CounterVec
	dbDuration *prometheus.HistogramVec

	hits, misses prometheus.Counter
	observers    [numClasses]prometheus.Observer
	// counters caches requests' children by class and status (code-minCode), so that
	// recording a request looks up no label map.
	counters [numClasses][maxCode - minCode + 2]atomic.Pointer[prometheus.Counter]
}

// New returns a Metrics with every collector registered in a registry of its own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storeapi_http_requests_total",
			Help: "HTTP requests answered, by route class and status code.",
		}, []string{"class", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "storeapi_http_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its answer, by route class.",
			Buckets: latencyBuckets,
		}, []string{"class"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "storeapi_http_requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storeapi_cache_lookups_total",
			Help: "Response cache lookups of public GETs, by result (hit or miss).",
		}, []string{"result"}),
		rateLimits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storeapi_rate_limited_total",
			Help: "Requests over a rate limit, by limit (cached, uncached, auth) and action (delayed, rejected).",
		}, []string{"limit", "action"}),
		dbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storeapi_db_errors_total",
			Help: "Database calls that failed, by operation.",
		}, []string{"op"}),
		dbDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "storeapi_db_operation_duration_seconds",
			Help:    "Database call latency, by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.inFlight, m.lookups, m.rateLimits, m.dbErrors, m.dbDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.hits = m.lookups.WithLabelValues("hit")
	m.misses = m.lookups.WithLabelValues("miss")
	for i, name := range classes {
		m.observers[i] = m.duration.WithLabelValues(name)
	}
	return m
}

// Registry is the registry the collectors are in, for registering more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// GaugeFunc registers a gauge whose value fn returns at each scrape (e.g. the cache's
// entry count). A name already registered is an error.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) error {
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Handler serves the registry as Prometheus text (or protobuf, by negotiation). It is
// meant for GET /metrics, outside the API's rate limits.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// CacheLookup counts one response cache lookup; it fits cache.Options.OnLookup.
func (m *Metrics) CacheLookup(hit bool) {
	if hit {
		m.hits.Inc()
		return
	}
	m.misses.Inc()
}

// RateLimited counts one request over a limit ("cached", "uncached", "auth"), delayed
// or rejected; it fits middleware.RateLimitOptions.OnLimit.
func (m *Metrics) RateLimited(limit string, rejected bool) {
	action := "delayed"
	if rejected {
		action = "rejected"
	}
	m.rateLimits.WithLabelValues(limit, action).Inc()
}

// DatabaseError counts one failed database call of operation op.
func (m *Metrics) DatabaseError(op string) {
	m.dbErrors.WithLabelValues(op).Inc()
}

// Middleware counts every request by route class and status and observes its latency.
// Place it outermost (outside Recover), so that answers made of panics are counted too.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			m.inFlight.Dec()
			c := classOf(r.URL.Path)
			m.observers[c].Observe(time.Since(start).Seconds())
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.counter(c, status).Inc()
		}()
		next.ServeHTTP(sw, r)
	})
}

// counter returns the requests counter of a class and status.
func (m *Metrics) counter(c class, status int) prometheus.Counter {
	i := len(m.counters[c]) - 1
	code := "other"
	if status >= minCode && status <= maxCode {
		i = status - minCode
		code = strconv.Itoa(status)
	}
	slot := &m.counters[c][i]
	if p := slot.Load(); p != nil {
		return *p
	}
	ctr := m.requests.WithLabelValues(classes[c], code)
	slot.Store(&ctr)
	return ctr
}

// statusWriter remembers the status an answer was sent with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the final status and sends it.
func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write sends body bytes (a 200 when no status was set).
func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush flushes the underlying writer when it can.
func (s *statusWriter) Flush() {
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Classify returns the route class of a request path: ClassList for /v1/<resource>,
// ClassDocument for /v1/<resource>/<id>, ClassSubresource deeper, ClassSpecial for the
// API root, /v1/<resource>/schema and the specials (_login, $count, …), and ClassOther
// for paths outside the API. The /<store_id>/ and /sandbox/ prefixes and the .json
// suffix are allowed. It allocates nothing.
func Classify(path string) string { return classes[classOf(path)] }

// classOf is Classify's index form.
func classOf(path string) class {
	rest, ok := cutSegment(path, "sandbox")
	if !ok {
		rest = path
	}
	if len(rest) > 1 && rest[0] == '/' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i > 1 && i < len(rest) && rest[i] == '/' {
			rest = rest[i:]
		}
	}
	rest, ok = cutSegment(rest, "v1")
	if !ok {
		return classOther
	}
	// rest is "" or "/…": count the segments after /v1.
	if rest == "" || rest == "/" {
		return classSpecial
	}
	rest = rest[1:]
	var segs [3]string
	n := 0
	for rest != "" && n < 3 {
		i := 0
		for i < len(rest) && rest[i] != '/' {
			i++
		}
		segs[n] = rest[:i]
		n++
		if i == len(rest) {
			rest = ""
		} else {
			rest = rest[i+1:]
		}
	}
	if n > 0 {
		last := segs[n-1]
		if len(last) > 5 && last[len(last)-5:] == ".json" {
			segs[n-1] = last[:len(last)-5]
		}
	}
	if segs[0] == "" {
		return classOther
	}
	if c := segs[0][0]; c == '_' || c == '$' {
		return classSpecial
	}
	switch n {
	case 1:
		return classList
	case 2:
		if segs[1] == "schema" {
			return classSpecial
		}
		if segs[1] == "" {
			return classList
		}
		return classDocument
	}
	return classSubresource
}

// cutSegment removes a leading "/"+name segment from path: "/v1/x" → "/x", "/v1" → "".
func cutSegment(path, name string) (string, bool) {
	if len(path) < 1+len(name) || path[0] != '/' || path[1:1+len(name)] != name {
		return path, false
	}
	rest := path[1+len(name):]
	if rest != "" && rest[0] != '/' {
		return path, false
	}
	return rest, true
}
