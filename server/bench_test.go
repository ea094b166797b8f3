package server

// Benchmarks of issue 2's performance target: the API adds no more than 25% over the
// raw driver on the embedded database. Each operation — GET by id, a filtered and sorted
// list of 20, a validated POST — runs on both engines, beside the same operation done
// directly on the same database in the same run:
//
//	raw          the driver alone: mongo-driver v2 on the same FerretDB database, or
//	             database/sql + modernc.org/sqlite on the same file, equivalent SQL
//	raw+count    (lists) the raw find plus the count the API's meta.count needs
//	store        the engine's db.Store call(s) the handler makes
//	api-handler  the whole API in-process: Server.Handler() with httptest.NewRecorder
//	api-tcp      the whole API over loopback TCP with a keep-alive http.Client
//
// Every variant after raw reports x_raw, its time per operation over raw's; the api
// variants also report db_calls/op and db_µs/op, read from the server's /metrics
// (storeapi_db_operation_duration_seconds) — the engine's share of a request, plus
// whatever the server's background loops (webhook dispatcher, cache poll on MongoDB)
// ran meanwhile. They run only with -bench, e.g.
//
//	go test ./server -run '^$' -bench . -benchtime 2s
//
// The catalogue is benchProducts ~1 KB products in store 1000 (and a tenth as many in
// store 1001), written through the engine. GETs carry X-Cache-Tag, so that no answer
// comes from the response cache; rates are off (testConfig).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"storeapi/db"
	"storeapi/resources"
)

// benchProducts is how many products store 1000 holds in the benchmarks. FerretDB's
// SQLite backend reads a whole collection for any filter but {_id} (STORAGE.md), so
// lists on the MongoDB engine cost about 75 µs per document there.
const benchProducts = 1000

// benchOther is the other store holding products.
const benchOther = 1001

// benchEnv is a running server with its catalogue and the raw drivers on its database.
type benchEnv struct {
	engine  string
	handler http.Handler
	base    string
	client  *http.Client
	store   db.Store // the engine itself, below the cache and metrics decorators
	ids     []string // store 1000's products
	myID    string
	token   string

	mcoll *mongo.Collection // mongodb engine: the products collection
	sqldb *sql.DB           // sqlite engine: the database file
}

// startBench starts a server for the engine, seeds it, logs in, and opens the raw
// driver on the same database.
func startBench(b *testing.B, engine string) *benchEnv {
	b.Helper()
	cfg := testConfig(b, engine)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		b.Fatalf("starting the server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("server stopped with %v", err)
		}
	})
	env := &benchEnv{engine: engine, handler: s.Handler(), base: "http://" + s.Addr(), store: s.prod.raw,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}}
	b.Cleanup(env.client.CloseIdleConnections)

	r := rand.New(rand.NewPCG(1, 2))
	now := "2026-01-01T00:00:00.000Z"
	for i := range benchProducts + benchProducts/10 {
		storeID := int64(FirstStoreID)
		if i >= benchProducts {
			storeID = benchOther
		}
		id := db.NewID()
		doc := benchProduct(r, i, fmt.Sprintf("SKU-%d-%06d", storeID, i))
		doc["_id"], doc["store_id"], doc["created_at"], doc["updated_at"] = id, storeID, now, now
		if err := env.store.Insert(ctx, "products", doc); err != nil {
			b.Fatalf("seeding: %v", err)
		}
		if storeID == FirstStoreID {
			env.ids = append(env.ids, id)
		}
	}

	ts := &testServer{t: b, cfg: cfg, base: env.base}
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, "bootstrap.json"))
	if err != nil {
		b.Fatalf("reading bootstrap.json: %v", err)
	}
	if err := json.Unmarshal(data, &ts.boot); err != nil {
		b.Fatalf("bootstrap.json: %v", err)
	}
	env.myID, env.token = ts.boot.AuthenticationID, ts.login(ts.boot.StoreID, ts.boot.Username, ts.boot.Password)

	switch engine {
	case "mongodb":
		client, err := mongo.Connect(options.Client().ApplyURI(cfg.MongoURI))
		if err != nil {
			b.Fatalf("raw driver: %v", err)
		}
		b.Cleanup(func() { _ = client.Disconnect(context.Background()) })
		env.mcoll = client.Database(cfg.Database).Collection("products")
	case "sqlite":
		path := filepath.Join(cfg.DataDir, cfg.Database+".db")
		// The engine's own settings (WAL is in the file already).
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)" +
			"&_pragma=cache_size(-32000)&_pragma=mmap_size(268435456)"
		sqldb, err := sql.Open("sqlite", dsn)
		if err != nil {
			b.Fatalf("raw driver: %v", err)
		}
		sqldb.SetMaxOpenConns(1)
		b.Cleanup(func() { _ = sqldb.Close() })
		env.sqldb = sqldb
	}
	return env
}

