package server

import (
	"fmt"
	"strings"
	"testing"

	"storeapi/schemas"
)

func TestTriggersRecorded(t *testing.T) {
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		id := ts.create("products", product("trig", 1))
		mustStatus(t, "PATCH", ts.admin("PATCH", "/v1/products/"+id+".json", map[string]any{"price": 2, "name": "N"}), 204)
		v := ts.admin("POST", "/v1/products/"+id+"/variations.json", variation("v", 1))
		vid := v.body["_id"].(string)
		mustStatus(t, "PUT variation quantity", ts.admin("PUT", "/v1/products/"+id+"/variations/"+vid+"/quantity.json", map[string]any{"quantity": 3}), 204)
		mustStatus(t, "DELETE variation", ts.admin("DELETE", "/v1/products/"+id+"/variations/"+vid+".json", nil), 204)
		mustStatus(t, "DELETE", ts.admin("DELETE", "/v1/products/"+id+".json", nil), 204)
		// Writes that were refused record nothing.
		ts.admin("PATCH", "/v1/products/"+id+".json", map[string]any{"price": 3})
		ts.admin("POST", "/v1/products.json", map[string]any{"sku": 1})
		// A secret never lands in a trigger.
		ts.create("authentications", map[string]any{"username": "trigger", "email": "t@example.com", "pass_md5_hash": md5hex("pw")})

		list := ts.admin("GET", "/v1/triggers.json?resource=products&sort=datetime&fields=method,action,resource_id,subresource,subresource_id,inserted_id,fields,authentication_id,body&limit=100", nil)
		mustStatus(t, "GET triggers", list, 200)
		got := []string{}
		for _, r := range list.body["result"].([]any) {
			tr := r.(map[string]any)
			got = append(got, fmt.Sprint(tr["method"], " ", tr["action"], " ", tr["subresource"]))
			if tr["resource_id"] != id || tr["authentication_id"] != ts.boot.AuthenticationID {
				t.Errorf("trigger ids: %v", tr)
			}
		}
		want := []string{"POST create <nil>", "PATCH change <nil>", "POST create variations", "PUT change variations", "DELETE delete variations", "DELETE delete <nil>"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("triggers:\n got %v\nwant %v", got, want)
		}
		patch := list.body["result"].([]any)[1].(map[string]any)
		if fmt.Sprint(patch["fields"]) != "[name price]" || patch["body"].(map[string]any)["price"].(float64) != 2 {
			t.Errorf("PATCH trigger fields/body: %v", patch)
		}
		if list.body["result"].([]any)[2].(map[string]any)["inserted_id"] != vid {
			t.Errorf("variation trigger inserted_id")
		}
		auths := ts.admin("GET", "/v1/triggers.json?resource=authentications&fields=body", nil)
		if strings.Contains(string(auths.raw), md5hex("pw")) || !strings.Contains(string(auths.raw), "trigger") {
			t.Errorf("authentication trigger: %s", auths.raw)
		}
		// Every stored trigger validates against the triggers schema.
		all := ts.admin("GET", "/v1/triggers.json?fields=datetime,authentication_id,method,action,resource,resource_id,subresource,subresource_id,fields,inserted_id,body,store_id,created_at,updated_at", nil)
		for _, r := range all.body["result"].([]any) {
			if err := set.Validate("triggers", r); err != nil {
				t.Errorf("stored trigger does not validate: %v: %v", err, r)
			}
		}
		checkErrorBody(t, "public triggers", ts.public("GET", "/v1/triggers.json"), 401, nil)
		checkErrorBody(t, "PATCH a trigger", ts.admin("PATCH", "/v1/triggers/"+patch["_id"].(string)+".json", map[string]any{}), 405, -30)
		// A fake trigger is created like a real one and marked.
		fake := ts.admin("POST", "/v1/triggers.json", map[string]any{"method": "PATCH", "action": "change", "resource": "orders",
			"resource_id": "5f0000000000000000000001", "fields": []any{"status"}})
		mustStatus(t, "POST fake trigger", fake, 201)
		if got := ts.admin("GET", "/v1/triggers/"+fake.body["_id"].(string)+".json", nil); got.body["fake"] != true || got.body["resource"] != "orders" {
			t.Errorf("fake trigger: %s", got.raw)
		}
	})
}

