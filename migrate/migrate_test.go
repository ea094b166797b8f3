package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"storeapi/db"
	"storeapi/db/embedded"
	"storeapi/db/mongodb"
	"storeapi/db/sqlite"
)

// seed writes a few documents of two stores.
func seed(t *testing.T, s db.Store) {
	t.Helper()
	ctx := context.Background()
	for store := int64(1000); store <= 1001; store++ {
		for i := 0; i < 7; i++ {
			doc := db.Doc{"_id": db.NewID(), "store_id": json.Number(fmt.Sprint(store)), "sku": fmt.Sprint("s", i),
				"price": json.Number(fmt.Sprint(i*10 + 1)), "categories": []any{map[string]any{"_id": "5f0000000000000000000001"}},
				"created_at": "2026-11-23T12:00:00.000Z"}
			if err := s.Insert(ctx, "products", doc); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Insert(ctx, "credentials", db.Doc{"_id": db.NewID(), "store_id": json.Number(fmt.Sprint(store)), "password_hash": "x"}); err != nil {
			t.Fatal(err)
		}
	}
}

// dump is a store's data as comparable text.
func dump(t *testing.T, s db.Store, store int64) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Export(context.Background(), s, store, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestExportImportAndCopyAcrossEngines(t *testing.T) {
	ctx := context.Background()
	from, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "from.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close(ctx)
	seed(t, from)
	exported := dump(t, from, 1000)
	var buf bytes.Buffer
	counts, err := Export(ctx, from, 1000, &buf)
	if err != nil || counts["products"] != 7 || counts["credentials"] != 1 {
		t.Fatalf("export counts %v, %v", counts, err)
	}

	// Into a fresh SQLite file through NDJSON.
	to, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "to.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close(ctx)
	if _, err := Import(ctx, to, 0, bytes.NewReader(buf.Bytes()), false); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, to, 1000); got != exported {
		t.Errorf("SQLite → NDJSON → SQLite changed the data:\n%s\nvs\n%s", got, exported)
	}
	if got := dump(t, to, 1001); got != "" {
		t.Errorf("another store came along: %s", got)
	}
	// Importing again skips what exists; a line of another store is refused.
	if c, err := Import(ctx, to, 0, bytes.NewReader(buf.Bytes()), false); err != nil || c["products"] != 7 {
		t.Errorf("second import: %v %v", c, err)
	}
	if _, err := Import(ctx, to, 1001, bytes.NewReader(buf.Bytes()), false); err == nil {
		t.Errorf("a line of store 1000 was imported as store 1001")
	}

	// Into MongoDB (FerretDB) directly.
	srv, err := embedded.Start(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	mongo, err := mongodb.Open(ctx, srv.URI(), "migrate")
	if err != nil {
		t.Fatal(err)
	}
	defer mongo.Close(ctx)
	if _, err := Copy(ctx, from, mongo, 1000, false); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, mongo, 1000); got != exported {
		t.Errorf("SQLite → MongoDB changed the data:\n%s\nvs\n%s", got, exported)
	}
}
