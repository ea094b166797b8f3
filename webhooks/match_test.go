package webhooks

import (
	"encoding/json"
	"testing"
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("json %s: %v", s, err)
	}
	return m
}

func TestMatches(t *testing.T) {
	const id1, id2 = "aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb"
	doc := `{"method":"PATCH","action":"change","resource":"products","resource_id":"` + id1 + `","fields":["price","name"]}`
	sub := `{"method":"POST","action":"create","resource":"orders","resource_id":"` + id1 +
		`","subresource":"payments_history","subresource_id":"` + id2 + `","fields":["status"]}`
	tests := []struct {
		name    string
		trigger string
		conds   string // the procedure's triggers[]
		want    bool
	}{
		{"resource", doc, `[{"resource":"products"}]`, true},
		{"other resource", doc, `[{"resource":"orders"}]`, false},
		{"any of the list", doc, `[{"resource":"orders"},{"resource":"products"}]`, true},
		{"empty list", doc, `[]`, false},
		{"method equal", doc, `[{"resource":"products","method":"PATCH"}]`, true},
		{"method differs", doc, `[{"resource":"products","method":"PUT"}]`, false},
		{"action equal", doc, `[{"resource":"products","action":"change"}]`, true},
		{"action differs", doc, `[{"resource":"products","action":"delete"}]`, false},
		{"resource_id equal", doc, `[{"resource":"products","resource_id":"` + id1 + `"}]`, true},
		{"resource_id differs", doc, `[{"resource":"products","resource_id":"` + id2 + `"}]`, false},
		{"field listed", doc, `[{"resource":"products","field":"price"}]`, true},
		{"field not listed", doc, `[{"resource":"products","field":"sku"}]`, false},
		{"field without fields", `{"resource":"products","action":"delete"}`, `[{"resource":"products","field":"sku"}]`, false},
		{"null subresource: document write", doc, `[{"resource":"products","subresource":null}]`, true},
		{"null subresource: subresource write", sub, `[{"resource":"orders","subresource":null}]`, false},
		{"absent subresource: subresource write", sub, `[{"resource":"orders"}]`, false},
		{"star: subresource write", sub, `[{"resource":"orders","subresource":"*"}]`, true},
		{"star: document write", doc, `[{"resource":"products","subresource":"*"}]`, true},
		{"subresource equal", sub, `[{"resource":"orders","subresource":"payments_history"}]`, true},
		{"subresource differs", sub, `[{"resource":"orders","subresource":"items"}]`, false},
		{"subresource on document write", doc, `[{"resource":"products","subresource":"variations"}]`, false},
		{"subresource_id equal", sub, `[{"resource":"orders","subresource":"*","subresource_id":"` + id2 + `"}]`, true},
		{"subresource_id differs", sub, `[{"resource":"orders","subresource":"*","subresource_id":"` + id1 + `"}]`, false},
		{"all given", sub, `[{"resource":"orders","method":"POST","action":"create","resource_id":"` + id1 +
			`","subresource":"payments_history","subresource_id":"` + id2 + `","field":"status"}]`, true},
		{"all given, one differs", sub, `[{"resource":"orders","method":"POST","action":"change","resource_id":"` + id1 +
			`","subresource":"payments_history","subresource_id":"` + id2 + `","field":"status"}]`, false},
		{"malformed entry", doc, `[1, "x", {"method":"PATCH"}]`, false},
		{"malformed method", doc, `[{"resource":"products","method":5}]`, false},
		{"malformed subresource", doc, `[{"resource":"products","subresource":5}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := decode(t, `{"title":"p","triggers":`+tt.conds+`}`)
			if got := Matches(proc, decode(t, tt.trigger)); got != tt.want {
				t.Errorf("got %v want %v", got, tt.want)
			}
		})
	}
	if Matches(map[string]any{"triggers": "x"}, decode(t, doc)) {
		t.Error("a procedure without a triggers list matched")
	}
}
