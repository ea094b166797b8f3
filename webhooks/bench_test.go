package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"storeapi/db"
)

// BenchmarkDeliveryLag records triggers at a steady rate (200 or 1,000 a second; one op
// is one trigger) with a matching procedure calling a local receiver, and reports the lag from
// the queue entry's commit to the receiver's handler: p50 and p99 in milliseconds.
// "kick" wakes the dispatcher after each write, as the server does; "poll" relies on
// the default 200 ms poll alone. Run it for a few seconds: -benchtime=1000x.
func BenchmarkDeliveryLag(b *testing.B) {
	for _, c := range []struct {
		mode string
		rate int
	}{{"kick", 200}, {"kick", 1000}, {"poll", 200}} {
		mode := c.mode
		b.Run(mode+"-"+strconv.Itoa(c.rate)+"/s", func(b *testing.B) {
			s := openStore(b)
			var mu sync.Mutex
			sent := map[string]time.Time{}
			var lags []time.Duration
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				at := time.Now()
				mu.Lock()
				if t0, ok := sent[r.Header.Get("X-Trigger-ID")]; ok {
					lags = append(lags, at.Sub(t0))
				}
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(srv.Close)
			addProcedure(b, s, store, externalProc(srv.URL))
			d, _ := start(b, Options{Store: s, AllowPrivate: true, External: true, Poll: DefaultPoll})
			ctx := context.Background()
			tick := time.NewTicker(time.Second / time.Duration(c.rate))
			defer tick.Stop()
			b.ResetTimer()
			for range b.N {
				<-tick.C
				tr := benchTrigger()
				if err := s.Insert(ctx, "triggers", tr); err != nil {
					b.Fatal(err)
				}
				rec := QueueRecord(tr, 0)
				if err := s.Insert(ctx, rec.Coll, rec.Doc); err != nil {
					b.Fatal(err)
				}
				mu.Lock()
				sent[tr["_id"].(string)] = time.Now()
				mu.Unlock()
				if mode == "kick" {
					d.Kick()
				}
			}
			eventually(b, "every trigger delivered", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(lags) >= b.N
			})
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(lags)
			b.ReportMetric(ms(lags[len(lags)/2]), "p50-ms")
			b.ReportMetric(ms(lags[len(lags)*99/100]), "p99-ms")
			b.ReportMetric(ms(lags[len(lags)-1]), "max-ms")
		})
	}
}

// BenchmarkRecordWrites measures the write path the dispatcher competes with: each op
// stores one trigger and its queue entry (concurrent writers), with no dispatcher, with
// a dispatcher and no matching procedure, and with one matching procedure delivering to
// a local receiver.
func BenchmarkRecordWrites(b *testing.B) {
	for _, mode := range []string{"no-dispatcher", "no-procedure", "one-procedure"} {
		b.Run(mode, func(b *testing.B) {
			s := openStore(b)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(srv.Close)
			if mode == "one-procedure" {
				addProcedure(b, s, store, externalProc(srv.URL))
			}
			var d *Dispatcher
			if mode != "no-dispatcher" {
				d, _ = start(b, Options{Store: s, AllowPrivate: true, External: true, Poll: DefaultPoll})
			}
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tr := benchTrigger()
					if err := s.Insert(ctx, "triggers", tr); err != nil {
						b.Error(err)
						return
					}
					rec := QueueRecord(tr, 0)
					if err := s.Insert(ctx, rec.Coll, rec.Doc); err != nil {
						b.Error(err)
						return
					}
					if d != nil {
						d.Kick()
					}
				}
			})
			b.StopTimer()
			// Work the dispatcher had not done yet when the writes ended, and what it
			// delivered meanwhile.
			q, _ := s.Count(ctx, QueueCollection, SystemStore, nil)
			p, _ := s.Count(ctx, DeliveryCollection, SystemStore,
				[]db.Cond{{Path: "status", Op: db.OpEq, Values: []db.Value{str(StatusPending)}}})
			b.ReportMetric(float64(q+p)/float64(b.N), "backlog/op")
			dl, _ := s.Count(ctx, DeliveryCollection, SystemStore,
				[]db.Cond{{Path: "status", Op: db.OpEq, Values: []db.Value{str(StatusDelivered)}}})
			b.ReportMetric(float64(dl)/b.Elapsed().Seconds(), "delivered/s")
		})
	}
}

func benchTrigger() db.Doc {
	now := db.Timestamp(time.Now())
	return db.Doc{
		"_id": db.NewID(), "store_id": store, "created_at": now, "updated_at": now, "datetime": now,
		"authentication_id": nil, "method": "PATCH", "action": "change", "resource": "products",
		"resource_id": db.NewID(), "fields": []any{"price"}, "body": db.Doc{"price": 10.5, "name": "a product"},
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkDrain measures the dispatcher's delivery capacity alone: b.N triggers are
// queued first, then one dispatcher delivers them all to a local receiver (one op is
// one delivery, start to last outcome stored).
func BenchmarkDrain(b *testing.B) {
	s := openStore(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	addProcedure(b, s, store, externalProc(srv.URL))
	ctx := context.Background()
	for range b.N {
		tr := benchTrigger()
		rec := QueueRecord(tr, 0)
		if err := s.Insert(ctx, "triggers", tr); err != nil {
			b.Fatal(err)
		}
		if err := s.Insert(ctx, rec.Coll, rec.Doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start(b, Options{Store: s, AllowPrivate: true, External: true})
	delivered := func() int64 {
		n, _ := s.Count(ctx, DeliveryCollection, SystemStore,
			[]db.Cond{systemStoreCond, {Path: "status", Op: db.OpEq, Values: []db.Value{str(StatusDelivered)}}})
		return n
	}
	for delivered() < int64(b.N) {
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "delivered/s")
}
