package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"
)

func TestScratchForms(t *testing.T) {
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
	d := s.reader
	var pidx string
	d.QueryRow(`SELECT name FROM sqlite_master WHERE sql LIKE '%price%'`).Scan(&pidx)
	t.Log("price index", pidx)
	side := `SELECT m.id FROM storeapi_mk_products AS m WHERE m.path = 'categories._id' AND m.store_id = ?1 AND m.v IN (?2)`
	pr := `json_extract(t.doc, '$."price"')`
	forms := map[string]string{
		"A in":     `SELECT t.id, t.doc -> '$."sku"' FROM products AS t WHERE t.store_id = ?1 AND t.id IN (` + side + `) ORDER BY t.store_id, ` + pr + `, t.id LIMIT 20`,
		"C +in":    `SELECT t.id, t.doc -> '$."sku"' FROM products AS t WHERE t.store_id = ?1 AND +t.id IN (` + side + `) ORDER BY t.store_id, ` + pr + `, t.id LIMIT 20`,
		"B exists": `SELECT t.id, t.doc -> '$."sku"' FROM products AS t WHERE t.store_id = ?1 AND EXISTS (SELECT 1 FROM storeapi_mk_products AS m WHERE m.path = 'categories._id' AND m.store_id = t.store_id AND m.v IN (?2) AND m.id = t.id) ORDER BY t.store_id, ` + pr + `, t.id LIMIT 20`,
		"probe":    `SELECT count(*) FROM (SELECT 1 FROM storeapi_mk_products AS m WHERE m.path = 'categories._id' AND m.store_id = ?1 AND m.v IN (?2) LIMIT 2000)`,
		"parse":    `SELECT count(*) FROM products AS t WHERE t.store_id = ?1 AND json_extract(t.doc, '$."name"') = ?2`,
		"parseb":   `SELECT count(*) FROM products AS t WHERE t.store_id = ?1 AND json_extract(jsonb(t.doc), '$."name"') = ?2`,
	}
	for _, name := range []string{"A in", "C +in", "B exists", "probe", "parse", "parseb"} {
		q := forms[name]
		rows, err := d.Query("EXPLAIN QUERY PLAN "+q, 1, "c00000000000000000000007")
		if err != nil {
			t.Fatal(err)
		}
		plan := ""
		for rows.Next() {
			var a, b, c int
			var det string
			rows.Scan(&a, &b, &c, &det)
			plan += "\n   " + det
		}
		rows.Close()
		st, _ := d.Prepare(q)
		var best time.Duration = time.Hour
		for i := 0; i < 5; i++ {
			t0 := time.Now()
			rows, err := st.Query(1, "c00000000000000000000007")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			best = min(best, time.Since(t0))
		}
		t.Log(name, best, plan)
	}
	_ = sql.ErrNoRows
	_ = fmt.Sprint
}