// benchProduct returns the client's fields of a ~1 KB product, valid against the schema.
func benchProduct(r *rand.Rand, i int, sku string) db.Doc {
	cats := make([]any, 1+r.IntN(3))
	for j := range cats {
		c := r.IntN(50)
		cats[j] = map[string]any{"_id": benchCategory(c), "name": "Category " + strconv.Itoa(c), "slug": "category-" + strconv.Itoa(c)}
	}
	br := r.IntN(20)
	name := "Camiseta Azul Algodão " + strconv.Itoa(i)
	return db.Doc{
		"sku": sku, "slug": "product-" + strconv.Itoa(i), "name": name,
		"price": float64(100+r.IntN(100000)) / 100, "quantity": int64(r.IntN(500)),
		"available": r.IntN(10) > 0, "visible": true, "categories": cats,
		"brands":    []any{map[string]any{"_id": fmt.Sprintf("b4a0%020x", br), "name": "Brand " + strconv.Itoa(br)}},
		"body_html": "<p>" + name + " — produto de exemplo com descrição longa o bastante para parecer real.</p>",
		"pictures": []any{map[string]any{"_id": fmt.Sprintf("9c%022x", i),
			"normal": map[string]any{"url": "https://cdn.example.com/img/" + strconv.Itoa(i) + ".jpg", "size": "350x350"}}},
	}
}

// benchCategory is the id of synthetic category c.
func benchCategory(c int) string { return fmt.Sprintf("ca7e%020x", c) }

// variant is one way of doing an operation.
type variant struct {
	name string
	op   func(ctx context.Context, i int) error
	// db, when set, reads the server's database call counters (see dbTotals).
	db func() (calls, seconds float64)
}

// runVariants runs each variant as a sub-benchmark, in order; every variant after the
// first reports x_raw, its time per operation over the first's.
func runVariants(b *testing.B, vs []variant) {
	var rawNs float64
	for k, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			if err := v.op(ctx, 0); err != nil { // warm: statements, connections
				b.Fatal(err)
			}
			var calls0, secs0 float64
			if v.db != nil {
				calls0, secs0 = v.db()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := v.op(ctx, i+1); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if v.db != nil {
				calls1, secs1 := v.db()
				b.ReportMetric((calls1-calls0)/float64(b.N), "db_calls/op")
				b.ReportMetric((secs1-secs0)*1e6/float64(b.N), "db_µs/op")
			}
			if k == 0 {
				rawNs = ns
			} else if rawNs > 0 {
				b.ReportMetric(ns/rawNs, "x_raw")
			}
		})
	}
}

