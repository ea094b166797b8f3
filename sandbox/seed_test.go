package sandbox

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"testing"

	"storeapi/db"
	"storeapi/schemas"
)

// md5hex is what clients send as pass_md5_hash.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSeedIsValid(t *testing.T) {
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	docs := seedDocs(1000, t0, func() string { n++; return fmt.Sprintf("%024x", n) })
	counts := map[string]int{}
	ids := map[string]bool{}
	for _, d := range docs {
		counts[d.coll]++
		// Valid as written, and still valid once completed with the schema's defaults.
		if err := set.Validate(d.coll, d.doc); err != nil {
			t.Errorf("seed %s %v: %v", d.coll, d.doc["_id"], err)
		}
		set.ApplyDefaults(d.coll, d.doc)
		if err := set.Validate(d.coll, d.doc); err != nil {
			t.Errorf("seed %s with defaults: %v", d.coll, err)
		}
		id, _ := d.doc["_id"].(string)
		if !db.ValidID(id) || ids[id] {
			t.Errorf("seed %s: bad or repeated _id %q", d.coll, id)
		}
		ids[id] = true
		if d.doc["store_id"] == nil || d.doc["created_at"] != db.Timestamp(t0) || d.doc["updated_at"] != db.Timestamp(t0) {
			t.Errorf("seed %s: server fields %v %v %v", d.coll, d.doc["store_id"], d.doc["created_at"], d.doc["updated_at"])
		}
	}
	want := map[string]int{"brands": 2, "categories": 2, "products": 3, "customers": 1, "orders": 1}
	for coll, w := range want {
		if counts[coll] != w {
			t.Errorf("%d seed %s, want %d", counts[coll], coll, w)
		}
	}
	// References point at seed documents.
	byID := map[string]db.Doc{}
	for _, d := range docs {
		byID[d.doc["_id"].(string)] = d.doc
	}
	for _, d := range docs {
		if d.coll != "orders" {
			continue
		}
		for _, it := range d.doc["items"].([]any) {
			if byID[it.(map[string]any)["product_id"].(string)] == nil {
				t.Errorf("order item of an unknown product: %v", it)
			}
		}
		for _, b := range d.doc["buyers"].([]any) {
			if byID[b.(map[string]any)["_id"].(string)] == nil {
				t.Errorf("order buyer unknown: %v", b)
			}
		}
	}
}
