package embedded

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestStartStop starts a server, writes through the MongoDB driver, stops it, and
// starts it again over the same directory: the data is still there, and the failed
// command in between did not reach the log.
func TestStartStop(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir") // created by Start
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))

	for round := range 2 {
		srv, err := Start(t.Context(), dir, log)
		if err != nil {
			t.Fatalf("Start (round %d): %v", round, err)
		}
		if !strings.HasPrefix(srv.URI(), "mongodb://127.0.0.1:") {
			t.Errorf("URI() = %q; want mongodb://127.0.0.1:<port>", srv.URI())
		}
		client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
		if err != nil {
			t.Fatal(err)
		}
		coll := client.Database("test").Collection("things")
		if round == 0 {
			if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
				t.Fatalf("InsertOne: %v", err)
			}
			// A failed command: FerretDB logs it at warn, which must stay quiet.
			if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "_id", Value: "a"}}); !mongo.IsDuplicateKeyError(err) {
				t.Errorf("second InsertOne = %v; want a duplicate key error", err)
			}
		} else {
			var got bson.M
			if err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
				t.Errorf("FindOne after restart: %v", err)
			}
		}
		if err := client.Disconnect(t.Context()); err != nil {
			t.Error(err)
		}
		srv.Stop()
		srv.Stop() // idempotent
	}
	if files, err := os.ReadDir(dir); err != nil || len(files) == 0 {
		t.Errorf("data directory %q holds %d files (%v); want the SQLite database", dir, len(files), err)
	}
	if logged.Len() != 0 {
		t.Errorf("FerretDB logged below error level:\n%s", logged.String())
	}
}

func TestStartRefusesURIDirectory(t *testing.T) {
	for _, name := range []string{"a%41", "a#b", "a?b"} {
		srv, err := Start(t.Context(), filepath.Join(t.TempDir(), name), nil)
		if err == nil {
			srv.Stop()
			t.Errorf("Start in %q succeeded; want an error", name)
		}
	}
}