func TestCountAndAggregate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *testServer) {
		for i := 1; i <= 6; i++ {
			p := product(fmt.Sprint("agg-", i), float64(i*10))
			p["brands"] = []any{map[string]any{"_id": "5f0000000000000000000001", "name": []string{"odd", "even"}[i%2]}}
			ts.create("products", p)
		}
		other, token := ts.createStore(4001)
		mustStatus(t, "other store product", ts.do(req{method: "POST", path: "/v1/products.json", store: other.StoreID,
			token: token, myID: other.AuthenticationID, body: product("agg-1", 1000)}), 201)

		count := func(body any) answer { return ts.admin("POST", "/v1/$count.json", body) }
		if a := count(map[string]any{"resource": "products"}); a.body["count"].(float64) != 6 {
			t.Errorf("$count all: %s", a.raw)
		}
		if a := count(map[string]any{"resource": "products", "query": "price>=30&sku!=agg-6"}); a.body["count"].(float64) != 3 {
			t.Errorf("$count query string: %s", a.raw)
		}
		if a := count(map[string]any{"resource": "products", "query": map[string]any{"sku": "agg-1"}}); a.body["count"].(float64) != 1 {
			t.Errorf("$count query object: %s", a.raw)
		}
		checkErrorBody(t, "$count operator", count(map[string]any{"resource": "products", "query": "price[$gt]=1"}), 400, -13)
		checkErrorBody(t, "$count unknown resource", count(map[string]any{"resource": "nope"}), 400, -13)
		checkErrorBody(t, "$count public", ts.do(req{method: "POST", path: "/v1/$count.json", store: 1000, body: map[string]any{"resource": "products"}}), 401, nil)

		agg := func(pipeline ...map[string]any) answer {
			return ts.admin("POST", "/v1/$aggregate.json", map[string]any{"resource": "products", "pipeline": pipeline})
		}
		a := agg(map[string]any{"$match": map[string]any{"price": map[string]any{"$gte": 20}}},
			map[string]any{"$group": map[string]any{"_id": nil, "total": map[string]any{"$sum": "$price"}}})
		mustStatus(t, "$aggregate", a, 200)
		res := a.body["result"].([]any)
		if len(res) != 1 || res[0].(map[string]any)["total"].(float64) != 200 {
			t.Errorf("$aggregate sum (other store's 1000 must not count): %s", a.raw)
		}
		a = agg(map[string]any{"$unwind": "$brands"}, map[string]any{"$group": map[string]any{"_id": "$brands.name", "n": map[string]any{"$sum": 1}}},
			map[string]any{"$sort": map[string]any{"_id": 1}})
		if fmt.Sprint(a.body["result"]) != "[map[_id:even n:3] map[_id:odd n:3]]" {
			t.Errorf("$aggregate unwind/group/sort: %s", a.raw)
		}
		if a := agg(map[string]any{"$count": "n"}); fmt.Sprint(a.body["result"]) != "[map[n:6]]" {
			t.Errorf("$aggregate $count: %s", a.raw)
		}
		for _, bad := range []map[string]any{
			{"$lookup": map[string]any{"from": "customers"}},
			{"$out": "x"},
			{"$merge": "x"},
			{"$match": map[string]any{"$where": "1"}},
			{"$group": map[string]any{"_id": nil, "x": map[string]any{"$function": map[string]any{}}}},
		} {
			a := agg(bad)
			checkErrorBody(t, fmt.Sprint("refused ", bad), a, 400, nil)
			for k := range bad {
				if !strings.Contains(a.body["message"].(string), "$") {
					t.Errorf("refusal of %s does not name it: %s", k, a.raw)
				}
			}
		}
	})
}
