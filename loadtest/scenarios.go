package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"storeapi/db"
	"storeapi/resources"
	"storeapi/server"
)

// otherStores are the stores beside mainStore that hold a tenth of its products each.
var otherStores = []int64{1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009}

// Engine timings: each call is timed engineCalls times, or for engineTime if that
// comes first.
const (
	engineCalls = 2000
	engineTime  = 3 * time.Second
)

// listQuery is the filtered and sorted list of 20 (a storefront category page), and
// containsQuery the %= list, with %s for the category id and the (escaped) word.
const (
	listQuery     = "categories._id=%s&sort=price&limit=20"
	containsQuery = "name%%25=%s&limit=20"
)

// catalogue is what the catalogue scenarios request.
type catalogue struct {
	host  string
	ids   []string // mainStore's products
	hot   int
	myID  string
	token string
	// posts are POST bodies split around the sku, which each request makes unique.
	posts [][2][]byte
	tag   string
	// posted numbers the POSTs across runs, so that a run made again does not repeat
	// the skus of the last.
	posted atomic.Uint64
}

// words are the lower-case, query-escaped words the %= scenario looks for.
var words = func() []string {
	out := make([]string, 0, 10)
	for _, w := range nameWords[10:] {
		out = append(out, url.QueryEscape(strings.ToLower(w)))
	}
	return out
}()

// newCatalogue prepares the requests of the catalogue scenarios.
func newCatalogue(host string, ids []string, hot int, myID, token string, seed uint64) (*catalogue, error) {
	c := &catalogue{host: host, ids: ids, hot: hot, myID: myID, token: token,
		tag: strconv.FormatInt(time.Now().UnixNano()%1e12, 36)}
	r := rand.New(rand.NewPCG(seed, 3))
	const placeholder = "LOADTEST_SKU_PLACEHOLDER"
	for i := range 16 {
		raw, err := json.Marshal(productBody(r, 1_000_000+i, placeholder))
		if err != nil {
			return nil, err
		}
		before, after, ok := bytes.Cut(raw, []byte(placeholder))
		if !ok {
			return nil, fmt.Errorf("loadtest: POST body template has no sku")
		}
		c.posts = append(c.posts, [2][]byte{before, after})
	}
	return c, nil
}

var (
	hdrCached   = []string{"X-Store-ID", "1000"}
	hdrUncached = []string{"X-Store-ID", "1000", "X-Cache-Tag", "loadtest"}
)

// spec returns the load of a catalogue scenario against addr.
func (c *catalogue) spec(name, addr string, opts options) loadSpec {
	s := loadSpec{addr: addr, conns: opts.conns, warm: opts.warmup, dur: opts.duration, want: http.StatusOK}
	auth := []string{"X-Store-ID", "1000", "X-My-ID", c.myID, "X-Access-Token", c.token}
	switch name {
	case scCeilingLst:
		s.next = func(buf []byte, seq uint64, _ *rand.Rand) []byte {
			return appendRequest(buf, "GET", c.host, "/v1/products.json?"+fmt.Sprintf(listQuery, categoryID(int(seq%numCategories))), hdrCached, nil)
		}
	case scCeiling, scCachedGet:
		s.next = func(buf []byte, seq uint64, _ *rand.Rand) []byte {
			return appendRequest(buf, "GET", c.host, "/v1/products/"+c.ids[seq%uint64(c.hot)]+".json", hdrCached, nil)
		}
	case scGet:
		s.next = func(buf []byte, _ uint64, r *rand.Rand) []byte {
			return appendRequest(buf, "GET", c.host, "/v1/products/"+c.ids[r.IntN(len(c.ids))]+".json", hdrUncached, nil)
		}
	case scList:
		s.next = func(buf []byte, _ uint64, r *rand.Rand) []byte {
			return appendRequest(buf, "GET", c.host, "/v1/products.json?"+fmt.Sprintf(listQuery, categoryID(r.IntN(numCategories))), hdrUncached, nil)
		}
	case scContains:
		s.next = func(buf []byte, _ uint64, r *rand.Rand) []byte {
			return appendRequest(buf, "GET", c.host, "/v1/products.json?"+fmt.Sprintf(containsQuery, words[r.IntN(len(words))]), hdrUncached, nil)
		}
	case scCachedList:
		s.next = func(buf []byte, seq uint64, _ *rand.Rand) []byte {
			return appendRequest(buf, "GET", c.host, "/v1/products.json?"+fmt.Sprintf(listQuery, categoryID(int(seq%numCategories))), hdrCached, nil)
		}
	case scPost:
		s.want = http.StatusCreated
		s.next = func(buf []byte, _ uint64, _ *rand.Rand) []byte {
			// Connections call this at once: the body is the call's own.
			n := c.posted.Add(1)
			t := c.posts[n%uint64(len(c.posts))]
			body := make([]byte, 0, len(t[0])+len(t[1])+32)
			body = append(append(append(append(body, t[0]...), "LT-"+c.tag+"-"...), strconv.FormatUint(n, 10)...), t[1]...)
			return appendRequest(buf, "POST", c.host, "/v1/products.json", auth, body)
		}
	case scPatch:
		s.want = http.StatusNoContent
		s.next = func(buf []byte, _ uint64, r *rand.Rand) []byte {
			body := append(make([]byte, 0, 48), `{"price":`...)
			body = strconv.AppendFloat(body, float64(100+r.IntN(100000))/100, 'f', 2, 64)
			body = append(body, `,"quantity":`...)
			body = strconv.AppendInt(body, int64(r.IntN(500)), 10)
			body = append(body, '}')
			return appendRequest(buf, "PATCH", c.host, "/v1/products/"+c.ids[r.IntN(len(c.ids))]+".json", auth, body)
		}
	}
	return s
}

