package main

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// report collects the figures of a run and writes them as markdown.
type report struct {
	opts options

	docs      int
	seed      time.Duration // writing the catalogue through the engine
	start     time.Duration // server.New: schemas, bootstrap, index build
	dbSize    int64
	docBytes  int // body of the GET-by-id answer
	listBytes int // body of the list answer

	rows   []row
	engine []engineRow
	rss    rssFigures
}

// row is one measured HTTP scenario.
type row struct {
	name, what string
	res        *loadResult
	load       string
	others     float64 // share of the CPU other processes used meanwhile
	attempts   int     // runs made (the least disturbed is shown)
}

// engineRow is one timed engine call.
type engineRow struct {
	name string
	lat  hist
}

// rssFigures are the rss scenario's results.
type rssFigures struct {
	stores              int
	res                 *loadResult
	load                string
	others              float64
	before, after, peak uint64
	heapInuse, goSys    uint64
}

// header writes what the run is.
func (r *report) header(out io.Writer) {
	fmt.Fprintf(out, "# storeapi load test\n\n")
	fmt.Fprintf(out, "%s, GOMAXPROCS %d (%d CPUs), %d connections, %s measured per scenario after %s warm-up, load average at start %s.\n"+
		"Server and generator share this process (loopback TCP, keep-alive); storeapi runs the SQLite engine, rates off, cache %d MB.\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), r.opts.conns, r.opts.duration, r.opts.warmup, loadAvg(), r.opts.cacheMB)
}

// tables writes the catalogue and engine tables.
func (r *report) tables(out io.Writer) {
	if len(r.rows) > 0 || len(r.engine) > 0 {
		fmt.Fprintf(out, "## %d products in store 1000 (+%d in 9 other stores: %d documents)\n\n",
			r.opts.products, r.docs-r.opts.products, r.docs)
		fmt.Fprintf(out, "Seeded through db.Store.Insert in %s; server start with index build %s; database files %.1f MB; answer bodies: GET by id %d bytes, list %d bytes.\n\n",
			r.seed.Round(time.Millisecond), r.start.Round(time.Millisecond), float64(r.dbSize)/(1<<20), r.docBytes, r.listBytes)
	}
	if len(r.rows) > 0 {
		var ceiling, ceilingList float64
		for _, x := range r.rows {
			switch x.name {
			case scCeiling:
				ceiling = x.res.rate()
			case scCeilingLst:
				ceilingList = x.res.rate()
			}
		}
		fmt.Fprintln(out, "| scenario | request | req/s | p50 | p99 | × ceiling | cache hits | errors | load avg | other CPU |")
		fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, x := range r.rows {
			ratio, c := "–", ceiling
			if ceilingList > 0 && isList(x.name) {
				c = ceilingList
			}
			if c > 0 {
				ratio = fmt.Sprintf("%.3f", x.res.rate()/c)
			}
			others := share(x.others)
			if x.attempts > 1 {
				others += fmt.Sprintf(" (best of %d)", x.attempts)
			}
			fmt.Fprintf(out, "| %s | %s | %.0f | %s | %s | %s | %s | %d | %s | %s |\n", x.name, x.what, x.res.rate(),
				ms(x.res.lat.quantile(0.5)), ms(x.res.lat.quantile(0.99)), ratio, hitShare(x.res), x.res.errors, x.load, others)
		}
		fmt.Fprintln(out)
		fmt.Fprintln(out, "× ceiling: req/s over the ceiling's; lists (list, contains, cached-list, ceiling-list) over ceiling-list's when it ran.")
		fmt.Fprintln(out, "load avg: 1-minute load average at the start; other CPU: share of the machine's CPU that other processes used during the scenario (above a few % the figures are disturbed; runs above -disturbed are retried, -retries times).")
		fmt.Fprintln(out)
	}
	if len(r.engine) > 0 {
		fmt.Fprintln(out, "Engine (db.Store on the same database, one call at a time, after the server stopped):")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "| call | n | mean | p50 | p99 |")
		fmt.Fprintln(out, "|---|---:|---:|---:|---:|")
		for _, e := range r.engine {
			fmt.Fprintf(out, "| %s | %d | %s | %s | %s |\n", e.name, e.lat.n, ms(e.lat.mean()), ms(e.lat.quantile(0.5)), ms(e.lat.quantile(0.99)))
		}
		fmt.Fprintln(out)
	}
}

// rssTable writes the rss scenario's figures.
func (r *report) rssTable(out io.Writer) {
	x := r.rss
	if x.res == nil {
		return
	}
	fmt.Fprintf(out, "## Memory: %d cached GETs across %d stores\n\n", x.res.requests+x.res.errors, x.stores)
	fmt.Fprintln(out, "| requests | req/s | p50 | p99 | cache hits | errors | VmRSS before | VmRSS after | VmHWM | Go heap in use | Go sys | load avg | other CPU |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(out, "| %d | %.0f | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n\n", x.res.requests, x.res.rate(),
		ms(x.res.lat.quantile(0.5)), ms(x.res.lat.quantile(0.99)), hitShare(x.res), x.res.errors,
		mb(x.before), mb(x.after), mb(x.peak), mb(x.heapInuse), mb(x.goSys), x.load, share(x.others))
	fmt.Fprintln(out, "VmRSS is this whole process: storeapi, its SQLite page cache and response cache, and the load generator.")
	fmt.Fprintln(out)
}

// isList reports whether a scenario answers lists (compared with ceiling-list).
func isList(name string) bool {
	switch name {
	case scList, scContains, scCachedList, scCeilingLst:
		return true
	}
	return false
}

// share formats a fraction as a percentage ("?" when unknown).
func share(f float64) string {
	if f < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// mb formats bytes in MB.
func mb(n uint64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// hitShare is the share of measured answers that came from the cache.
func hitShare(r *loadResult) string {
	if r.requests == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(r.hits)/float64(r.requests))
}
