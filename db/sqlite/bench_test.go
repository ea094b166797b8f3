package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"storeapi/db"
)

// benchOtherStores is how many stores besides store 1 hold products (each a tenth of
// store 1's count), so that every query has other stores' rows to skip.
const benchOtherStores = 9

var benchWords = []string{"Camiseta", "Calça", "Tênis", "Boné", "Meia", "Jaqueta", "Vestido", "Shorts", "Blusa", "Bolsa",
	"Azul", "Preta", "Branca", "Vermelha", "Verde", "Algodão", "Couro", "Linho", "Infantil", "Premium"}

// benchProduct is a synthetic product of about 1 KB.
func benchProduct(r *rand.Rand, storeID int64, i int) db.Doc {
	cats := make([]any, 1+r.IntN(3))
	for j := range cats {
		c := r.IntN(50)
		cats[j] = map[string]any{"_id": fmt.Sprintf("c%023d", c), "name": "Category " + strconv.Itoa(c), "slug": "category-" + strconv.Itoa(c)}
	}
	b := r.IntN(20)
	name := benchWords[r.IntN(10)] + " " + benchWords[10+r.IntN(10)] + " " + benchWords[10+r.IntN(10)] + " " + strconv.Itoa(i)
	return db.Doc{
		"_id":        fmt.Sprintf("%08x%016x", storeID, i),
		"store_id":   storeID,
		"sku":        fmt.Sprintf("SKU-%d-%07d", storeID, i),
		"slug":       fmt.Sprintf("product-%d", i),
		"name":       name,
		"price":      float64(100+r.IntN(100000)) / 100,
		"quantity":   int64(r.IntN(500)),
		"available":  r.IntN(10) > 0,
		"categories": cats,
		"brands":     []any{map[string]any{"_id": fmt.Sprintf("b%023d", b), "name": "Brand " + strconv.Itoa(b)}},
		"body_html":  "<p>" + name + " — produto de exemplo com descrição longa o bastante para parecer real. " + benchWords[r.IntN(20)] + " e " + benchWords[r.IntN(20)] + ".</p>",
		"pictures":   []any{map[string]any{"normal": map[string]any{"url": "https://cdn.example.com/img/" + strconv.Itoa(i) + ".jpg", "size": "350x350"}}},
		"created_at": fmt.Sprintf("2026-01-01T00:00:%02d.%03dZ", i/1000%60, i%1000),
		"updated_at": "2026-01-02T00:00:00.000Z",
	}
}

var benchIndexes = []db.Index{
	{Paths: []string{"sku"}, Unique: true},
	{Paths: []string{"slug"}},
	{Paths: []string{"price"}},
	{Paths: []string{"categories._id"}},
	{Paths: []string{"categories._id", "price"}}, // compound multikey: category pages by price
	{Paths: []string{"brands._id"}},
	{Paths: []string{"created_at"}},
}

// benchData builds (once per test binary run and size) a database with n products in
// store 1 and n/10 in each other store, loaded in one transaction, and returns its
// file, which benchmarks copy before writing to it.
type benchData struct {
	once sync.Once
	path string
	err  error
}

var benchCache sync.Map // n -> *benchData (test-only cache of built files)

func benchFile(b *testing.B, n int) string {
	v, _ := benchCache.LoadOrStore(n, &benchData{})
	d := v.(*benchData)
	d.once.Do(func() {
		dir := filepath.Join(os.TempDir(), "storeapi-sqlite-bench")
		if d.err = os.MkdirAll(dir, 0o755); d.err != nil {
			return
		}
		d.path = filepath.Join(dir, fmt.Sprintf("products-%d.db", n))
		if _, err := os.Stat(d.path + ".ok"); err == nil {
			return // built by an earlier run
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(d.path + suffix)
		}
		ctx := context.Background()
		s, err := Open(ctx, d.path)
		if err != nil {
			d.err = err
			return
		}
		defer s.Close(ctx)
		if d.err = s.EnsureIndexes(ctx, "products", benchIndexes); d.err != nil {
			return
		}
		if d.err = s.warm(ctx, append(sideStmts(s.info("products")), insertStmt("products"))...); d.err != nil {
			return
		}
		r := rand.New(rand.NewPCG(1, 2))
		d.err = s.writeTx(ctx, func(tx *sql.Tx) error {
			for st := int64(1); st <= 1+benchOtherStores; st++ {
				count := n
				if st > 1 {
					count = n / 10
				}
				for i := range count {
					ci, _, err := s.insertTx(ctx, tx, "products", s.info("products"), benchProduct(r, st, i))
					if err != nil {
						return err
					}
					if ci != nil {
						s.publish(ci)
					}
				}
			}
			return nil
		})
		if d.err == nil {
			d.err = os.WriteFile(d.path+".ok", nil, 0o644)
		}
	})
	if d.err != nil {
		b.Fatalf("build %d products: %v", n, d.err)
	}
	return d.path
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// BenchmarkStore measures the engine at 5,000 and 100,000 products in store 1 (plus
// 9 other stores with a tenth as many each). The 100,000 database is built once and
// kept in the temporary directory (storeapi-sqlite-bench) for later runs.
func BenchmarkStore(b *testing.B) {
	for _, n := range []int{5_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			benchStore(b, n)
		})
	}
}

