package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Scenario names, in the order they run (rss first, in a process not yet grown by the
// others; the writes last, so that the reads see the seeded catalogue and the cached
// reads are not invalidated under them; engine after the server has stopped).
const (
	scRSS        = "rss"
	scCeiling    = "ceiling"
	scCeilingLst = "ceiling-list"
	scGet        = "get"
	scList       = "list"
	scContains   = "contains"
	scCachedGet  = "cached-get"
	scCachedList = "cached-list"
	scPost       = "post"
	scPatch      = "patch"
	scEngine     = "engine"
)

// allScenarios lists every scenario in running order; defaultScenarios leaves out rss,
// which is long.
var (
	allScenarios     = []string{scRSS, scCeiling, scCeilingLst, scGet, scList, scContains, scCachedGet, scCachedList, scPost, scPatch, scEngine}
	defaultScenarios = allScenarios[1:]
)

// options are the command's settings.
type options struct {
	products  int
	conns     int
	duration  time.Duration
	warmup    time.Duration
	scenarios []string // in running order
	hot       int
	cacheMB   int
	// A scenario run during which other processes used more than disturbed of the
	// machine's CPU is run again, up to retries times.
	disturbed float64
	retries   int

	rssRequests int
	rssStores   int

	// hold keeps the servers up this long before the first scenario, for outside tools.
	hold time.Duration

	dir        string
	cpuProfile string
	seed       uint64
}

// has reports whether scenario name is selected.
func (o options) has(name string) bool { return slices.Contains(o.scenarios, name) }

// parseOptions reads the flags; out receives the usage text.
func parseOptions(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: go run ./loadtest [flags]\n\n"+
			"Starts a bare net/http server (the ceiling) and storeapi on the SQLite engine in a temp\n"+
			"dir (rates off), seeds products, and measures each scenario on 127.0.0.1.\n"+
			"Scenarios: %s (default: all but rss; \"all\" for every one).\n\n", strings.Join(allScenarios, ", "))
		fs.PrintDefaults()
	}
	fs.IntVar(&o.products, "products", 5000, "products in store 1000 (each of the 9 other stores gets a tenth)")
	fs.IntVar(&o.conns, "conns", 64, "concurrent keep-alive connections")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each scenario")
	list := fs.String("scenarios", strings.Join(defaultScenarios, ","), "comma list of scenarios, or all")
	fs.IntVar(&o.hot, "hot", 1000, "distinct products the cached-get scenario cycles through (they must fit the cache)")
	fs.IntVar(&o.cacheMB, "cache-mb", 64, "response cache size of the server, MB")
	fs.Float64Var(&o.disturbed, "disturbed", 0.10, "share of the CPU other processes may use during a run before it is retried")
	fs.IntVar(&o.retries, "retries", 2, "extra runs of a disturbed scenario (the least disturbed is reported)")
	fs.IntVar(&o.rssRequests, "rss-requests", 1_000_000, "cached GETs of the rss scenario")
	fs.IntVar(&o.rssStores, "rss-stores", 10_000, "stores (one product each) the rss scenario spreads its GETs over")
	fs.DurationVar(&o.hold, "hold", 0, "before measuring, keep the servers up this long and log their addresses (to point wrk at them)")
	fs.StringVar(&o.dir, "dir", "", "directory for the temporary databases (default: the system temp dir)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each scenario's load (server and generator) to <this>.<scenario>")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the synthetic catalogue")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("loadtest: unexpected arguments %q", fs.Args())
	}
	var err error
	if o.scenarios, err = parseScenarios(*list); err != nil {
		return o, err
	}
	switch {
	case o.products < 20 || o.products > 10_000_000:
		return o, errors.New("loadtest: -products must be from 20 to 10,000,000")
	case o.conns < 1 || o.conns > 10_000:
		return o, errors.New("loadtest: -conns must be from 1 to 10,000")
	case o.duration < 100*time.Millisecond || o.duration > time.Hour:
		return o, errors.New("loadtest: -duration must be from 100ms to 1h")
	case o.warmup < 0 || o.warmup > 10*time.Minute:
		return o, errors.New("loadtest: -warmup must be from 0 to 10m")
	case o.hot < 1 || o.hot > o.products:
		return o, errors.New("loadtest: -hot must be from 1 to -products")
	case o.hold < 0 || o.hold > time.Hour:
		return o, errors.New("loadtest: -hold must be from 0 to 1h")
	case o.disturbed < 0 || o.disturbed > 1:
		return o, errors.New("loadtest: -disturbed must be from 0 to 1")
	case o.retries < 0 || o.retries > 10:
		return o, errors.New("loadtest: -retries must be from 0 to 10")
	case o.cacheMB < 1:
		return o, errors.New("loadtest: -cache-mb must be positive (the cached scenarios need the cache)")
	case o.rssRequests < 1 || o.rssRequests > 100_000_000:
		return o, errors.New("loadtest: -rss-requests must be from 1 to 100,000,000")
	case o.rssStores < 1 || o.rssStores > 1_000_000:
		return o, errors.New("loadtest: -rss-stores must be from 1 to 1,000,000")
	}
	return o, nil
}

// parseScenarios reads a comma list of scenario names (or "all") and returns them in
// running order, without repeats.
func parseScenarios(list string) ([]string, error) {
	want := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case name == "all":
			for _, s := range allScenarios {
				want[s] = true
			}
		case slices.Contains(allScenarios, name):
			want[name] = true
		default:
			return nil, fmt.Errorf("loadtest: unknown scenario %q (known: %s)", name, strings.Join(allScenarios, ", "))
		}
	}
	var out []string
	for _, s := range allScenarios {
		if want[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("loadtest: no scenario selected")
	}
	return out, nil
}
