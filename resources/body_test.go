package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"storeapi/apierror"
	"storeapi/schemas"
)

// testEngine is an Engine with the real schemas and no store, for the body pipeline.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{schemas: set, rules: map[string]*Rule{}}
}

func TestMergePatch(t *testing.T) {
	cases := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, c := range cases {
		var target, patch any
		_ = json.Unmarshal([]byte(c.target), &target)
		_ = json.Unmarshal([]byte(c.patch), &patch)
		got, _ := json.Marshal(mergePatch(target, patch))
		if string(got) != c.want {
			t.Errorf("merge %s with %s: got %s want %s", c.target, c.patch, got, c.want)
		}
	}
}

func TestPublicView(t *testing.T) {
	var orders Rule
	for _, r := range DefaultRules() {
		if r.Name == "orders" {
			orders = r
		}
	}
	var doc map[string]any
	_ = json.Unmarshal([]byte(`{"_id":"x","buyers":[{"name":"a"}],"shipping_lines":[{"to":{"zip":"1"},"price":5}],"amount":{"total":1}}`), &doc)
	got, _ := json.Marshal(orders.publicView(doc))
	if string(got) != `{"_id":"x","amount":{"total":1},"shipping_lines":[{"price":5}]}` {
		t.Errorf("public order view: %s", got)
	}
	if _, ok := doc["buyers"]; !ok {
		t.Errorf("publicView changed the stored document")
	}
	for path, want := range map[string]bool{"amount.total": true, "buyers": false, "buyers.name": false, "shipping_lines": false, "shipping_lines.price": true} {
		if orders.publicPath(path) != want {
			t.Errorf("publicPath(%q) = %v, want %v", path, !want, want)
		}
	}
}

// FuzzBodyPipeline feeds arbitrary bodies through what every write does to a body:
// decode, drop server fields, ids, defaults, validation. It must never panic, and what
// it accepts must be a JSON object that validates.
func FuzzBodyPipeline(f *testing.F) {
	for _, seed := range []string{`{"sku":"abc","name":"n"}`, `{"sku":"ab","name":"x","variations":[{"name":"v","specifications":{"size":[{"text":"M"}]}}]}`,
		`[]`, `"x"`, `{"price":1e400}`, `{"sku":"ab","name":"n","price":-0}`, `{`, `{"a":{"b":{"c":[null]}}}`, `{"_id":"zz","store_id":"x"}`} {
		f.Add(seed)
	}
	e := testEngine(f)
	f.Fuzz(func(t *testing.T, body string) {
		doc, err := decodeObject([]byte(body))
		if err != nil {
			var ae *apierror.Error
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("decode error is not a 400: %v", err)
			}
			return
		}
		dropServerFields(doc)
		if _, err := e.prepare(&Rule{Name: "products"}, doc); err != nil {
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("prepare error is not a validation error: %v", err)
			}
			return
		}
		if err := e.schemas.Validate("products", doc); err != nil {
			t.Fatalf("accepted document does not validate again: %v", err)
		}
		if _, err := json.Marshal(doc); err != nil {
			t.Fatalf("accepted document does not encode: %v", fmt.Sprint(err))
		}
	})
}