func benchStore(b *testing.B, n int) {
	src := benchFile(b, n)
	// Write benchmarks change the file: work on a copy.
	path := filepath.Join(b.TempDir(), "bench.db")
	if err := copyFile(path, src); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	r := rand.New(rand.NewPCG(3, 4))
	id := func() string { return fmt.Sprintf("%08x%016x", 1, r.IntN(n)) }
	cat := func() string { return fmt.Sprintf("c%023d", r.IntN(50)) }
	find := func(b *testing.B, q db.Query, min int) {
		docs, err := s.Find(ctx, "products", q)
		if err != nil {
			b.Fatal(err)
		}
		if len(docs) < min {
			b.Fatalf("Find %+v = %d documents; want at least %d", q, len(docs), min)
		}
	}

	b.Run("Get", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Get(ctx, "products", 1, id()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FindSKU", func(b *testing.B) {
		for b.Loop() {
			sku := fmt.Sprintf("SKU-1-%07d", r.IntN(n))
			find(b, db.Query{StoreID: 1, Limit: 1, Fields: []string{"_id", "sku", "slug"},
				Conds: []db.Cond{{Path: "sku", Op: db.OpEq, Values: []db.Value{{Typed: sku, Raw: sku}}}}}, 1)
		}
	})
	b.Run("FindCategorySortPrice", func(b *testing.B) {
		for b.Loop() {
			c := cat()
			find(b, db.Query{StoreID: 1, Limit: 20, Fields: []string{"_id", "sku", "slug", "name", "price"},
				Conds: []db.Cond{{Path: "categories._id", Op: db.OpEq, Values: []db.Value{{Typed: c, Raw: c}}}},
				Sort:  []db.SortField{{Path: "price"}}}, 20)
		}
	})
	b.Run("FindCategorySortCreated", func(b *testing.B) {
		// No compound index for this order: walks the created_at index, checking the
		// category per row (or reads the category and sorts when it is small).
		for b.Loop() {
			c := cat()
			find(b, db.Query{StoreID: 1, Limit: 20, Fields: []string{"_id", "sku", "slug", "name", "price"},
				Conds: []db.Cond{{Path: "categories._id", Op: db.OpEq, Values: []db.Value{{Typed: c, Raw: c}}}},
				Sort:  []db.SortField{{Path: "created_at", Desc: true}}}, 20)
		}
	})
	b.Run("FindCategorySortPriceDesc", func(b *testing.B) {
		for b.Loop() {
			c := cat()
			find(b, db.Query{StoreID: 1, Limit: 20, Fields: []string{"_id", "sku", "slug", "name", "price"},
				Conds: []db.Cond{{Path: "categories._id", Op: db.OpEq, Values: []db.Value{{Typed: c, Raw: c}}}},
				Sort:  []db.SortField{{Path: "price", Desc: true}}}, 20)
		}
	})
	b.Run("FindNameContains", func(b *testing.B) {
		for b.Loop() {
			w := benchWords[10+r.IntN(10)]
			find(b, db.Query{StoreID: 1, Limit: 20, Fields: []string{"_id", "sku", "slug", "name"},
				Conds: []db.Cond{{Path: "name", Op: db.OpContains, Values: []db.Value{{Typed: w, Raw: w}}}}}, 20)
		}
	})
	b.Run("FindDefaultPage", func(b *testing.B) {
		for b.Loop() {
			find(b, db.Query{StoreID: 1, Limit: 20, Offset: r.IntN(100), Fields: []string{"_id", "sku", "slug"}}, 20)
		}
	})
	b.Run("FindFullDocs", func(b *testing.B) {
		for b.Loop() {
			find(b, db.Query{StoreID: 1, Limit: 20, Sort: []db.SortField{{Path: "created_at", Desc: true}}}, 20)
		}
	})
	b.Run("Count", func(b *testing.B) {
		for b.Loop() {
			if c, err := s.Count(ctx, "products", 1, nil); err != nil || c < int64(n) {
				b.Fatal(c, err)
			}
		}
	})
	b.Run("CountCategory", func(b *testing.B) {
		for b.Loop() {
			c := cat()
			if _, err := s.Count(ctx, "products", 1, []db.Cond{{Path: "categories._id", Op: db.OpEq, Values: []db.Value{{Typed: c, Raw: c}}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	i := 0 // across runs of the sub-benchmark, so that ids stay new
	b.Run("Insert", func(b *testing.B) {
		for b.Loop() {
			i++
			if err := s.Insert(ctx, "products", benchProduct(r, 1, n+i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Update", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Update(ctx, "products", 1, id(), func(d db.Doc) (db.Doc, error) {
				d["price"] = float64(100+r.IntN(100000)) / 100
				d["quantity"] = int64(r.IntN(500))
				return d, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
