package server

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// md5hex is what clients send as pass_md5_hash.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// checkErrorBody fails unless a is SPEC §5's error body with the status and code.
func checkErrorBody(t testing.TB, what string, a answer, status int, code any) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: got status %d, want %d; body %s", what, a.status, status, a.raw)
	}
	b := a.body
	if b == nil {
		t.Fatalf("%s: body is not a JSON object: %s", what, a.raw)
	}
	if got, _ := b["status"].(float64); int(got) != status {
		t.Errorf("%s: body status %v, want %d", what, b["status"], status)
	}
	if code != nil && fmt.Sprint(b["error_code"]) != fmt.Sprint(code) {
		t.Errorf("%s: error_code %v, want %v", what, b["error_code"], code)
	}
	if msg, _ := b["message"].(string); msg == "" {
		t.Errorf("%s: empty message", what)
	}
	um, _ := b["user_message"].(map[string]any)
	if um["en_us"] == nil || um["pt_br"] == nil {
		t.Errorf("%s: user_message needs en_us and pt_br: %v", what, b["user_message"])
	}
	if _, ok := b["more_info"]; !ok {
		t.Errorf("%s: more_info missing", what)
	}
}

// product is a valid product body.
func product(sku string, price float64) map[string]any {
	return map[string]any{"sku": sku, "name": "Product " + sku, "price": price}
}

// variation is a valid product variation body.
func variation(name string, quantity int) map[string]any {
	return map[string]any{"name": name, "quantity": quantity, "price": 5 + quantity,
		"specifications": map[string]any{"size": []any{map[string]any{"text": "M"}}}}
}

// create POSTs body as admin and returns the new id.
func (ts *testServer) create(resource string, body any) string {
	ts.t.Helper()
	a := ts.admin("POST", "/v1/"+resource+".json", body)
	mustStatus(ts.t, "POST "+resource, a, http.StatusCreated)
	id, _ := a.body["_id"].(string)
	if len(id) != 24 {
		ts.t.Fatalf("POST %s: _id %q is not 24 hex", resource, id)
	}
	return id
}

func TestRootAndStoreHeader(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		a := ts.do(req{method: "GET", path: "/v1/"})
		mustStatus(t, "GET /v1/", a, http.StatusAccepted)
		if list, _ := a.body["resources"].([]any); len(list) != 13 {
			t.Errorf("GET /v1/: %d resources, want 13: %s", len(list), a.raw)
		}
		checkErrorBody(t, "no store", ts.do(req{method: "GET", path: "/v1/products.json"}), 417, -40)
		checkErrorBody(t, "bad store", ts.do(req{method: "GET", path: "/v1/products.json",
			headers: map[string]string{"X-Store-ID": "abc"}}), 400, -41)
		checkErrorBody(t, "negative store", ts.do(req{method: "GET", path: "/v1/products.json",
			headers: map[string]string{"X-Store-ID": "-4"}}), 400, -41)
		checkErrorBody(t, "unknown store", ts.do(req{method: "GET", path: "/v1/products.json", store: 999999}), 412, -42)
		checkErrorBody(t, "unknown path", ts.public("GET", "/v1/nothing.json"), 404, -44)
		checkErrorBody(t, "outside /v1", ts.public("GET", "/whatever"), 404, -44)
		checkErrorBody(t, "unknown store in path", ts.do(req{method: "GET", path: "/424242/v1/products.json"}), 412, -42)
	})
}

func TestLoginAndAuthenticate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		store := ts.boot.StoreID
		wrong := ts.do(req{method: "POST", path: "/v1/_login.json", store: store,
			body: map[string]any{"username": "admin", "pass_md5_hash": md5hex("nope")}})
		checkErrorBody(t, "wrong password", wrong, 401, 102)
		noUser := ts.do(req{method: "POST", path: "/v1/_login.json", store: store,
			body: map[string]any{"username": "ghost", "pass_md5_hash": md5hex("nope")}})
		checkErrorBody(t, "wrong user", noUser, 401, 102)
		if string(wrong.raw) != string(noUser.raw) {
			t.Errorf("wrong user and wrong password answer differently: %s vs %s", wrong.raw, noUser.raw)
		}
		// ?username= on the URL, as @ecomplus/auth sends it.
		a := ts.do(req{method: "POST", path: "/v1/_login.json?username=admin", store: store,
			body: map[string]any{"pass_md5_hash": md5hex(ts.boot.Password)}})
		mustStatus(t, "login with ?username", a, 200)
		if a.body["_id"] != ts.boot.AuthenticationID || a.body["api_key"] == "" || a.body["store_id"].(float64) != float64(store) {
			t.Errorf("login answer: %s", a.raw)
		}
		badKey := ts.do(req{method: "POST", path: "/v1/_authenticate.json", store: store,
			body: map[string]any{"_id": ts.boot.AuthenticationID, "api_key": "0000"}})
		checkErrorBody(t, "wrong api key", badKey, 401, 102)
		bad := ts.do(req{method: "GET", path: "/v1/customers.json", store: store, token: "not-a-token"})
		checkErrorBody(t, "bad token", bad, 401, 102)
		me := ts.admin("GET", "/v1/authentications/me.json", nil)
		mustStatus(t, "authentications/me", me, 200)
		if me.body["username"] != "admin" || me.body["pass_md5_hash"] != nil || me.body["api_key"] != nil {
			t.Errorf("authentications/me: %s", me.raw)
		}
		if strings.Contains(string(me.raw), ts.boot.APIKey) || strings.Contains(string(me.raw), md5hex(ts.boot.Password)) {
			t.Errorf("authentications/me shows a secret: %s", me.raw)
		}
	})
}

