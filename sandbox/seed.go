package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"storeapi/db"
	"storeapi/schemas"
)

// seedDoc is one document of the seed data and the collection it goes to.
type seedDoc struct {
	coll string
	doc  db.Doc
}

// seedDocs returns the seed data of a new sandbox store: two brands, two categories
// (one the other's child), three products in them, a customer and a paid order of that
// customer for two of the products — every document complete with _id, store_id,
// created_at and updated_at as the resource engine writes them, and valid against its
// resource's schema. newID gives the ids (db.NewID, or a fixed sequence in tests).
func seedDocs(storeID int64, now time.Time, newID func() string) []seedDoc {
	at := db.Timestamp(now)
	sid := json.Number(strconv.FormatInt(storeID, 10))
	doc := func(fields db.Doc) db.Doc {
		fields["_id"] = newID()
		fields["store_id"] = sid
		fields["created_at"], fields["updated_at"] = at, at
		return fields
	}
	num := func(s string) json.Number { return json.Number(s) }

	acme := doc(db.Doc{"name": "Acme", "slug": "acme",
		"logo": map[string]any{"url": "https://example.com/img/acme.png", "size": "200x80", "alt": "Acme"}})
	globex := doc(db.Doc{"name": "Globex", "slug": "globex"})
	ref := func(d db.Doc) map[string]any {
		return map[string]any{"_id": d["_id"], "name": d["name"], "slug": d["slug"]}
	}

	shoes := doc(db.Doc{"name": "Shoes", "slug": "shoes", "meta_title": "Shoes"})
	running := doc(db.Doc{"name": "Running shoes", "slug": "shoes/running", "parent": ref(shoes)})

	product := func(sku, name, slug, price, base, qty string, cats []map[string]any, brand db.Doc) db.Doc {
		cs := make([]any, len(cats))
		for i, c := range cats {
			cs[i] = c
		}
		return doc(db.Doc{
			"sku": sku, "name": name, "slug": slug,
			"price": num(price), "base_price": num(base), "quantity": num(qty),
			"short_description": "Sandbox sample product: " + name,
			"categories":        cs,
			"brands":            []any{ref(brand)},
			"pictures": []any{map[string]any{"_id": newID(),
				"normal": map[string]any{"url": "https://example.com/img/" + slug + ".jpg", "size": "400x400", "alt": name}}},
		})
	}
	runner := product("SBX-RUN-01", "Trail runner", "trail-runner", "249.9", "299.9", "25",
		[]map[string]any{ref(shoes), ref(running)}, acme)
	sneaker := product("SBX-SNK-01", "City sneaker", "city-sneaker", "159", "159", "40",
		[]map[string]any{ref(shoes)}, globex)
	socks := product("SBX-SCK-03", "Running socks (3 pairs)", "running-socks", "29.9", "34.9", "120",
		[]map[string]any{ref(running)}, acme)

	customer := doc(db.Doc{
		"main_email": "buyer@example.com", "display_name": "Sandbox Buyer",
		"name":          map[string]any{"given_name": "Sandbox", "family_name": "Buyer"},
		"registry_type": "p", "doc_number": "12345678909",
		"phones": []any{map[string]any{"number": "5511999999999"}},
	})

	item := func(p db.Doc, qty string) map[string]any {
		return map[string]any{"_id": newID(), "product_id": p["_id"], "sku": p["sku"], "name": p["name"],
			"quantity": num(qty), "price": p["price"], "final_price": p["price"]}
	}
	order := doc(db.Doc{
		"number": num("1"), "status": "open",
		"financial_status":   map[string]any{"current": "paid", "updated_at": at},
		"fulfillment_status": map[string]any{"current": "ready_for_shipping", "updated_at": at},
		"amount": map[string]any{"total": num("319.7"), "subtotal": num("309.7"), "freight": num("10"),
			"discount": num("0")},
		"items": []any{item(runner, "1"), item(socks, "2")},
		"buyers": []any{map[string]any{"_id": customer["_id"], "main_email": customer["main_email"],
			"display_name": customer["display_name"], "name": customer["name"],
			"registry_type": "p", "doc_number": customer["doc_number"]}},
	})

	return []seedDoc{
		{"brands", acme}, {"brands", globex},
		{"categories", shoes}, {"categories", running},
		{"products", runner}, {"products", sneaker}, {"products", socks},
		{"customers", customer},
		{"orders", order},
	}
}

// seed inserts the seed data of storeID into store, completing every document with its
// schema's defaults (as the resource engine does) and checking it against the schema
// when set is not nil. It returns the ids inserted per collection; on an error, what
// was inserted before it.
func seed(ctx context.Context, store db.Store, set *schemas.Set, storeID int64, now time.Time) (map[string][]string, error) {
	ids := map[string][]string{}
	for _, d := range seedDocs(storeID, now, db.NewID) {
		if set != nil {
			set.ApplyDefaults(d.coll, d.doc)
			if err := set.Validate(d.coll, d.doc); err != nil {
				return ids, fmt.Errorf("sandbox: seed %s is invalid: %w", d.coll, err)
			}
		}
		if err := store.Insert(ctx, d.coll, d.doc); err != nil {
			return ids, fmt.Errorf("sandbox: seed %s: %w", d.coll, err)
		}
		ids[d.coll] = append(ids[d.coll], d.doc["_id"].(string))
	}
	return ids, nil
}