// describe says what a scenario requests, for the table.
func describe(name string) string {
	switch name {
	case scCeiling:
		return "bare net/http, same bytes as the cached GET by id"
	case scCeilingLst:
		return "bare net/http, same bytes as the cached list"
	case scGet:
		return "GET /v1/products/<id>.json, X-Cache-Tag (uncached), random id"
	case scList:
		return "GET /v1/products.json?" + strings.ReplaceAll(listQuery, "%s", "<cat>") + ", X-Cache-Tag"
	case scContains:
		return "GET /v1/products.json?" + strings.ReplaceAll(strings.ReplaceAll(containsQuery, "%%", "%"), "%s", "<word>") + ", X-Cache-Tag"
	case scCachedGet:
		return "GET /v1/products/<id>.json, cached (cycling -hot ids)"
	case scCachedList:
		return "GET /v1/products.json?" + strings.ReplaceAll(listQuery, "%s", "<cat>") + ", cached (50 lists)"
	case scPost:
		return "POST /v1/products.json (~1 KB product, validated)"
	case scPatch:
		return "PATCH /v1/products/<id>.json {price,quantity}"
	}
	return name
}

// loadScenarios are the scenarios measured over HTTP, in running order.
var loadScenarios = []string{scCeiling, scCeilingLst, scGet, scList, scContains, scCachedGet, scCachedList, scPost, scPatch}

