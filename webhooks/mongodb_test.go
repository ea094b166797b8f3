package webhooks

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"storeapi/db"
	"storeapi/db/embedded"
	"storeapi/db/mongodb"
)

// TestMongoDBEngine runs a delivery with a retry, and a final failure on the MongoDB
// engine (against embedded FerretDB): the queries
// the dispatcher makes (store 0 lists sorted by _id, string ranges, claims by Update,
// DeleteMany) must mean the same there.
func TestMongoDBEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB")
	}
	ctx := context.Background()
	srv, err := embedded.Start(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	s, err := mongodb.Open(ctx, srv.URI(), "webhooks")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(ctx) })

	rcv := newReceiver(t, func(n int, h hook) int {
		if h.Path == "/bad" || (h.Path == "/flaky" && h.Header.Get("X-Webhook-Attempt") == "1") {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	addProcedure(t, s, store, externalProc(rcv.URL+"/flaky"))
	addProcedure(t, s, store, externalProc(rcv.URL+"/bad"))
	tr := recordTrigger(t, s, store, nil)
	id := tr["_id"].(string)
	start(t, Options{Store: s, AllowPrivate: true, External: true, Backoff: []time.Duration{0, 20 * time.Millisecond}})
	eventually(t, "both finished", func() bool {
		es := webhookEntries(t, s, store, id)
		return len(es) == 2 && es[0]["status"] != StatusPending && es[1]["status"] != StatusPending
	})
	for _, e := range webhookEntries(t, s, store, id) {
		want := StatusDelivered
		if e["uri"] == rcv.URL+"/bad" {
			want = StatusFailed
		}
		if e["status"] != want || e["attempts"] != json.Number("2") {
			t.Errorf("entry %v: want %s after 2 attempts", e, want)
		}
	}
	failed, err := s.Find(ctx, "triggers", db.Query{StoreID: store, Limit: 10,
		Conds: []db.Cond{{Path: "response.webhooks.status", Op: db.OpEq, Values: []db.Value{str(StatusFailed)}}}})
	if err != nil || len(failed) != 1 {
		t.Errorf("failed triggers: %v, %v", failed, err)
	}
	eventually(t, "queue emptied", func() bool {
		n, err := s.Count(ctx, QueueCollection, SystemStore, nil)
		return err == nil && n == 0
	})
	checkTrigger(t, s, store, id)
}
