package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrors is how many failed requests (I/O errors or unexpected statuses) a run
// tolerates before it stops early: a broken scenario ends in seconds, not minutes.
const maxErrors = 1000

// reqTimeout bounds one request; a connection that does not answer in time is dropped.
const reqTimeout = 30 * time.Second

// gen appends the request number seq (counted across the run's connections, from 0)
// to buf. rng is the connection's own generator.
type gen func(buf []byte, seq uint64, rng *rand.Rand) []byte

// loadSpec is one measured run.
type loadSpec struct {
	addr  string
	conns int
	// warm is run (and not measured) before dur; dur is the measured time. When total
	// is set the run is count-bounded instead: exactly total requests, all measured.
	warm, dur time.Duration
	total     uint64
	// want is the expected status; anything else counts as an error.
	want int
	next gen
}

// loadResult is what a run measured.
type loadResult struct {
	requests uint64 // measured answers with the expected status
	errors   uint64 // I/O errors and unexpected statuses (measured or not)
	hits     uint64 // measured answers with X-Cache: HIT
	elapsed  time.Duration
	lat      hist
	// firstErr describes the first error, for the log.
	firstErr string
}

// rate is measured requests per second.
func (r *loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// phases of a run.
const (
	phaseWarm int32 = iota
	phaseMeasure
	phaseStop
)

// runLoad drives spec.conns connections, each sending its next request as soon as the
// previous answer is read (a closed loop, like wrk), and returns what it measured. It
// returns after at most warm+dur (or total requests) plus one request timeout, or
// earlier when ctx ends or more than maxErrors requests fail.
func runLoad(ctx context.Context, spec loadSpec) (*loadResult, error) {
	if spec.conns <= 0 {
		return nil, errors.New("loadtest: conns must be positive")
	}
	if spec.total == 0 && spec.dur <= 0 {
		return nil, errors.New("loadtest: a run needs a duration or a request count")
	}
	if err := checkLoopback(spec.addr); err != nil {
		return nil, err
	}
	var (
		phase   atomic.Int32
		seq     atomic.Uint64
		errs    atomic.Uint64
		errOnce sync.Once
		first   string
		abort   = make(chan struct{})
		aborted sync.Once
		start   time.Time
		mu      sync.Mutex
		total   = &loadResult{}
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err.Error() })
		if errs.Add(1) >= maxErrors {
			phase.Store(phaseStop)
			aborted.Do(func() { close(abort) })
		}
	}
	if spec.total > 0 || spec.warm <= 0 {
		phase.Store(phaseMeasure)
	}
	start = time.Now()
	for w := range spec.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, uint64(time.Now().UnixNano())))
			res := &loadResult{}
			defer func() {
				mu.Lock()
				total.requests += res.requests
				total.hits += res.hits
				total.lat.merge(&res.lat)
				mu.Unlock()
			}()
			var c *conn
			defer func() {
				if c != nil {
					c.close()
				}
			}()
			var buf []byte
			var deadline time.Time
			for phase.Load() != phaseStop && ctx.Err() == nil {
				if c == nil {
					var err error
					if c, err = dial(spec.addr, 5*time.Second); err != nil {
						fail(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					deadline = time.Time{}
				}
				n := seq.Add(1) - 1
				if spec.total > 0 && n >= spec.total {
					return
				}
				buf = spec.next(buf[:0], n, rng)
				t0 := time.Now()
				if t0.After(deadline.Add(-reqTimeout / 2)) {
					deadline = t0.Add(reqTimeout)
					_ = c.nc.SetDeadline(deadline)
				}
				r, err := c.do(buf, spec.want)
				lat := time.Since(t0)
				if err != nil {
					fail(err)
					c.close()
					c = nil
					continue
				}
				if r.close {
					c.close()
					c = nil
				}
				if r.status != spec.want {
					fail(fmt.Errorf("loadtest: status %d, want %d: %s", r.status, spec.want, r.body))
					continue
				}
				if phase.Load() == phaseMeasure {
					res.requests++
					res.lat.record(lat)
					if r.hit {
						res.hits++
					}
				}
			}
		}()
	}
	var measureStart time.Time
	if spec.total == 0 {
		wait := func(d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-abort:
			}
		}
		if phase.Load() == phaseWarm {
			wait(spec.warm)
			phase.CompareAndSwap(phaseWarm, phaseMeasure)
		}
		measureStart = time.Now()
		wait(spec.dur)
		phase.Store(phaseStop)
		total.elapsed = time.Since(measureStart)
		wg.Wait()
	} else {
		wg.Wait()
		total.elapsed = time.Since(start)
	}
	total.errors = errs.Load()
	total.firstErr = first
	if err := ctx.Err(); err != nil {
		return total, err
	}
	return total, nil
}
