package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"storeapi/db"
)

// The synthetic catalogue: products in numCategories categories and numBrands brands,
// with names made of words (so that %= finds some of them).
const (
	numCategories = 50
	numBrands     = 20
)

// nameWords are the words product names are made of: one of the first ten, then two of
// the last ten.
var nameWords = [...]string{"Camiseta", "Calça", "Tênis", "Boné", "Meia", "Jaqueta", "Vestido", "Shorts", "Blusa", "Bolsa",
	"Azul", "Preta", "Branca", "Vermelha", "Verde", "Algodão", "Couro", "Linho", "Infantil", "Premium"}

// categoryID and brandID are the fixed ids of the synthetic categories and brands.
func categoryID(c int) string { return fmt.Sprintf("ca7e%020x", c) }
func brandID(b int) string    { return fmt.Sprintf("b4a0%020x", b) }

// hexID returns a 24-hex id made of a tag and a number (picture ids).
func hexID(tag uint32, n int) string { return fmt.Sprintf("%08x%016x", tag, n) }

// productBody returns the fields a client writes of product i (about 1 KB of JSON,
// valid against the products schema).
func productBody(r *rand.Rand, i int, sku string) db.Doc {
	cats := make([]any, 1+r.IntN(3))
	for j := range cats {
		c := r.IntN(numCategories)
		cats[j] = map[string]any{"_id": categoryID(c), "name": "Category " + strconv.Itoa(c), "slug": "category-" + strconv.Itoa(c)}
	}
	b := r.IntN(numBrands)
	name := nameWords[r.IntN(10)] + " " + nameWords[10+r.IntN(10)] + " " + nameWords[10+r.IntN(10)] + " " + strconv.Itoa(i)
	return db.Doc{
		"sku":        sku,
		"slug":       "product-" + strconv.Itoa(i),
		"name":       name,
		"price":      float64(100+r.IntN(100000)) / 100,
		"quantity":   int64(r.IntN(500)),
		"available":  r.IntN(10) > 0,
		"visible":    true,
		"categories": cats,
		"brands":     []any{map[string]any{"_id": brandID(b), "name": "Brand " + strconv.Itoa(b), "slug": "brand-" + strconv.Itoa(b)}},
		"body_html": "<p>" + name + " — produto de exemplo com descrição longa o bastante para parecer real. " +
			nameWords[r.IntN(20)] + " e " + nameWords[r.IntN(20)] + ".</p>",
		"pictures": []any{map[string]any{"_id": hexID(0x9c, i),
			"normal": map[string]any{"url": "https://cdn.example.com/img/" + strconv.Itoa(i) + ".jpg", "size": "350x350"}}},
	}
}

// productDoc returns product i of a store as stored: the client's fields plus the ones
// the server sets.
func productDoc(r *rand.Rand, storeID int64, i int, id, now string) db.Doc {
	d := productBody(r, i, fmt.Sprintf("SKU-%d-%07d", storeID, i))
	d["_id"], d["store_id"], d["created_at"], d["updated_at"] = id, storeID, now, now
	return d
}

// storeDoc returns a minimal stores document (what makes a store exist).
func storeDoc(storeID int64, now string) db.Doc {
	name := "Store " + strconv.FormatInt(storeID, 10)
	return db.Doc{"_id": db.NewID(), "store_id": storeID, "name": name, "corporate_name": name,
		"segment_id": int64(0), "doc_type": "CNPJ", "doc_number": "0", "financial_email": "store@example.com",
		"created_at": now, "updated_at": now}
}

// isoNow is the current time as the API writes it.
func isoNow() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// seedCatalogue writes n products into store mainStore and n/10 into each of the
// others, and a stores document for each of the others (the server's bootstrap creates
// mainStore's). It goes through the engine directly (db.Store.Insert, one transaction
// per document, no HTTP, no validation), before the server has declared its indexes,
// so that the server's start builds them in bulk. It returns mainStore's product ids
// in insertion order.
func seedCatalogue(ctx context.Context, st db.Store, mainStore int64, others []int64, n int, seed uint64) ([]string, error) {
	r := rand.New(rand.NewPCG(seed, 1))
	now := isoNow()
	for _, s := range others {
		if err := st.Insert(ctx, "stores", storeDoc(s, now)); err != nil {
			return nil, fmt.Errorf("loadtest: seeding store %d: %w", s, err)
		}
	}
	ids := make([]string, 0, n)
	insert := func(storeID int64, i int) error {
		id := db.NewID()
		if err := st.Insert(ctx, "products", productDoc(r, storeID, i, id, now)); err != nil {
			return fmt.Errorf("loadtest: seeding product %d of store %d: %w", i, storeID, err)
		}
		if storeID == mainStore {
			ids = append(ids, id)
		}
		return nil
	}
	// Interleave the stores, as real traffic would have written them.
	per := n / 10
	for i := range n {
		if err := insert(mainStore, i); err != nil {
			return nil, err
		}
		if i < per {
			for _, s := range others {
				if err := insert(s, i); err != nil {
					return nil, err
				}
			}
		}
	}
	return ids, nil
}

// seedStores writes stores documents and one product each for count stores from
// first on, and returns the product ids by store (index 0 is store first).
func seedStores(ctx context.Context, st db.Store, first int64, count int, seed uint64) ([]string, error) {
	r := rand.New(rand.NewPCG(seed, 2))
	now := isoNow()
	ids := make([]string, count)
	for i := range count {
		s := first + int64(i)
		if err := st.Insert(ctx, "stores", storeDoc(s, now)); err != nil {
			return nil, fmt.Errorf("loadtest: seeding store %d: %w", s, err)
		}
		ids[i] = db.NewID()
		if err := st.Insert(ctx, "products", productDoc(r, s, i, ids[i], now)); err != nil {
			return nil, fmt.Errorf("loadtest: seeding the product of store %d: %w", s, err)
		}
	}
	return ids, nil
}
