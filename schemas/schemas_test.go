package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"storeapi/apierror"
)

// fe is a FieldError written positionally in test tables.
type fe struct{ Path, Reason string }

// fields converts validation fields to comparable test values.
func fields(fs []apierror.FieldError) []fe {
	out := make([]fe, len(fs))
	for i, f := range fs {
		out[i] = fe(f)
	}
	return out
}

// loadSet compiles the schemas once per test binary run (Load is what main calls once).
func loadSet(t testing.TB) *Set {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// decode decodes JSON as the server does: numbers as json.Number.
func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func decodeMap(t testing.TB, s string) map[string]any {
	t.Helper()
	m, ok := decode(t, s).(map[string]any)
	if !ok {
		t.Fatalf("not an object: %s", s)
	}
	return m
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var allResources = []string{
	"applications", "authentications", "brands", "carts", "categories", "collections",
	"customers", "grids", "orders", "procedures", "products", "stores", "triggers",
}

var allSubresources = []string{
	"applications_data", "applications_hidden_data", "brands_i18n", "carts_items",
	"products_brands", "products_categories", "products_customizations", "products_grids",
}

func TestLoad(t *testing.T) {
	s := loadSet(t)
	if got := s.Resources(); !slices.Equal(got, allResources) {
		t.Errorf("Resources() = %v, want %v", got, allResources)
	}
	s.Resources()[0] = "changed"
	if s.Resources()[0] != "applications" {
		t.Error("Resources() shares its slice with the Set")
	}
	for _, name := range append(slices.Clone(allResources), allSubresources...) {
		if !s.Has(name) {
			t.Errorf("Has(%q) = false", name)
			continue
		}
		raw := s.Raw(name)
		if want := readFile(t, name+".json"); string(raw) != want {
			t.Errorf("Raw(%q) is not the file", name)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Errorf("Raw(%q): %v", name, err)
			continue
		}
		if doc["$schema"] != "http://json-schema.org/draft-06/schema#" {
			t.Errorf("%s: $schema = %v", name, doc["$schema"])
		}
		for _, k := range []string{"title", "description"} {
			if v, _ := doc[k].(string); v == "" {
				t.Errorf("%s: no %s", name, k)
			}
		}
		if !slices.Contains(allResources, name) {
			continue
		}
		props, _ := doc["properties"].(map[string]any)
		required, _ := doc["required"].([]any)
		for _, k := range []string{"_id", "store_id", "created_at", "updated_at"} {
			if _, ok := props[k]; !ok {
				t.Errorf("%s: server property %s is not allowed", name, k)
			}
			if slices.Contains(required, any(k)) {
				t.Errorf("%s: server property %s is required", name, k)
			}
		}
	}
	for _, name := range []string{"", "nope", "products_variations", "../products", "products.json"} {
		if s.Has(name) || s.Raw(name) != nil {
			t.Errorf("Has/Raw(%q) know an unknown schema", name)
		}
		if err := s.Validate(name, map[string]any{}); err == nil || errors.As(err, new(*ValidationError)) {
			t.Errorf("Validate(%q) = %v, want a plain error", name, err)
		}
	}
	raw := s.Raw("products")
	raw[0] = 'X'
	if s.Raw("products")[0] == 'X' {
		t.Error("Raw shares its bytes with the Set")
	}
}

func TestValidFixtures(t *testing.T) {
	s := loadSet(t)
	for _, name := range append(slices.Clone(allResources), allSubresources...) {
		t.Run(name, func(t *testing.T) {
			body := readFile(t, filepath.Join("testdata", "valid", name+".json"))
			if err := s.Validate(name, decode(t, body)); err != nil {
				t.Fatalf("as sent: %v", err)
			}
			doc := decodeMap(t, body)
			s.ApplyDefaults(name, doc)
			if err := s.Validate(name, doc); err != nil {
				t.Fatalf("with defaults: %v", err)
			}
			if !slices.Contains(allResources, name) {
				return
			}
			// A stored document (server fields added) re-validates.
			doc["_id"] = "6543210fedcba98765432100"
			doc["store_id"] = json.Number("1000")
			doc["created_at"] = "2026-11-23T12:00:00.000Z"
			doc["updated_at"] = "2026-11-23T12:00:00.000Z"
			if err := s.Validate(name, doc); err != nil {
				t.Fatalf("stored: %v", err)
			}
		})
	}
	t.Run("products_full", func(t *testing.T) {
		doc := decodeMap(t, readFile(t, "testdata/products_full.json"))
		s.ApplyDefaults("products", doc)
		if err := s.Validate("products", doc); err != nil {
			t.Fatal(err)
		}
	})
}

func TestValidateErrors(t *testing.T) {
	s := loadSet(t)
	long := strings.Repeat("x", 256)
	tests := []struct {
		name   string
		schema string
		body   string
		want   []fe
	}{
		{"missing required", "products", `{}`, []fe{
			{"", "required property 'name' is missing"},
			{"", "required property 'sku' is missing"},
		}},
		{"additional property", "products", `{"sku":"ab","name":"n","foo":1,"bar":{}}`, []fe{
			{"", "additional property 'bar' is not allowed"},
			{"", "additional property 'foo' is not allowed"},
		}},
		{"maxLength", "products", `{"sku":"ab","name":"` + long + `"}`, []fe{
			{"name", "must be at most 255 characters long"},
		}},
		{"minLength", "products", `{"sku":"a","name":"n"}`, []fe{
			{"sku", "must be at least 2 characters long"},
		}},
		{"pattern", "products", `{"sku":"a b","name":"n"}`, []fe{
			{"sku", "must match the pattern ^[A-Za-z0-9-_.]+$"},
		}},
		{"enum", "products", `{"sku":"ab","name":"n","condition":"broken"}`, []fe{
			{"condition", `must be one of "new", "refurbished", "used", "not_specified"`},
		}},
		{"minimum", "products", `{"sku":"ab","name":"n","price":-1}`, []fe{
			{"price", "must be >= 0"},
		}},
		{"maximum in an array item", "products",
			`{"sku":"ab","name":"n","variations":[` + strings.Repeat(`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},`, 3) +
				`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","price":1000000000,"specifications":{"size":[{"text":"M"}]}}]}`,
			[]fe{{"variations.3.price", "must be <= 999999999"}}},
		{"wrong type", "products", `{"sku":"ab","name":5}`, []fe{
			{"name", "must be a string, not a number"},
		}},
		{"wrong root type", "products", `[1]`, []fe{
			{"", "must be an object, not an array"},
		}},
		{"null root", "products", `null`, []fe{
			{"", "must be an object, not null"},
		}},
		{"integer", "products", `{"sku":"ab","name":"n","ad_relevance":1.5}`, []fe{
			{"ad_relevance", "must be an integer"},
		}},
		{"integer written with a fraction", "products", `{"sku":"ab","name":"n","ad_relevance":1.0}`, nil},
		{"string or null", "triggers", `{"datetime":"2026-11-23T12:00:00Z","method":"POST","action":"create","resource":"products","authentication_id":5}`, []fe{
			{"authentication_id", "must be a string or null, not a number"},
		}},
		{"format uri", "products", `{"sku":"ab","name":"n","permalink":"not a uri"}`, []fe{
			{"permalink", "must be an absolute URI"},
		}},
		{"format date-time", "products", `{"sku":"ab","name":"n","price_effective_date":{"start":"yesterday"}}`, []fe{
			{"price_effective_date.start", "must be a date-time as RFC 3339 writes it (2006-01-02T15:04:05.000Z)"},
		}},
		{"format email", "customers", `{"main_email":"nobody","display_name":"A"}`, []fe{
			{"main_email", "must be a valid e-mail address"},
		}},
		{"uniqueItems", "products", `{"sku":"ab","name":"n","keywords":["a","b","a"]}`, []fe{
			{"keywords", "must not contain duplicate items (items 0 and 2 are equal)"},
		}},
		{"maxItems", "products", `{"sku":"ab","name":"n","gtin":["12345678","12345678","12345678","12345678","12345678","12345678","12345678","12345678","12345678","12345678","12345678"]}`, []fe{
			{"gtin", "must have at most 10 items"},
		}},
		{"nested required inside a pattern property", "products", `{"sku":"ab","name":"n","dimensions":{"width":{"unit":"cm"}}}`, []fe{
			{"dimensions.width", "required property 'value' is missing"},
		}},
		{"key not matching patternProperties", "products", `{"sku":"ab","name":"n","i18n":{"english":"x"}}`, []fe{
			{"i18n", "additional property 'english' is not allowed"},
		}},
		{"minProperties", "brands_i18n", `{}`, []fe{
			{"", "must have at least 1 properties"},
		}},
		{"through $ref", "orders", `{"amount":{"total":1},"shipping_lines":[{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","from":{"zip":"1"},"to":{"street":"x"}}]}`, []fe{
			{"shipping_lines.0.to", "required property 'zip' is missing"},
		}},
		{"dependencies", "applications", `{"app_id":1234,"title":"t","version":"1.0.0","type":"external","auth_scope":{"products":["GET"]}}`, []fe{
			{"", "property 'auth_callback_uri' is required when 'auth_scope' is present"},
		}},
		{"auth_scope key refused by the look-ahead rewrite", "applications", `{"app_id":1234,"title":"t","version":"1.0.0","type":"external","auth_callback_uri":"https://a.example.com/cb","auth_scope":{"apps":["GET"],"authentications":["POST"],"$count":["POST"],"orders/payments_history":["all"]}}`, []fe{
			{"auth_scope", "additional property 'apps' is not allowed"},
			{"auth_scope.authentications.0", `must be one of "GET"`},
		}},
		{"permissions", "authentications", `{"username":"admin","permissions":{"*":["all"],"products":["GET","FOO"],"Bad Key":[]}}`, []fe{
			{"permissions", "additional property 'Bad Key' is not allowed"},
			{"permissions.products.1", `must be one of "all", "GET", "POST", "PATCH", "PUT", "DELETE"`},
		}},
		{"server fields checked", "products", `{"sku":"ab","name":"n","_id":"xyz","store_id":"1000","created_at":"today"}`, []fe{
			{"_id", "must match the pattern ^[a-f0-9]{24}$"},
			{"created_at", "must be a date-time as RFC 3339 writes it (2006-01-02T15:04:05.000Z)"},
			{"store_id", "must be an integer, not a string"},
		}},
		{"order of many errors", "products", `{"sku":"ab","name":"n","variations":[` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","price":-1,"specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"bad","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","specifications":{"size":[{"text":"M"}]}},` +
			`{"_id":"5f1b2c3d4e5f6a7b8c9d0e5f","quantity":-5}` +
			`],"price":"free","zzz":1}`, []fe{
			{"", "additional property 'zzz' is not allowed"},
			{"price", "must be a number, not a string"},
			{"variations.1.price", "must be >= 0"},
			{"variations.2._id", "must match the pattern ^[a-f0-9]{24}$"},
			{"variations.10", "required property 'specifications' is missing"},
			{"variations.10.quantity", "must be >= 0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(tt.schema, decode(t, tt.body))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			if ve.Schema != tt.schema {
				t.Errorf("Schema = %q, want %q", ve.Schema, tt.schema)
			}
			if got := fields(ve.Fields); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			// Same answer every time (the validator walks maps in random order).
			for range 20 {
				var again *ValidationError
				if !errors.As(s.Validate(tt.schema, decode(t, tt.body)), &again) || !slices.Equal(again.Fields, ve.Fields) {
					t.Fatalf("not deterministic: %v vs %v", again, ve)
				}
			}
			if !strings.HasPrefix(err.Error(), "schemas: invalid "+tt.schema+" document: ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestValidateNumberForms(t *testing.T) {
	s := loadSet(t)
	base := func(price, relevance any) map[string]any {
		return map[string]any{"sku": "ab", "name": "n", "price": price, "ad_relevance": relevance}
	}
	valid := []struct {
		name            string
		price, relevant any
	}{
		{"json.Number", json.Number("10.5"), json.Number("3")},
		{"float64", 10.5, float64(3)},
		{"int64", int64(10), int64(3)},
		{"int", 10, 3},
		{"uint8", uint8(10), uint8(3)},
		{"float32", float32(10.5), float32(3)},
		{"exponent", json.Number("1.05E1"), json.Number("3e0")},
		{"tiny exponent", json.Number("1e-999999999"), json.Number("0")},
	}
	for _, tt := range valid {
		if err := s.Validate("products", base(tt.price, tt.relevant)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	invalid := []struct {
		name            string
		price, relevant any
		want            []fe
	}{
		{"huge exponent", json.Number("1e999999999"), json.Number("-1e999999999"), []fe{
			{"ad_relevance", "must be >= -128"}, {"price", "must be <= 999999999"}}},
		{"huge integer", json.Number(strings.Repeat("9", 5000)), json.Number("2.5"), []fe{
			{"ad_relevance", "must be an integer"}, {"price", "must be <= 999999999"}}},
		{"float64 over", 1e9, int64(128), []fe{
			{"ad_relevance", "must be <= 127"}, {"price", "must be <= 999999999"}}},
		{"NaN and Inf", math.NaN(), math.Inf(-1), []fe{
			{"ad_relevance", "must be a finite number"}, {"price", "must be a finite number"}}},
		{"not JSON numbers", json.Number("0x10"), json.Number("NaN"), []fe{
			{"ad_relevance", `is not a valid number ("NaN")`}, {"price", `is not a valid number ("0x10")`}}},
		{"Go values", struct{}{}, []string{"a"}, []fe{
			{"ad_relevance", "is not a JSON value ([]string)"}, {"price", "is not a JSON value (struct {})"}}},
	}
	for _, tt := range invalid {
		var ve *ValidationError
		if err := s.Validate("products", base(tt.price, tt.relevant)); !errors.As(err, &ve) {
			t.Errorf("%s: got %v, want a *ValidationError", tt.name, err)
		} else if got := fields(ve.Fields); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, got, tt.want)
		}
	}
	// Validate does not change the document.
	doc := base(1e9, int64(128))
	before := base(1e9, int64(128))
	_ = s.Validate("products", doc)
	if !reflect.DeepEqual(doc, before) {
		t.Errorf("Validate changed the document: %v", doc)
	}
}

func TestApplyDefaults(t *testing.T) {
	s := loadSet(t)
	tests := []struct {
		name   string
		schema string
		in     string
		want   string
	}{
		{"products top level", "products", `{"sku":"ab","name":"n"}`, `{"sku":"ab","name":"n",
			"commodity_type":"physical","available":true,"visible":true,"ad_relevance":0,"currency_id":"BRL",
			"currency_symbol":"R$","manage_stock":true,"condition":"new","adult":false,
			"auto_fill_related_products":true,"views":0,"sales":0}`},
		{"present values kept, nested object filled", "products",
			`{"available":false,"currency_id":"USD","production_time":{"days":2,"cumulative":true}}`,
			`{"available":false,"currency_id":"USD","production_time":{"days":2,"cumulative":true,"working_days":true},
			"commodity_type":"physical","visible":true,"ad_relevance":0,"currency_symbol":"R$","manage_stock":true,
			"condition":"new","adult":false,"auto_fill_related_products":true,"views":0,"sales":0}`},
		{"array items, pattern properties, no parents created", "products",
			`{"variations":[{"production_time":{"days":1},"dimensions":{"width":{"value":1}}},{},"junk"],
			"dimensions":{"height":{"value":2,"unit":"mm"}},"payment_methods":{"5f1b2c3d4e5f6a7b8c9d0e7f":{"installments":{"3":{"value":1}}}}}`,
			`{"variations":[{"production_time":{"days":1,"working_days":true,"cumulative":false},"dimensions":{"width":{"value":1,"unit":"cm"}}},{},"junk"],
			"dimensions":{"height":{"value":2,"unit":"mm"}},"payment_methods":{"5f1b2c3d4e5f6a7b8c9d0e7f":{"installments":{"3":{"value":1,"tax":false}}}},
			"commodity_type":"physical","available":true,"visible":true,"ad_relevance":0,"currency_id":"BRL",
			"currency_symbol":"R$","manage_stock":true,"condition":"new","adult":false,
			"auto_fill_related_products":true,"views":0,"sales":0}`},
		{"cart items", "carts", `{"items":[{"product_id":"5f1b2c3d4e5f6a7b8c9d0e1f","customizations":[{"add_to_price":{"addition":1}}]}],"subtotal":0}`,
			`{"items":[{"product_id":"5f1b2c3d4e5f6a7b8c9d0e1f","customizations":[{"add_to_price":{"addition":1,"type":"percentage"}}],
			"keep_item_quantity":false,"currency_id":"BRL","currency_symbol":"R$","keep_item_price":false}],"subtotal":0,
			"staff_signature":false,"available":true,"completed":false,"other_customers":true}`},
		{"through $ref", "applications", `{"modules":{"calculate_shipping":{"endpoint":"https://a.example.com"}}}`,
			`{"modules":{"calculate_shipping":{"endpoint":"https://a.example.com","enabled":true}},
			"state":"test","paid":false,"authentication":false}`},
		{"null default", "procedures", `{"triggers":[{"resource":"orders"}],"webhooks":[{"api":{"store_api":{}}}]}`,
			`{"triggers":[{"resource":"orders","subresource":null}],
			"webhooks":[{"api":{"store_api":{"endpoint":"/(tr.resource).json","version":"current"}},"send_body":true}]}`},
		{"wrong types left alone", "products", `{"production_time":"soon","variations":{"a":1}}`,
			`{"production_time":"soon","variations":{"a":1},
			"commodity_type":"physical","available":true,"visible":true,"ad_relevance":0,"currency_id":"BRL",
			"currency_symbol":"R$","manage_stock":true,"condition":"new","adult":false,
			"auto_fill_related_products":true,"views":0,"sales":0}`},
		{"subresource body", "carts_items", `{"product_id":"5f1b2c3d4e5f6a7b8c9d0e1f"}`,
			`{"product_id":"5f1b2c3d4e5f6a7b8c9d0e1f","keep_item_quantity":false,"currency_id":"BRL","currency_symbol":"R$","keep_item_price":false}`},
		{"unknown schema", "nope", `{"a":1}`, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := decodeMap(t, tt.in)
			s.ApplyDefaults(tt.schema, doc)
			if want := decodeMap(t, tt.want); !reflect.DeepEqual(doc, want) {
				got, _ := json.Marshal(doc)
				wantJSON, _ := json.Marshal(want)
				t.Errorf("got  %s\nwant %s", got, wantJSON)
			}
			// Applying twice changes nothing more.
			again := decodeMap(t, tt.in)
			s.ApplyDefaults(tt.schema, again)
			s.ApplyDefaults(tt.schema, again)
			if !reflect.DeepEqual(doc, again) {
				t.Error("ApplyDefaults is not idempotent")
			}
		})
	}
	s.ApplyDefaults("products", nil) // must not panic
}

func TestDefaultsAreCopies(t *testing.T) {
	src := map[string]any{"a": []any{map[string]any{"b": json.Number("1")}}}
	c := deepCopy(src).(map[string]any)
	c["a"].([]any)[0].(map[string]any)["b"] = "changed"
	if src["a"].([]any)[0].(map[string]any)["b"] != json.Number("1") {
		t.Fatal("deepCopy shares nested values")
	}
	s := loadSet(t)
	a := map[string]any{"webhooks": []any{map[string]any{"api": map[string]any{"store_api": map[string]any{}}}}}
	s.ApplyDefaults("procedures", a)
	a["webhooks"].([]any)[0].(map[string]any)["api"].(map[string]any)["store_api"].(map[string]any)["version"] = "v1"
	b := map[string]any{"webhooks": []any{map[string]any{"api": map[string]any{"store_api": map[string]any{}}}}}
	s.ApplyDefaults("procedures", b)
	if got := b["webhooks"].([]any)[0].(map[string]any)["api"].(map[string]any)["store_api"].(map[string]any)["version"]; got != "current" {
		t.Fatalf("second document got default %v", got)
	}
}

func TestProperty(t *testing.T) {
	s := loadSet(t)
	tests := []struct {
		schema, prop string
		want         PropertyKind
	}{
		{"products", "variations", PropObjectArray},
		{"products", "pictures", PropObjectArray},
		{"products", "keywords", PropArray},
		{"products", "gtin", PropArray},
		{"products", "dimensions", PropObject},
		{"products", "grids", PropObject},
		{"products", "price", PropScalar},
		{"products", "sku", PropScalar},
		{"products", "_id", PropScalar},
		{"products", "nope", PropNone},
		{"applications", "data", PropObject},
		{"applications", "hidden_data", PropObject},
		{"applications", "modules", PropObject},
		{"carts", "items", PropObjectArray},
		{"customers", "addresses", PropObjectArray},
		{"orders", "payments_history", PropObjectArray},
		{"orders", "shipping_lines", PropObjectArray},
		{"triggers", "authentication_id", PropScalar},
		{"brands_i18n", "en_us", PropNone},
		{"nope", "variations", PropNone},
	}
	for _, tt := range tests {
		if got := s.Property(tt.schema, tt.prop); got != tt.want {
			t.Errorf("Property(%q, %q) = %v, want %v", tt.schema, tt.prop, got, tt.want)
		}
	}
}

func TestItemIDArrays(t *testing.T) {
	s := loadSet(t)
	tests := []struct {
		resource string
		want     []string
	}{
		{"products", []string{"brands", "categories", "customizations", "hidden_metafields", "inventory_records",
			"kit_composition", "metafields", "other_discounts", "other_prices", "pictures", "price_change_records",
			"related_products", "variations"}},
		{"carts", []string{"items", "metafields"}},
		{"customers", []string{"addresses", "credit_cards", "gifts_list", "hidden_metafields", "lists", "metafields",
			"oauth_providers", "orders", "seller_recommendations"}},
		{"orders", []string{"buyers", "fulfillments", "gift_to", "hidden_metafields", "items", "metafields",
			"payments_history", "private_metafields", "shipping_lines", "transactions"}},
		{"stores", nil},
		{"nope", nil},
	}
	for _, tt := range tests {
		if got := s.ItemIDArrays(tt.resource); !slices.Equal(got, tt.want) {
			t.Errorf("ItemIDArrays(%q) =\n  %v\nwant\n  %v", tt.resource, got, tt.want)
		}
	}
}

// TestSchemaFacts spot-checks rows of the field facts in the schema files (the converter
// that wrote them diffs every row; this guards the files against hand edits).
func TestSchemaFacts(t *testing.T) {
	s := loadSet(t)
	tests := []struct {
		schema string
		path   []string // JSON pointer tokens inside the schema
		want   string   // the keyword's value as JSON
	}{
		{"products", []string{"required"}, `["sku","name"]`},
		{"products", []string{"additionalProperties"}, `false`},
		{"products", []string{"properties", "sku", "pattern"}, `"^[A-Za-z0-9-_.]+$"`},
		{"products", []string{"properties", "price", "maximum"}, `999999999`},
		{"products", []string{"properties", "total_sold", "maximum"}, `9999999999`},
		{"products", []string{"properties", "variations", "maxItems"}, `3000`},
		{"products", []string{"properties", "variations", "items", "required"}, `["_id","specifications"]`},
		{"products", []string{"properties", "variations", "items", "properties", "specifications", "minProperties"}, `1`},
		{"products", []string{"properties", "variations", "items", "properties", "gtin", "pattern"}, `"^([0-9]{8}|[0-9]{12,14})$"`},
		{"products", []string{"properties", "measurement", "properties", "unit", "enum"},
			`["oz","lb","mg","g","kg","floz","pt","qt","gal","ml","cl","l","cbm","in","ft","yd","cm","m","sqft","sqm","ct"]`},
		{"products", []string{"properties", "progressive_discount", "patternProperties", "^([2-9]|([1-9][0-9]{1,8}))$", "minimum"}, `-999`},
		{"products", []string{"properties", "specifications", "properties", "colors", "items", "properties", "value", "pattern"}, `"^#[a-f0-9]{6}$"`},
		{"products", []string{"properties", "related_products", "items", "properties", "product_ids", "uniqueItems"}, `true`},
		{"products", []string{"properties", "seller", "properties", "contact_email", "format"}, `"email"`},
		{"orders", []string{"required"}, `["amount"]`},
		{"orders", []string{"properties", "channel_type", "default"}, `"ecommerce"`},
		{"orders", []string{"properties", "amount", "required"}, `["total"]`},
		{"orders", []string{"properties", "shipping_lines", "items", "properties", "from", "$ref"}, `"#/definitions/address"`},
		{"orders", []string{"definitions", "address", "required"}, `["zip"]`},
		{"orders", []string{"definitions", "address", "properties", "phone", "properties", "number", "maxLength"}, `19`},
		{"orders", []string{"properties", "transactions", "items", "properties", "credit_card", "properties", "avs_result_code", "type"}, `["string","null"]`},
		{"orders", []string{"properties", "transactions", "items", "properties", "status", "properties", "current", "default"}, `"pending"`},
		{"orders", []string{"properties", "transactions", "items", "properties", "installments", "properties", "number", "maximum"}, `199`},
		{"orders", []string{"properties", "items", "items", "properties", "picture", "patternProperties", "^(small|normal|big|zoom|custom)$", "required"}, `["url"]`},
		{"applications", []string{"dependencies"}, `{"auth_scope":["auth_callback_uri"]}`},
		{"authentications", []string{"properties", "permissions", "maxProperties"}, `100`},
	}
	for _, tt := range tests {
		var doc any
		if err := json.Unmarshal(s.Raw(tt.schema), &doc); err != nil {
			t.Fatal(err)
		}
		got, ok := lookup(doc, tt.path)
		if !ok {
			t.Errorf("%s %v: missing", tt.schema, tt.path)
			continue
		}
		var want any
		if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %v = %v, want %s", tt.schema, tt.path, got, tt.want)
		}
	}
}

func TestDecodePointer(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"/", nil},
		{"/a/0/b", []string{"a", "0", "b"}},
		{"/a~1b/c~0d", []string{"a/b", "c~d"}},
		{"/%5E%5Ba-z%5D$", []string{"^[a-z]$"}},
		{"/bad%zz", []string{"bad%zz"}},
	}
	for _, tt := range tests {
		if got := decodePointer(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("decodePointer(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzValidate(f *testing.F) {
	s := loadSet(f)
	f.Add([]byte(`{"sku":"ab","name":"n"}`))
	f.Add([]byte(`{"sku":"ab","name":"n","price":1e999999,"variations":[{"_id":"x","price":-1}]}`))
	f.Add([]byte(`{"dimensions":{"width":{"value":"1"},"heightx":{}},"buy_together":[{"this":{}}]}`))
	f.Add([]byte(`[1,2,{"a":null}]`))
	f.Add([]byte(`"text"`))
	f.Add([]byte(`{"i18n":{"en_us":5},"production_time":{"days":1.5},"keywords":["a","a"]}`))
	if b, err := os.ReadFile("testdata/products_full.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return
		}
		if m, ok := v.(map[string]any); ok {
			s.ApplyDefaults("products", m)
		}
		err := s.Validate("products", v)
		if err == nil {
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) == 0 {
			t.Fatalf("got %v, want a *ValidationError with fields", err)
		}
		for _, f := range ve.Fields {
			if f.Reason == "" {
				t.Fatalf("empty reason in %v", ve.Fields)
			}
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateProductsFull(b *testing.B) {
	s := loadSet(b)
	doc := decodeMap(b, readFile(b, "testdata/products_full.json"))
	for b.Loop() {
		s.ApplyDefaults("products", doc)
		if err := s.Validate("products", doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateProductsInvalid(b *testing.B) {
	s := loadSet(b)
	doc := decodeMap(b, `{"sku":"a b","name":5,"price":-1,"foo":1,"variations":[{"_id":"x"}]}`)
	for b.Loop() {
		if err := s.Validate("products", doc); err == nil {
			b.Fatal("valid")
		}
	}
}
