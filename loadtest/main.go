// Command loadtest measures storeapi on this machine over loopback, beside a bare
// net/http server writing the same bytes (the ceiling), and prints the figures as
// markdown tables on stdout.
//
//	go run ./loadtest [-products 5000] [-conns 64] [-duration 5s] [-scenarios get,list,…|all]
//
// Everything runs in this one process: the ceiling server, storeapi on the SQLite engine
// in a temp dir with the rate limits off, and a closed-loop load generator (every
// connection sends its next request when the previous answer is read, like wrk) that
// writes prepared HTTP/1.1 requests and reads answers without net/http's client, so
// that it leaves as much of the machine to the server as it can. Only 127.0.0.1 is
// ever targeted. Every run is bounded: each scenario lasts -warmup + -duration (the rss
// scenario -rss-requests requests), the seeding and the engine timings bounded counts.
//
// The catalogue (-products N in store 1000, N/10 in each of 9 other stores, ~1 KB
// products in 50 categories and 20 brands) is written through the engine itself
// (server.OpenStore, db.Store.Insert — no HTTP, no validation) before the server
// starts, so the server's start builds its indexes over it in bulk.
//
// Scenarios (see -help): ceiling and ceiling-list (the bare server answering the bytes
// of the cached GET by id and of the cached list); uncached GET by id (X-Cache-Tag); a
// list of 20 with a category filter sorted by price; a list with %= on the name;
// cached GET by id; cached list; POST; PATCH; engine (the db.Store calls behind the GET
// and the lists, timed one at a time after the server stops); rss (one product in each
// of 10,000 stores, 1 M cached GETs of /<store>/v1/products/<id>.json, then this
// process's VmRSS). A scenario run while other processes took more than -disturbed of
// the CPU is run again (-retries), and the table says how disturbed the kept run was.
// -cpuprofile P writes each scenario's profile to P.<scenario>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	opts, err := parseOptions(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, log); err != nil {
		log.Error("loadtest failed", "error", err)
		os.Exit(1)
	}
}

// run measures the selected scenarios and writes the report to out.
func run(ctx context.Context, opts options, out io.Writer, log *slog.Logger) error {
	base, err := os.MkdirTemp(opts.dir, "storeapi-loadtest-")
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	defer os.RemoveAll(base)
	r := &report{opts: opts}
	r.header(out)
	if opts.has(scRSS) {
		if err := runRSS(ctx, opts, base, r, log); err != nil {
			return err
		}
		r.rssTable(out)
	}
	if err := runCatalogue(ctx, opts, base, r, log); err != nil {
		return err
	}
	r.tables(out)
	return nil
}

// profiled runs fn under a CPU profile written to <prefix>.<name> when prefix is set:
// the profile covers the measured load of one scenario, server and generator alike.
func profiled(prefix, name string, fn func() error) error {
	if prefix == "" {
		return fn()
	}
	f, err := os.Create(prefix + "." + name)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	defer pprof.StopCPUProfile()
	return fn()
}