// apiVariants are the in-process and the TCP way of sending a request built by mk,
// expecting status want.
func (env *benchEnv) apiVariants(want int, mk func(i int) (method, path string, body []byte, auth bool)) []variant {
	header := func(h http.Header, auth bool) {
		h.Set("X-Store-ID", strconv.Itoa(FirstStoreID))
		if auth {
			h.Set("X-My-ID", env.myID)
			h.Set("X-Access-Token", env.token)
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("X-Cache-Tag", "bench")
		}
	}
	return []variant{
		{name: "api-handler", db: env.dbTotals, op: func(ctx context.Context, i int) error {
			method, path, body, auth := mk(i)
			req := httptest.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
			header(req.Header, auth)
			rec := httptest.NewRecorder()
			env.handler.ServeHTTP(rec, req)
			if rec.Code != want {
				return fmt.Errorf("%s %s: got %d, want %d: %s", method, path, rec.Code, want, rec.Body.Bytes())
			}
			return nil
		}},
		{name: "api-tcp", db: env.dbTotals, op: func(ctx context.Context, i int) error {
			method, path, body, auth := mk(i)
			req, err := http.NewRequestWithContext(ctx, method, env.base+path, bytes.NewReader(body))
			if err != nil {
				return err
			}
			header(req.Header, auth)
			res, err := env.client.Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != want {
				return fmt.Errorf("%s %s: got %d, want %d", method, path, res.StatusCode, want)
			}
			return err
		}},
	}
}

// BenchmarkGetByID: one product by id — FindOne {_id} / SELECT by primary key, the
// document decoded into a Go map, beside GET /v1/products/<id>.json.
func BenchmarkGetByID(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			env := startBench(b, engine)
			id := func(i int) string { return env.ids[i*7919%len(env.ids)] }
			var raw variant
			switch engine {
			case "mongodb":
				raw = variant{name: "raw", op: func(ctx context.Context, i int) error {
					var m bson.M
					return env.mcoll.FindOne(ctx, bson.D{{Key: "_id", Value: id(i)}}).Decode(&m)
				}}
			case "sqlite":
				stmt := prepare(b, env.sqldb, `SELECT json(doc) FROM products WHERE id = ?1 AND store_id = ?2`)
				raw = variant{name: "raw", op: func(ctx context.Context, i int) error {
					var doc []byte
					if err := stmt.QueryRowContext(ctx, id(i), FirstStoreID).Scan(&doc); err != nil {
						return err
					}
					var m map[string]any
					return json.Unmarshal(doc, &m)
				}}
			}
			vs := []variant{raw, {name: "store", op: func(ctx context.Context, i int) error {
				_, err := env.store.Get(ctx, "products", FirstStoreID, id(i))
				return err
			}}}
			vs = append(vs, env.apiVariants(http.StatusOK, func(i int) (string, string, []byte, bool) {
				return http.MethodGet, "/v1/products/" + id(i) + ".json", nil, false
			})...)
			runVariants(b, vs)
		})
	}
}

// benchListQuery is the list: a storefront category page, 20 products by price, in the
// products list's default projection (_id, sku, slug).
const benchListQuery = "categories._id=%s&sort=price&limit=20"