func TestBootstrapFile(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	ts := startWithConfig(t, cfg)
	path := filepath.Join(cfg.DataDir, "bootstrap.json")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap.json mode %o, want 600", info.Mode().Perm())
	}
	if ts.boot.StoreID != 1000 || ts.boot.Username != "admin" || ts.boot.Password == "" || ts.boot.APIKey == "" || len(ts.boot.AuthenticationID) != 24 {
		t.Errorf("bootstrap.json: %+v", ts.boot)
	}
	before, _ := os.ReadFile(path)
	ts.stop()
	// A dump of the database holds no secret that logs in: not the password, its MD5,
	// nor the API key (tokens and keys derive from the secret kept outside it).
	for _, name := range []string{"storeapi.db", "storeapi.db-wal"} {
		dump, err := os.ReadFile(filepath.Join(cfg.DataDir, name))
		if err != nil {
			continue
		}
		for what, secret := range map[string]string{"password": ts.boot.Password, "md5": md5hex(ts.boot.Password), "api_key": ts.boot.APIKey} {
			if strings.Contains(string(dump), secret) {
				t.Errorf("%s holds the %s", name, what)
			}
		}
	}
	// A second start over the same database keeps the store and does not rewrite the file.
	again := startWithConfig(t, cfg)
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Errorf("bootstrap.json rewritten on the second start")
	}
	mustStatus(t, "stores/me after restart", again.public("GET", "/v1/stores/me.json"), 200)
}

