package sqlite

import (
	"context"
	"os"
	"testing"
	"time"

	"storeapi/db"
)

func TestScratchBench(t *testing.T) {
	path := os.Getenv("BENCHDB")
	if path == "" {
		t.Skip()
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	c := "c00000000000000000000007"
	qs := map[string]db.Query{
		"cat": {StoreID: 1, Limit: 20, Fields: []string{"_id", "sku"}, Conds: []db.Cond{{Path: "categories._id", Op: db.OpEq, Values: []db.Value{{Typed: c, Raw: c}}}}, Sort: []db.SortField{{Path: "price"}}},
		"contains": {StoreID: 1, Limit: 20, Fields: []string{"_id", "sku"}, Conds: []db.Cond{{Path: "name", Op: db.OpContains, Values: []db.Value{{Typed: "Azul", Raw: "Azul"}}}}},
		"page": {StoreID: 1, Limit: 20, Fields: []string{"_id", "sku"}},
	}
	for name, q := range qs {
		t.Log(name, "\n", explain(t, s, "products", q))
		for i := 0; i < 3; i++ {
			st := time.Now()
			docs, err := s.Find(ctx, "products", q)
			t.Log(name, len(docs), err, time.Since(st))
		}
	}
	for _, q := range []string{
		"SELECT count(*) FROM products WHERE store_id = 1",
		"SELECT count(*) FROM products INDEXED BY storeapi_st_products WHERE store_id = 1",
		"SELECT count(*) FROM storeapi_mk_products",
		"SELECT * FROM sqlite_stat1",
	} {
		st := time.Now()
		rows, err := s.reader.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b2, c any
			if len(q) > 30 && q[:8] == "SELECT *" {
				rows.Scan(&a, &b2, &c)
				t.Log(a, b2, c)
			} else {
				rows.Scan(&a)
				t.Log(q, a)
			}
		}
		rows.Close()
		t.Log(time.Since(st))
	}
}