// BenchmarkList: products of one category sorted by price, limit 20 — Find with
// filter, sort, limit and projection (and, as raw+count, the count the API's meta
// needs) / the equivalent SQL on the engine's tables, beside GET /v1/products.json.
func BenchmarkList(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			env := startBench(b, engine)
			cat := func(i int) string { return benchCategory(i % 50) }
			var raw, rawCount variant
			switch engine {
			case "mongodb":
				find := func(ctx context.Context, filter bson.D) error {
					opts := options.Find().SetSort(bson.D{{Key: "price", Value: 1}, {Key: "_id", Value: 1}}).
						SetLimit(20).SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "sku", Value: 1}, {Key: "slug", Value: 1}})
					cur, err := env.mcoll.Find(ctx, filter, opts)
					if err != nil {
						return err
					}
					var docs []bson.M
					if err := cur.All(ctx, &docs); err != nil {
						return err
					}
					if len(docs) == 0 {
						return fmt.Errorf("raw find: nothing in %v", filter)
					}
					return nil
				}
				filter := func(i int) bson.D {
					return bson.D{{Key: "store_id", Value: int64(FirstStoreID)}, {Key: "categories._id", Value: cat(i)}}
				}
				raw = variant{name: "raw", op: func(ctx context.Context, i int) error { return find(ctx, filter(i)) }}
				rawCount = variant{name: "raw+count", op: func(ctx context.Context, i int) error {
					if err := find(ctx, filter(i)); err != nil {
						return err
					}
					_, err := env.mcoll.CountDocuments(ctx, filter(i))
					return err
				}}
			case "sqlite":
				// The engine keeps every value of a path that holds arrays (categories._id)
				// in storeapi_mk_<collection> (path, store_id, v, id): the index to use.
				find := prepare(b, env.sqldb, `SELECT t.id, t.doc ->> '$."sku"', t.doc ->> '$."slug"'
					FROM storeapi_mk_products AS m JOIN products AS t ON t.id = m.id
					WHERE m.path = 'categories._id' AND m.store_id = ?1 AND m.v = ?2
					ORDER BY json_extract(t.doc, '$."price"'), t.id LIMIT 20`)
				count := prepare(b, env.sqldb, `SELECT count(*) FROM storeapi_mk_products
					WHERE path = 'categories._id' AND store_id = ?1 AND v = ?2`)
				list := func(ctx context.Context, i int) error {
					rows, err := find.QueryContext(ctx, FirstStoreID, cat(i))
					if err != nil {
						return err
					}
					defer rows.Close()
					var docs []map[string]any
					for rows.Next() {
						var id, sku, slug sql.NullString
						if err := rows.Scan(&id, &sku, &slug); err != nil {
							return err
						}
						docs = append(docs, map[string]any{"_id": id.String, "sku": sku.String, "slug": slug.String})
					}
					if len(docs) == 0 {
						return fmt.Errorf("raw find: nothing in category %s", cat(i))
					}
					return rows.Err()
				}
				raw = variant{name: "raw", op: list}
				rawCount = variant{name: "raw+count", op: func(ctx context.Context, i int) error {
					if err := list(ctx, i); err != nil {
						return err
					}
					var n int64
					return count.QueryRowContext(ctx, FirstStoreID, cat(i)).Scan(&n)
				}}
			}
			store := variant{name: "store", op: func(ctx context.Context, i int) error {
				p, err := resources.ParseListQuery(fmt.Sprintf(benchListQuery, cat(i)))
				if err != nil {
					return err
				}
				q := db.Query{StoreID: FirstStoreID, Conds: p.Conds, Sort: p.Sort, Fields: []string{"_id", "sku", "slug"}, Limit: p.Limit}
				docs, err := env.store.Find(ctx, "products", q)
				if err == nil && len(docs) == 0 {
					err = fmt.Errorf("store find: nothing in category %s", cat(i))
				}
				if err != nil {
					return err
				}
				_, err = env.store.Count(ctx, "products", FirstStoreID, p.Conds)
				return err
			}}
			vs := []variant{raw, rawCount, store}
			vs = append(vs, env.apiVariants(http.StatusOK, func(i int) (string, string, []byte, bool) {
				return http.MethodGet, "/v1/products.json?" + fmt.Sprintf(benchListQuery, cat(i)), nil, false
			})...)
			runVariants(b, vs)
		})
	}
}