func TestDocumentLifecycle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		checkErrorBody(t, "POST without auth", ts.do(req{method: "POST", path: "/v1/products.json",
			store: ts.boot.StoreID, body: product("a1", 10)}), 401, nil)
		body := product("sku-1", 19.9)
		body["store_id"] = 5 // clients cannot set these
		body["created_at"] = "2001-01-01T00:00:00.000Z"
		id := ts.create("products", body)

		got := ts.public("GET", "/v1/products/"+id+".json")
		mustStatus(t, "GET product", got, 200)
		d := got.body
		if d["_id"] != id || d["store_id"].(float64) != 1000 || d["sku"] != "sku-1" || d["price"].(float64) != 19.9 {
			t.Errorf("GET product: %s", got.raw)
		}
		if d["available"] != true || d["currency_id"] != "BRL" {
			t.Errorf("schema defaults not applied: %s", got.raw)
		}
		created, _ := d["created_at"].(string)
		if len(created) != 24 || !strings.HasSuffix(created, "Z") || created == "2001-01-01T00:00:00.000Z" {
			t.Errorf("created_at %q is not a server ISO timestamp", created)
		}
		if got.header.Get("ETag") == "" {
			t.Errorf("GET product: no ETag")
		}
		// The store-in-path address form answers the same document.
		viaPath := ts.do(req{method: "GET", path: "/1000/v1/products/" + id + ".json"})
		mustStatus(t, "GET via /1000/v1", viaPath, 200)
		if viaPath.body["sku"] != "sku-1" {
			t.Errorf("GET via path form: %s", viaPath.raw)
		}
		// 304 for a matching If-None-Match.
		nm := ts.do(req{method: "GET", path: "/v1/products/" + id + ".json", store: 1000,
			headers: map[string]string{"If-None-Match": got.header.Get("ETag")}})
		if nm.status != http.StatusNotModified || len(nm.raw) != 0 {
			t.Errorf("If-None-Match: got %d %q, want 304 without body", nm.status, nm.raw)
		}

		// PATCH merges: null removes, arrays are replaced whole.
		mustStatus(t, "PATCH", ts.admin("PATCH", "/v1/products/"+id+".json",
			map[string]any{"keywords": []any{"a", "b"}, "subtitle": "sub"}), 204)
		mustStatus(t, "PATCH", ts.admin("PATCH", "/v1/products/"+id+".json",
			map[string]any{"keywords": []any{"c"}, "subtitle": nil}), 204)
		got = ts.admin("GET", "/v1/products/"+id+".json", nil)
		if _, has := got.body["subtitle"]; has {
			t.Errorf("PATCH null did not remove subtitle: %s", got.raw)
		}
		if kw := fmt.Sprint(got.body["keywords"]); kw != "[c]" {
			t.Errorf("PATCH array not replaced: keywords %s", kw)
		}
		if got.body["updated_at"] == d["updated_at"] && got.body["updated_at"] == nil {
			t.Errorf("updated_at not set")
		}
		if got.body["created_at"] != d["created_at"] {
			t.Errorf("PATCH changed created_at")
		}
		// A PATCH whose result is invalid is refused and changes nothing.
		bad := ts.admin("PATCH", "/v1/products/"+id+".json", map[string]any{"price": -1, "name": "changed"})
		checkErrorBody(t, "invalid PATCH", bad, 400, -12)
		if ts.admin("GET", "/v1/products/"+id+".json", nil).body["name"] != "Product sku-1" {
			t.Errorf("an invalid PATCH was half-written")
		}
		// PUT replaces and needs the required fields.
		checkErrorBody(t, "PUT without required", ts.admin("PUT", "/v1/products/"+id+".json",
			map[string]any{"name": "only name"}), 400, -12)
		mustStatus(t, "PUT", ts.admin("PUT", "/v1/products/"+id+".json", product("sku-2", 5)), 204)
		got = ts.admin("GET", "/v1/products/"+id+".json", nil)
		if got.body["sku"] != "sku-2" || got.body["keywords"] != nil || got.body["created_at"] != d["created_at"] {
			t.Errorf("PUT did not replace: %s", got.raw)
		}
		// If-Match: a stale ETag is 412, the current one applies.
		stale := ts.do(req{method: "PATCH", path: "/v1/products/" + id + ".json", store: 1000, token: ts.token,
			headers: map[string]string{"If-Match": d["_id"].(string)}, body: map[string]any{"name": "x"}})
		checkErrorBody(t, "stale If-Match", stale, 412, -43)
		cur := ts.do(req{method: "PATCH", path: "/v1/products/" + id + ".json", store: 1000, token: ts.token,
			headers: map[string]string{"If-Match": got.header.Get("ETag")}, body: map[string]any{"name": "x"}})
		mustStatus(t, "current If-Match", cur, 204)
		// DELETE, then 404.
		mustStatus(t, "DELETE", ts.admin("DELETE", "/v1/products/"+id+".json", nil), 204)
		checkErrorBody(t, "GET deleted", ts.public("GET", "/v1/products/"+id+".json"), 404, -44)
		checkErrorBody(t, "DELETE again", ts.admin("DELETE", "/v1/products/"+id+".json", nil), 404, -44)
	})
}