// runCatalogue seeds the catalogue, starts storeapi and the ceiling, and measures the
// selected catalogue scenarios, then the engine timings.
func runCatalogue(ctx context.Context, opts options, base string, r *report, log *slog.Logger) error {
	var selected []string
	for _, s := range loadScenarios {
		if opts.has(s) {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 && !opts.has(scEngine) {
		return nil
	}
	cfg := serverConfig(filepath.Join(base, "catalogue"), opts.cacheMB)
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("seeding", "products", opts.products, "other_stores", len(otherStores), "each", opts.products/10)
	t0 := time.Now()
	ids, err := seedCatalogue(ctx, st, mainStore, otherStores, opts.products, opts.seed)
	if cerr := st.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	r.seed = time.Since(t0)
	r.docs = opts.products + len(otherStores)*(opts.products/10)
	t0 = time.Now()
	api, err := startAPI(ctx, cfg)
	if err != nil {
		return err
	}
	r.start = time.Since(t0)
	log.Info("server up", "addr", api.addr, "seed", r.seed.Round(time.Millisecond), "start_and_indexes", r.start.Round(time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			_ = api.stop()
		}
	}()
	if len(selected) > 0 {
		if err := measureCatalogue(ctx, opts, api.addr, cfg.DataDir, ids, selected, r, log); err != nil {
			return err
		}
	}
	stopped = true
	if err := api.stop(); err != nil {
		return err
	}
	r.dbSize = dirSize(cfg.DataDir)
	if opts.has(scEngine) {
		return timeEngine(ctx, cfg, ids, r, log)
	}
	return nil
}

// measureCatalogue runs the HTTP scenarios against a running server.
func measureCatalogue(ctx context.Context, opts options, addr, dataDir string, ids []string, selected []string, r *report, log *slog.Logger) error {
	base := "http://" + addr
	myID, token, err := login(ctx, base, dataDir)
	if err != nil {
		return err
	}
	doc, err := capture(ctx, base, "/v1/products/"+ids[0]+".json", mainStore)
	if err != nil {
		return err
	}
	list, err := capture(ctx, base, "/v1/products.json?"+fmt.Sprintf(listQuery, categoryID(0)), mainStore)
	if err != nil {
		return err
	}
	r.docBytes, r.listBytes = len(doc.body), len(list.body)
	ceiling, err := startCeiling(doc, list)
	if err != nil {
		return err
	}
	defer ceiling.stop()
	cat, err := newCatalogue(addr, ids, opts.hot, myID, token, opts.seed)
	if err != nil {
		return err
	}
	if opts.hold > 0 {
		// Time for an outside tool (wrk) to measure the same servers.
		log.Info("holding before measuring", "for", opts.hold, "ceiling", ceiling.addr, "storeapi", addr,
			"wrk", fmt.Sprintf("wrk -t2 -c%d -d5s -H 'X-Store-ID: 1000' http://%s/v1/products/%s.json", opts.conns, addr, ids[0]))
		t := time.NewTimer(opts.hold)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	for _, name := range selected {
		target := addr
		if name == scCeiling || name == scCeilingLst {
			target = ceiling.addr
		}
		// A run during which other processes took more than opts.disturbed of the CPU
		// is tried again (up to opts.retries times); the least disturbed run without
		// errors (if any) is kept.
		var best *row
		for attempt := 0; attempt <= opts.retries; attempt++ {
			load := loadAvg()
			log.Info("measuring", "scenario", name, "attempt", attempt+1, "conns", opts.conns, "duration", opts.duration, "load_avg", load)
			before := takeCPU()
			var res *loadResult
			err := profiled(opts.cpuProfile, name, func() (err error) {
				res, err = runLoad(ctx, cat.spec(name, target, opts))
				return err
			})
			if err != nil {
				return err
			}
			x := &row{name: name, what: describe(name), res: res, load: load, others: takeCPU().othersSince(before)}
			if res.errors > 0 {
				log.Warn("errors", "scenario", name, "count", res.errors, "first", res.firstErr)
			}
			if best == nil || (x.res.errors == 0) != (best.res.errors == 0) && x.res.errors == 0 ||
				(x.res.errors == 0) == (best.res.errors == 0) && x.others < best.others {
				best = x
			}
			best.attempts = attempt + 1
			if best.others <= opts.disturbed {
				break
			}
			log.Warn("disturbed: other processes used the CPU", "scenario", name, "share", share(x.others))
		}
		r.rows = append(r.rows, *best)
	}
	return nil
}

// timeEngine times, one call at a time on the stopped server's database, the db.Store
// calls behind the API's GET by id and lists (a list is a Find and a Count), with the
// queries parsed by the API's own parser.
func timeEngine(ctx context.Context, cfg server.Config, ids []string, r *report, log *slog.Logger) error {
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	fields := []string{"_id", "sku", "slug"}
	parse := func(raw string) (db.Query, error) {
		p, err := resources.ParseListQuery(raw)
		if err != nil {
			return db.Query{}, err
		}
		return db.Query{StoreID: mainStore, Conds: p.Conds, Sort: p.Sort, Fields: fields, Limit: p.Limit, Offset: p.Offset}, nil
	}
	listQ := func(i int) (db.Query, error) { return parse(fmt.Sprintf(listQuery, categoryID(i%numCategories))) }
	containsQ := func(i int) (db.Query, error) { return parse(fmt.Sprintf(containsQuery, words[i%len(words)])) }
	priceQ := func(i int) (db.Query, error) {
		return parse(fmt.Sprintf("price>=%d&price<=%d&sort=-price&limit=20", 100+i%900, 200+i%900))
	}
	// found is set when a Find returned documents: a Find that never does is a broken
	// query, not a fast one.
	var found bool
	find := func(q func(int) (db.Query, error)) func(int) error {
		return func(i int) error {
			qq, err := q(i)
			if err != nil {
				return err
			}
			docs, err := st.Find(ctx, "products", qq)
			if len(docs) > 0 {
				found = true
			}
			return err
		}
	}
	count := func(q func(int) (db.Query, error)) func(int) error {
		return func(i int) error {
			qq, err := q(i)
			if err != nil {
				return err
			}
			_, err = st.Count(ctx, "products", mainStore, qq.Conds)
			return err
		}
	}
	calls := []struct {
		name string
		fn   func(i int) error
	}{
		{"Get(products, id)", func(i int) error {
			_, err := st.Get(ctx, "products", mainStore, ids[i*7919%len(ids)])
			return err
		}},
		{"Find categories._id=<cat>, sort price, limit 20, fields _id,sku,slug", find(listQ)},
		{"Count categories._id=<cat>", count(listQ)},
		{"Find price>=a, price<=b (10% of the store), sort -price, limit 20", find(priceQ)},
		{"Find name%=<word>, limit 20", find(containsQ)},
		{"Count name%=<word>", count(containsQ)},
	}
	for _, c := range calls {
		if err := ctx.Err(); err != nil {
			return err
		}
		var h hist
		found = !strings.HasPrefix(c.name, "Find")
		start := time.Now()
		for i := 0; i < engineCalls && time.Since(start) < engineTime; i++ {
			t := time.Now()
			if err := c.fn(i); err != nil {
				return fmt.Errorf("loadtest: engine %s: %w", c.name, err)
			}
			h.record(time.Since(t))
		}
		if !found {
			return fmt.Errorf("loadtest: engine %s found nothing in %d calls", c.name, h.n)
		}
		log.Info("engine", "call", c.name, "n", h.n, "mean", h.mean())
		r.engine = append(r.engine, engineRow{name: c.name, lat: h})
	}
	return nil
}

// runRSS seeds rssStores stores with one product each, starts storeapi over them, sends
// rssRequests cached GETs cycling through the stores, and reads this process's memory.
func runRSS(ctx context.Context, opts options, base string, r *report, log *slog.Logger) error {
	cfg := serverConfig(filepath.Join(base, "rss"), opts.cacheMB)
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("seeding", "stores", opts.rssStores)
	const first = 1001
	ids, err := seedStores(ctx, st, first, opts.rssStores, opts.seed)
	if cerr := st.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	api, err := startAPI(ctx, cfg)
	if err != nil {
		return err
	}
	defer api.stop()
	runtime.GC()
	r.rss.before = readStatusKB("VmRSS")
	n := uint64(len(ids))
	spec := loadSpec{addr: api.addr, conns: opts.conns, total: uint64(opts.rssRequests), want: http.StatusOK,
		next: func(buf []byte, seq uint64, _ *rand.Rand) []byte {
			i := seq % n
			target := "/" + strconv.FormatUint(first+i, 10) + "/v1/products/" + ids[i] + ".json"
			return appendRequest(buf, "GET", api.addr, target, nil, nil)
		}}
	r.rss.load = loadAvg()
	log.Info("measuring", "scenario", scRSS, "requests", opts.rssRequests, "stores", opts.rssStores, "load_avg", r.rss.load)
	before := takeCPU()
	var res *loadResult
	err = profiled(opts.cpuProfile, scRSS, func() (err error) {
		res, err = runLoad(ctx, spec)
		return err
	})
	if err != nil {
		return err
	}
	r.rss.others = takeCPU().othersSince(before)
	if res.errors > 0 {
		log.Warn("errors", "scenario", scRSS, "count", res.errors, "first", res.firstErr)
	}
	r.rss.res = res
	r.rss.after = readStatusKB("VmRSS")
	r.rss.peak = readStatusKB("VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.rss.heapInuse, r.rss.goSys = ms.HeapInuse, ms.Sys
	r.rss.stores = opts.rssStores
	return nil
}

// readStatusKB returns a "<name>: <n> kB" figure of /proc/self/status in bytes (0 when
// unavailable).
func readStatusKB(name string) uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuSample is the machine's and this process's CPU time so far, in clock ticks.
type cpuSample struct {
	busy, total, self uint64
	ok                bool
}

// takeCPU reads /proc/stat and /proc/self/stat.
func takeCPU() cpuSample {
	var s cpuSample
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	var v [8]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
	}
	// user nice system idle iowait irq softirq steal
	s.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	s.total = s.busy + v[3] + v[4]
	raw, err = os.ReadFile("/proc/self/stat")
	if err != nil {
		return s
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return s
	}
	f = strings.Fields(string(raw)[i+1:])
	if len(f) < 13 {
		return s
	}
	// Fields 14 and 15 of the line (utime, stime) are 12 and 13 after the name.
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	s.self, s.ok = ut+st, true
	return s
}

// othersSince returns the share of the machine's CPU capacity that other processes
// used between then and s (-1 when unknown): how disturbed a measurement was.
func (s cpuSample) othersSince(then cpuSample) float64 {
	if !s.ok || !then.ok || s.total <= then.total {
		return -1
	}
	busy := float64(s.busy-then.busy) - float64(s.self-then.self)
	return max(0, busy/float64(s.total-then.total))
}

// loadAvg returns the 1-minute load average (empty when unavailable).
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// dirSize is the total size of the files directly in dir.
func dirSize(dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}