// BenchmarkPost: a new ~600-byte product (no categories or brands, so that the raw SQL
// insert maintains the same indexes as the engine) — InsertOne / INSERT of the document
// as the API stores it, beside POST /v1/products.json (validated, defaults, server
// fields, and the trigger document every applied write records).
func BenchmarkPost(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			env := startBench(b, engine)
			body := func(sku string) db.Doc {
				return db.Doc{"sku": sku, "name": "Bench product " + sku, "slug": "bench-" + strings.ToLower(sku),
					"price": 19.9, "quantity": int64(10), "body_html": "<p>Produto de exemplo com descrição longa o bastante para parecer real, " +
						"com algumas frases a mais para chegar perto de um produto de verdade.</p>",
					"pictures": []any{map[string]any{"_id": "9c0000000000000000000001",
						"normal": map[string]any{"url": "https://cdn.example.com/img/bench.jpg", "size": "350x350"}}}}
			}
			// The document as the API stores it: the template of the raw inserts.
			first, err := json.Marshal(body("TEMPLATE"))
			if err != nil {
				b.Fatal(err)
			}
			a := env.send(b, http.MethodPost, "/v1/products.json", first)
			if a.status != http.StatusCreated {
				b.Fatalf("POST: got %d %s", a.status, a.raw)
			}
			tmplID, _ := a.body["_id"].(string)
			stored, err := env.store.Get(context.Background(), "products", FirstStoreID, tmplID)
			if err != nil {
				b.Fatal(err)
			}
			run := 0
			sku := func(tag string, i int) string {
				return fmt.Sprintf("%s-%d-%d", tag, run, i)
			}
			var raw variant
			switch engine {
			case "mongodb":
				var tmpl bson.D
				if err := env.mcoll.FindOne(context.Background(), bson.D{{Key: "_id", Value: tmplID}}).Decode(&tmpl); err != nil {
					b.Fatal(err)
				}
				raw = variant{name: "raw", op: func(ctx context.Context, i int) error {
					doc := append(bson.D(nil), tmpl...)
					for k := range doc {
						switch doc[k].Key {
						case "_id":
							doc[k].Value = db.NewID()
						case "sku":
							doc[k].Value = sku("RAW", i)
						}
					}
					_, err := env.mcoll.InsertOne(ctx, doc)
					return err
				}}
			case "sqlite":
				ins := prepare(b, env.sqldb, `INSERT INTO products (id, store_id, doc) VALUES (?1, ?2, jsonb(?3))`)
				raw = variant{name: "raw", op: func(ctx context.Context, i int) error {
					doc := make(map[string]any, len(stored))
					for k, v := range stored {
						doc[k] = v
					}
					id := db.NewID()
					doc["_id"], doc["sku"] = id, sku("RAW", i)
					data, err := json.Marshal(doc)
					if err != nil {
						return err
					}
					_, err = ins.ExecContext(ctx, id, FirstStoreID, data)
					return err
				}}
			}
			store := variant{name: "store", op: func(ctx context.Context, i int) error {
				doc := make(db.Doc, len(stored))
				for k, v := range stored {
					doc[k] = v
				}
				doc["_id"], doc["sku"] = db.NewID(), sku("STORE", i)
				return env.store.Insert(ctx, "products", doc)
			}}
			vs := []variant{raw, store}
			vs = append(vs, env.apiVariants(http.StatusCreated, func(i int) (string, string, []byte, bool) {
				data, _ := json.Marshal(body(sku("API", i)))
				return http.MethodPost, "/v1/products.json", data, true
			})...)
			// Sub-benchmarks run several times with growing N: a new tag each run keeps
			// the skus unique.
			for k := range vs {
				op := vs[k].op
				vs[k].op = func(ctx context.Context, i int) error {
					if i == 0 {
						run++
					}
					return op(ctx, i)
				}
			}
			runVariants(b, vs)
		})
	}
}

// dbTotals reads, from the server's /metrics, how many database calls it has made and
// how long they took in all (the engine's share of an API request).
func (env *benchEnv) dbTotals() (calls, seconds float64) {
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		_, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "storeapi_db_operation_duration_seconds_count":
			calls += f
		case "storeapi_db_operation_duration_seconds_sum":
			seconds += f
		}
	}
	return calls, seconds
}

// send makes one authenticated request as the admin.
func (env *benchEnv) send(b *testing.B, method, path string, body []byte) answer {
	b.Helper()
	ts := &testServer{t: b, base: env.base}
	return ts.do(req{method: method, path: path, store: FirstStoreID, token: env.token, myID: env.myID, body: body})
}

// prepare prepares a statement of the raw SQLite driver.
func prepare(b *testing.B, sqldb *sql.DB, query string) *sql.Stmt {
	b.Helper()
	st, err := sqldb.Prepare(query)
	if err != nil {
		b.Fatalf("raw driver: %v (has the engine's table layout changed?)", err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}