func TestBadInput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		id := ts.create("products", product("bad-1", 1))
		cases := []struct {
			name   string
			method string
			path   string
			body   any
			status int
			code   any
		}{
			{"malformed JSON", "POST", "/v1/products.json", `{"sku":`, 400, -10},
			{"empty body", "POST", "/v1/products.json", ``, 400, -10},
			{"array body", "POST", "/v1/products.json", `[1,2]`, 400, -11},
			{"string body", "POST", "/v1/products.json", `"x"`, 400, -11},
			{"trailing data", "POST", "/v1/products.json", `{"sku":"ab","name":"n"} {}`, 400, -10},
			{"wrong type", "POST", "/v1/products.json", map[string]any{"sku": 5, "name": "n"}, 400, -12},
			{"unknown field", "POST", "/v1/products.json", map[string]any{"sku": "abc", "name": "n", "nope": 1}, 400, -12},
			{"too large", "POST", "/v1/products.json", `{"sku":"ab","name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, -45},
			{"invalid id", "GET", "/v1/products/123.json", nil, 406, -20},
			{"invalid id upper", "GET", "/v1/products/" + strings.ToUpper(id) + "x.json", nil, 406, -20},
			{"unknown subresource", "GET", "/v1/products/" + id + "/nothing.json", nil, 406, -21},
			{"POST on a document", "POST", "/v1/products/" + id + ".json", map[string]any{}, 405, -30},
			{"DELETE a list", "DELETE", "/v1/products.json", nil, 405, -30},
			{"POST stores", "POST", "/v1/stores.json", map[string]any{"name": "x"}, 405, -30},
			{"$where", "GET", "/v1/products.json?$where=1", nil, 400, -13},
			{"operator injection", "GET", "/v1/products.json?price[$ne]=1", nil, 400, -13},
			{"limit too big", "GET", "/v1/products.json?limit=1001", nil, 400, -13},
			{"bad offset", "GET", "/v1/products.json?offset=-1", nil, 400, -13},
			{"duplicate sku", "POST", "/v1/products.json", product("bad-1", 2), 409, -46},
		}
		for _, c := range cases {
			a := ts.admin(c.method, c.path, c.body)
			checkErrorBody(t, c.name, a, c.status, c.code)
		}
		a := ts.admin("POST", "/v1/products.json", map[string]any{"sku": "x", "name": 3, "nope": true})
		checkErrorBody(t, "validation fields", a, 400, -12)
		fields, _ := a.body["errors"].([]any)
		if len(fields) < 3 {
			t.Errorf("validation lists %d failing fields, want 3 (sku, name, nope): %s", len(fields), a.raw)
		}
		if mi, _ := a.body["more_info"].(string); !strings.HasSuffix(mi, "/v1/products/schema.json") {
			t.Errorf("more_info %q does not point at the schema", a.body["more_info"])
		}
		allow := ts.admin("POST", "/v1/products/"+id+".json", map[string]any{})
		if !strings.Contains(allow.header.Get("Allow"), "PATCH") {
			t.Errorf("405 Allow header %q", allow.header.Get("Allow"))
		}
	})
}

func TestSchemaAndOptions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		for _, r := range []string{"products", "orders", "authentications", "procedures"} {
			a := ts.public("GET", "/v1/"+r+"/schema.json")
			mustStatus(t, r+" schema", a, 200)
			if a.body["$schema"] != "http://json-schema.org/draft-06/schema#" {
				t.Errorf("%s schema: $schema %v", r, a.body["$schema"])
			}
		}
		a := ts.do(req{method: "OPTIONS", path: "/v1/products.json", headers: map[string]string{
			"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}})
		mustStatus(t, "OPTIONS", a, 204)
		if !strings.Contains(a.header.Get("Allow"), "PATCH") || a.header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(a.header.Get("Access-Control-Allow-Headers"), "X-Access-Token") {
			t.Errorf("OPTIONS headers: %v", a.header)
		}
	})
}

func TestLists(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		cat := "5f0000000000000000000001"
		for i := 1; i <= 12; i++ {
			p := product(fmt.Sprintf("list-%02d", i), float64(i*10))
			p["name"] = fmt.Sprintf("Blue Shirt %d", i)
			if i%2 == 0 {
				p["name"] = fmt.Sprintf("Red Hat (%d.*)", i)
				p["categories"] = []any{map[string]any{"_id": cat, "name": "Hats"}}
			}
			p["quantity"] = i
			ts.create("products", p)
		}
		ts.create("products", map[string]any{"sku": "100", "name": "digits", "mpn": []any{"42"}})

		a := ts.public("GET", "/v1/products.json?limit=5&offset=2&sort=-price&fields=name,price")
		mustStatus(t, "list", a, 200)
		meta := a.body["meta"].(map[string]any)
		res := a.body["result"].([]any)
		if meta["count"].(float64) != 13 || meta["limit"].(float64) != 5 || meta["offset"].(float64) != 2 || len(res) != 5 {
			t.Fatalf("list meta/result: %s", a.raw)
		}
		if fmt.Sprint(meta["sort"]) != "[map[field:price order:-1]]" || fmt.Sprint(meta["fields"]) != "[name price]" {
			t.Errorf("meta sort/fields: %v %v", meta["sort"], meta["fields"])
		}
		first := res[0].(map[string]any)
		if first["price"].(float64) != 100 || first["_id"] == nil || first["sku"] != nil {
			t.Errorf("sorted/projected first result: %v", first)
		}
		// Defaults: limit 1000, offset 0, no sort.
		def := ts.public("GET", "/v1/products.json").body["meta"].(map[string]any)
		if def["limit"].(float64) != 1000 || def["offset"].(float64) != 0 || fmt.Sprint(def["sort"]) != "[]" || def["count"].(float64) != 13 {
			t.Errorf("list defaults: %v", def)
		}
		// Default projection of products: _id, sku, slug.
		a = ts.public("GET", "/v1/products.json?limit=1")
		if r := a.body["result"].([]any)[0].(map[string]any); r["name"] != nil || r["sku"] == nil {
			t.Errorf("default products projection: %v", r)
		}
		count := func(query string) int {
			t.Helper()
			a := ts.public("GET", "/v1/products.json?"+query)
			mustStatus(t, query, a, 200)
			return int(a.body["meta"].(map[string]any)["count"].(float64))
		}
		checks := []struct {
			query string
			want  int
		}{
			{"price>=50", 8}, {"price%3E=50", 8}, {"price<=30", 3}, {"price%3C=30&price>=20", 2},
			{"price!=10", 12}, {"price=10,20,30", 3}, {"sku=list-03", 1}, {"sku!=list-03,list-04", 11},
			{"name%=blue", 6}, {"name%25=BLUE", 6}, {"name%=.*", 6}, {"name%=(2.", 1},
			{"categories._id=" + cat, 6}, {"categories.name=Hats", 6},
			{"available=true", 13}, {"available=false", 0}, {"quantity>=12", 1},
			{"sku=100", 1}, {"mpn=42", 1}, {"nothing.at.all=1", 0}, {"_=12345", 13},
		}
		for _, c := range checks {
			if got := count(c.query); got != c.want {
				t.Errorf("?%s: count %d, want %d", c.query, got, c.want)
			}
		}
		q := ts.public("GET", "/v1/products.json?price>=50&name%=blue").body["meta"].(map[string]any)["query"]
		if fmt.Sprint(q) != "map[name:map[$options:i $regex:blue] price:map[$gte:50]]" {
			t.Errorf("meta.query: %v", q)
		}
	})
}

func TestSubresources(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		id := ts.create("products", product("sub-1", 10))
		base := "/v1/products/" + id
		var vids []string
		for i := 0; i < 3; i++ {
			a := ts.admin("POST", base+"/variations.json", variation(fmt.Sprint("V", i), i))
			mustStatus(t, "POST variation", a, 201)
			vids = append(vids, a.body["_id"].(string))
		}
		list := ts.public("GET", base+"/variations.json?sort=-quantity&limit=2")
		mustStatus(t, "GET variations", list, 200)
		if list.body["meta"].(map[string]any)["count"].(float64) != 3 || len(list.body["result"].([]any)) != 2 {
			t.Fatalf("variations list: %s", list.raw)
		}
		if list.body["result"].([]any)[0].(map[string]any)["_id"] != vids[2] {
			t.Errorf("variations sort: %s", list.raw)
		}
		one := ts.public("GET", base+"/variations/"+vids[1]+".json")
		if one.body["name"] != "V1" {
			t.Errorf("GET variation: %s", one.raw)
		}
		mustStatus(t, "PATCH variation", ts.admin("PATCH", base+"/variations/"+vids[1]+".json", map[string]any{"name": "W1"}), 204)
		mustStatus(t, "variation quantity", ts.admin("PUT", base+"/variations/"+vids[1]+"/quantity.json", map[string]any{"quantity": 77}), 204)
		one = ts.public("GET", base+"/variations/"+vids[1]+".json")
		if one.body["name"] != "W1" || one.body["quantity"].(float64) != 77 || one.body["_id"] != vids[1] {
			t.Errorf("after PATCH: %s", one.raw)
		}
		mustStatus(t, "DELETE variation", ts.admin("DELETE", base+"/variations/"+vids[0]+".json", nil), 204)
		checkErrorBody(t, "GET deleted variation", ts.public("GET", base+"/variations/"+vids[0]+".json"), 404, -44)
		// quantity and price shortcuts.
		mustStatus(t, "PUT quantity", ts.admin("PUT", base+"/quantity.json", map[string]any{"quantity": 9}), 204)
		mustStatus(t, "PUT price", ts.admin("PUT", base+"/price.json", map[string]any{"price": 8, "base_price": 12}), 204)
		checkErrorBody(t, "PUT price extra", ts.admin("PUT", base+"/price.json", map[string]any{"price": 8, "sku": "x"}), 400, nil)
		checkErrorBody(t, "PUT quantity invalid", ts.admin("PUT", base+"/quantity.json", map[string]any{"quantity": -5}), 400, -12)
		p := ts.public("GET", base+".json").body
		if p["quantity"].(float64) != 9 || p["price"].(float64) != 8 || p["base_price"].(float64) != 12 {
			t.Errorf("shortcuts: %v", p)
		}
		if q := ts.public("GET", base+"/quantity.json"); q.body["quantity"].(float64) != 9 {
			t.Errorf("GET quantity: %s", q.raw)
		}
		checkErrorBody(t, "POST variation unauthenticated", ts.do(req{method: "POST", path: base + "/variations.json",
			store: 1000, body: variation("x", 1)}), 401, nil)
		checkErrorBody(t, "POST invalid variation", ts.admin("POST", base+"/variations.json", map[string]any{"name": 5}), 400, -12)

		// An object property: applications/<id>/data, read and PATCHed as a whole.
		app := ts.create("applications", map[string]any{"app_id": 1234, "title": "App", "state": "active",
			"version": "1.0.0", "type": "external", "hidden_data": map[string]any{"secret": "s3"}})
		mustStatus(t, "PATCH data", ts.admin("PATCH", "/v1/applications/"+app+"/data.json", map[string]any{"a": 1, "b": 2}), 204)
		mustStatus(t, "PATCH data", ts.admin("PATCH", "/v1/applications/"+app+"/data.json", map[string]any{"a": nil, "c": 3}), 204)
		data := ts.public("GET", "/v1/applications/"+app+"/data.json")
		if fmt.Sprint(data.body) != "map[b:2 c:3]" {
			t.Errorf("applications data: %s", data.raw)
		}
		checkErrorBody(t, "public hidden_data", ts.public("GET", "/v1/applications/"+app+"/hidden_data.json"), 401, nil)
		if h := ts.admin("GET", "/v1/applications/"+app+"/hidden_data.json", nil); h.body["secret"] != "s3" {
			t.Errorf("admin hidden_data: %s", h.raw)
		}
		if pub := ts.public("GET", "/v1/applications/"+app+".json"); pub.body["hidden_data"] != nil || pub.body["title"] != "App" {
			t.Errorf("public application: %s", pub.raw)
		}
	})
}

func TestPrivacyAndPermissions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		pid := ts.create("products", map[string]any{"sku": "priv", "name": "P",
			"hidden_metafields": []any{map[string]any{"_id": "5f0000000000000000000009", "field": "cost", "value": "secret"}}})
		if a := ts.public("GET", "/v1/products/"+pid+".json"); a.body["hidden_metafields"] != nil || a.body["sku"] != "priv" {
			t.Errorf("public product shows hidden_metafields: %s", a.raw)
		}
		if a := ts.admin("GET", "/v1/products/"+pid+".json", nil); a.body["hidden_metafields"] == nil {
			t.Errorf("admin product lacks hidden_metafields: %s", a.raw)
		}
		checkErrorBody(t, "public filter on hidden", ts.public("GET", "/v1/products.json?hidden_metafields.value=secret"), 401, nil)
		cid := ts.create("customers", map[string]any{"main_email": "ana@example.com", "display_name": "Ana",
			"name": map[string]any{"given_name": "Ana"}, "doc_number": "12345678901",
			"staff_notes": "vip", "phones": []any{map[string]any{"number": "5511999999999"}}})
		pub := ts.public("GET", "/v1/customers/"+cid+".json")
		mustStatus(t, "public customer", pub, 200)
		for _, secret := range []string{"ana@example.com", "Ana", "12345678901", "vip", "5511999999999"} {
			if strings.Contains(string(pub.raw), secret) {
				t.Errorf("public customer shows %q: %s", secret, pub.raw)
			}
		}
		for _, r := range []string{"customers", "carts", "orders", "applications", "authentications", "triggers", "procedures"} {
			checkErrorBody(t, "public list of "+r, ts.public("GET", "/v1/"+r+".json"), 401, nil)
			mustStatus(t, "admin list of "+r, ts.admin("GET", "/v1/"+r+".json", nil), 200)
		}
		oid := ts.create("orders", map[string]any{"amount": map[string]any{"total": 10},
			"buyers":     []any{map[string]any{"_id": "5f0000000000000000000002", "main_email": "buyer@example.com"}},
			"browser_ip": "10.1.2.3", "staff_notes": "fraud?"})
		if a := ts.public("GET", "/v1/orders/"+oid+".json"); strings.Contains(string(a.raw), "buyer@example.com") ||
			strings.Contains(string(a.raw), "10.1.2.3") || strings.Contains(string(a.raw), "fraud") {
			t.Errorf("public order shows private data: %s", a.raw)
		}
		store := ts.public("GET", "/v1/stores/me.json")
		mustStatus(t, "stores/me", store, 200)
		if store.body["store_id"].(float64) != 1000 || store.body["financial_email"] != nil || store.body["doc_number"] != nil {
			t.Errorf("public stores/me: %s", store.raw)
		}

		// A limited authentication: may read and PATCH products, nothing else.
		authID := ts.create("authentications", map[string]any{"username": "clerk", "email": "clerk@example.com",
			"pass_md5_hash": md5hex("clerk-pass"), "permissions": map[string]any{"products": []any{"GET", "PATCH"}}})
		if a := ts.admin("GET", "/v1/authentications/"+authID+".json", nil); strings.Contains(string(a.raw), md5hex("clerk-pass")) {
			t.Errorf("authentication document shows the password hash: %s", a.raw)
		}
		clerk := ts.login(1000, "clerk", "clerk-pass")
		as := func(method, path string, body any) answer {
			return ts.do(req{method: method, path: path, store: 1000, token: clerk, myID: authID, body: body})
		}
		mustStatus(t, "clerk PATCH product", as("PATCH", "/v1/products/"+pid+".json", map[string]any{"name": "Q"}), 204)
		checkErrorBody(t, "clerk POST product", as("POST", "/v1/products.json", product("clerk-1", 1)), 401, 103)
		checkErrorBody(t, "clerk DELETE product", as("DELETE", "/v1/products/"+pid+".json", nil), 401, 103)
		checkErrorBody(t, "clerk customers list", as("GET", "/v1/customers.json", nil), 401, 103)
		checkErrorBody(t, "clerk with admin id", ts.do(req{method: "GET", path: "/v1/customers.json", store: 1000, token: clerk}), 401, 102)
		// Changing the password through the API logs in with the new one only.
		mustStatus(t, "new password", ts.admin("PATCH", "/v1/authentications/"+authID+".json",
			map[string]any{"pass_md5_hash": md5hex("second-pass")}), 204)
		checkErrorBody(t, "old password", ts.do(req{method: "POST", path: "/v1/_login.json", store: 1000,
			body: map[string]any{"username": "clerk", "pass_md5_hash": md5hex("clerk-pass")}}), 401, 102)
		ts.login(1000, "clerk", "second-pass")
		// Deleting the authentication ends its tokens.
		mustStatus(t, "DELETE authentication", ts.admin("DELETE", "/v1/authentications/"+authID+".json", nil), 204)
		checkErrorBody(t, "token of a deleted authentication", as("GET", "/v1/products.json", nil), 401, 102)
	})
}

func TestTenantIsolation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		type tenant struct {
			id    int64
			token string
			myID  string
			doc   string
		}
		var tenants []tenant
		for i := int64(0); i < 6; i++ {
			var tn tenant
			if i == 0 {
				tn = tenant{id: 1000, token: ts.token, myID: ts.boot.AuthenticationID}
			} else {
				b, token := ts.createStore(2000 + i)
				tn = tenant{id: b.StoreID, token: token, myID: b.AuthenticationID}
			}
			a := ts.do(req{method: "POST", path: "/v1/products.json", store: tn.id, token: tn.token, myID: tn.myID,
				body: product("same-sku", float64(i))})
			mustStatus(t, "POST in tenant", a, 201)
			tn.doc = a.body["_id"].(string)
			tenants = append(tenants, tn)
		}
		for _, a := range tenants {
			as := func(method, path string, store int64, body any) answer {
				return ts.do(req{method: method, path: path, store: store, token: a.token, myID: a.myID, body: body})
			}
			list := as("GET", "/v1/products.json?sku=same-sku", a.id, nil)
			if list.body["meta"].(map[string]any)["count"].(float64) != 1 {
				t.Errorf("store %d sees %s", a.id, list.raw)
			}
			for _, b := range tenants {
				if a.id == b.id {
					continue
				}
				// A's token with B's header: refused.
				checkErrorBody(t, "token of another store", as("GET", "/v1/products.json", b.id, nil), 401, 102)
				// A's token and store, B's document: not found, for every verb and form.
				path := "/v1/products/" + b.doc + ".json"
				checkErrorBody(t, "GET other", as("GET", path, a.id, nil), 404, -44)
				checkErrorBody(t, "PATCH other", as("PATCH", path, a.id, map[string]any{"name": "x"}), 404, -44)
				checkErrorBody(t, "PUT other", as("PUT", path, a.id, product("zz", 1)), 404, -44)
				checkErrorBody(t, "DELETE other", as("DELETE", path, a.id, nil), 404, -44)
				checkErrorBody(t, "POST sub other", as("POST", "/v1/products/"+b.doc+"/variations.json", a.id, variation("v", 1)), 404, -44)
				checkErrorBody(t, "PUT quantity other", as("PUT", "/v1/products/"+b.doc+"/quantity.json", a.id, map[string]any{"quantity": 1}), 404, -44)
				checkErrorBody(t, "path form other", ts.do(req{method: "GET", path: fmt.Sprintf("/%d/v1/products/%s.json", a.id, b.doc)}), 404, -44)
			}
		}
		// Every document is intact after the attempts.
		for i, tn := range tenants {
			a := ts.do(req{method: "GET", path: "/v1/products/" + tn.doc + ".json", store: tn.id})
			if a.body["name"] != "Product same-sku" || a.body["price"].(float64) != float64(i) {
				t.Errorf("store %d document changed: %s", tn.id, a.raw)
			}
		}
	})
}

func TestConcurrentPatches(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		app := ts.create("applications", map[string]any{"app_id": 1001, "title": "A", "version": "1.0.0", "type": "external"})
		pid := ts.create("products", product("conc", 1))
		// Five items of one array, each patched ten times at once (an item takes 20 specifications).
		var vids []string
		for i := 0; i < 5; i++ {
			vids = append(vids, ts.admin("POST", "/v1/products/"+pid+"/variations.json", variation("v", i)).body["_id"].(string))
		}
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan string, 3*n)
		for i := 0; i < n; i++ {
			wg.Add(3)
			go func() {
				defer wg.Done()
				a := ts.admin("PATCH", "/v1/applications/"+app+"/data.json", map[string]any{fmt.Sprint("k", i): i})
				if a.status != 204 {
					errs <- fmt.Sprintf("PATCH data %d: %d %s", i, a.status, a.raw)
				}
			}()
			go func() {
				defer wg.Done()
				a := ts.admin("POST", "/v1/products/"+pid+"/variations.json", variation(fmt.Sprint("n", i), i))
				if a.status != 201 {
					errs <- fmt.Sprintf("POST variation %d: %d %s", i, a.status, a.raw)
				}
			}()
			go func() {
				defer wg.Done()
				a := ts.admin("PATCH", "/v1/products/"+pid+"/variations/"+vids[i%5]+".json",
					map[string]any{"specifications": map[string]any{fmt.Sprint("s", i): []any{map[string]any{"text": "x"}}}})
				if a.status != 204 {
					errs <- fmt.Sprintf("PATCH variation %d: %d %s", i, a.status, a.raw)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		data := ts.admin("GET", "/v1/applications/"+app+"/data.json", nil).body
		if len(data) != n {
			t.Errorf("after %d concurrent PATCHes data has %d keys", n, len(data))
		}
		vars := ts.admin("GET", "/v1/products/"+pid+"/variations.json", nil)
		if c := vars.body["meta"].(map[string]any)["count"].(float64); c != n+5 {
			t.Errorf("after %d concurrent POSTs: %v variations, want %d", n, c, n+5)
		}
		specs := 0
		for _, vid := range vids {
			v := ts.admin("GET", "/v1/products/"+pid+"/variations/"+vid+".json", nil)
			s, _ := v.body["specifications"].(map[string]any)
			specs += len(s) - 1 // each item was created with "size"
		}
		if specs != n {
			t.Errorf("after %d concurrent item PATCHes: %d specifications, want %d", n, specs, n)
		}
	})
}

func TestOrderNumbers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		order := func(body map[string]any) float64 {
			t.Helper()
			id := ts.create("orders", body)
			return ts.admin("GET", "/v1/orders/"+id+".json", nil).body["number"].(float64)
		}
		amount := map[string]any{"total": 1}
		if n := order(map[string]any{"amount": amount}); n != 1 {
			t.Errorf("first order number %v, want 1", n)
		}
		if n := order(map[string]any{"amount": amount, "number": 500}); n != 500 {
			t.Errorf("a client's number was replaced: %v", n)
		}
		if n := order(map[string]any{"amount": amount}); n != 2 {
			t.Errorf("second numbered order %v, want 2", n)
		}
		// Concurrent orders never share a number.
		var wg sync.WaitGroup
		numbers := make(chan float64, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				numbers <- order(map[string]any{"amount": amount})
			}()
		}
		wg.Wait()
		close(numbers)
		seen := map[float64]bool{}
		for n := range numbers {
			if seen[n] || n < 3 || n > 22 {
				t.Errorf("concurrent order number %v repeated or out of 3..22", n)
			}
			seen[n] = true
		}
		// Another store counts on its own.
		b, token := ts.createStore(5001)
		a := ts.do(req{method: "POST", path: "/v1/orders.json", store: b.StoreID, token: token, myID: b.AuthenticationID,
			body: map[string]any{"amount": amount}})
		mustStatus(t, "order in another store", a, 201)
		got := ts.do(req{method: "GET", path: "/v1/orders/" + a.body["_id"].(string) + ".json", store: b.StoreID, token: token, myID: b.AuthenticationID})
		if got.body["number"].(float64) != 1 {
			t.Errorf("another store's first order: %s", got.raw)
		}
	})
}
