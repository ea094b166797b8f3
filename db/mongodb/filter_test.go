package mongodb

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"storeapi/db"
)

func TestCompileCond(t *testing.T) {
	str := func(s string) db.Value { return db.Value{Typed: s, Raw: s} }
	tests := []struct {
		name string
		cond db.Cond
		want string // extended JSON of the element as a one-key document
	}{
		{"eq string", db.Cond{Path: "sku", Op: db.OpEq, Values: []db.Value{str("a")}},
			`{"sku":{"$in":["a"]}}`},
		{"eq number adds its text", db.Cond{Path: "price", Op: db.OpEq, Values: []db.Value{{Typed: 10.5, Raw: "10.5"}}},
			`{"price":{"$in":[{"$numberDouble":"10.5"},"10.5"]}}`},
		{"eq json.Number integer", db.Cond{Path: "n", Op: db.OpEq, Values: []db.Value{{Typed: json.Number("3"), Raw: "3"}}},
			`{"n":{"$in":[{"$numberLong":"3"},"3"]}}`},
		{"eq null and bool", db.Cond{Path: "a.b", Op: db.OpEq, Values: []db.Value{{Typed: nil, Raw: "null"}, {Typed: true, Raw: "true"}}},
			`{"a.b":{"$in":[null,true]}}`},
		{"ne through $nor", db.Cond{Path: "categories._id", Op: db.OpNe, Values: []db.Value{str("c1")}},
			`{"$nor":[{"categories._id":{"$in":["c1"]}}]}`},
		{"gte", db.Cond{Path: "created_at", Op: db.OpGte, Values: []db.Value{str("2026")}},
			`{"created_at":{"$gte":"2026"}}`},
		{"lte int64", db.Cond{Path: "qty", Op: db.OpLte, Values: []db.Value{{Typed: int64(-2), Raw: "-2"}}},
			`{"qty":{"$lte":{"$numberLong":"-2"}}}`},
		{"contains quotes metacharacters", db.Cond{Path: "name", Op: db.OpContains, Values: []db.Value{str("a.*(b")}},
			`{"name":{"$regex":{"$regularExpression":{"pattern":"a\\.\\*\\(b","options":"i"}}}}`},
		{"contains uses the raw text", db.Cond{Path: "name", Op: db.OpContains, Values: []db.Value{{Typed: 10.0, Raw: "10"}}},
			`{"name":{"$regex":{"$regularExpression":{"pattern":"10","options":"i"}}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := compileCond(tc.cond)
			if err != nil {
				t.Fatalf("compileCond: %v", err)
			}
			got, err := bson.MarshalExtJSON(bson.D{e}, true, false)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("compileCond(%+v)\n got  %s\n want %s", tc.cond, got, tc.want)
			}
		})
	}
}

func TestCompileRefuses(t *testing.T) {
	v := []db.Value{{Typed: "x", Raw: "x"}}
	tests := []struct {
		name string
		cond db.Cond
	}{
		{"operator path", db.Cond{Path: "$where", Op: db.OpEq, Values: v}},
		{"operator segment", db.Cond{Path: "price.$ne", Op: db.OpEq, Values: v}},
		{"empty path", db.Cond{Path: "", Op: db.OpEq, Values: v}},
		{"empty segment", db.Cond{Path: "a..b", Op: db.OpEq, Values: v}},
		{"trailing dot", db.Cond{Path: "a.", Op: db.OpEq, Values: v}},
		{"nul", db.Cond{Path: "a\x00b", Op: db.OpEq, Values: v}},
		{"no value", db.Cond{Path: "a", Op: db.OpEq}},
		{"two values for a range", db.Cond{Path: "a", Op: db.OpGte, Values: append(v, v...)}},
		{"unknown operator", db.Cond{Path: "a", Op: db.Op(42), Values: v}},
		{"unknown value type", db.Cond{Path: "a", Op: db.OpEq, Values: []db.Value{{Typed: []string{"x"}}}}},
		{"bad json.Number", db.Cond{Path: "a", Op: db.OpEq, Values: []db.Value{{Typed: json.Number("1x")}}}},
	}
	for _, tc := range tests {
		if _, err := compileCond(tc.cond); !errors.Is(err, errBadQuery) {
			t.Errorf("%s: compileCond(%+v) = %v; want errBadQuery", tc.name, tc.cond, err)
		}
	}
	if _, err := compileSort([]db.SortField{{Path: "$natural"}}); err == nil {
		t.Error("compileSort accepted $natural")
	}
	if _, err := compileProjection([]string{"a", "$b"}); err == nil {
		t.Error("compileProjection accepted $b")
	}
}

func TestCompileSortAndProjection(t *testing.T) {
	sort, err := compileSort([]db.SortField{{Path: "price", Desc: true}, {Path: "name"}, {Path: "price"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := bson.MarshalExtJSON(sort, false, false); string(got) != `{"price":-1,"name":1,"_id":1}` {
		t.Errorf("compileSort = %s", got)
	}
	sort, _ = compileSort([]db.SortField{{Path: "_id", Desc: true}})
	if got, _ := bson.MarshalExtJSON(sort, false, false); string(got) != `{"_id":-1}` {
		t.Errorf("compileSort by _id = %s", got)
	}
	proj, err := compileProjection([]string{"dims.w", "dims", "name", "name", "_id", "_id.x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := bson.MarshalExtJSON(proj, false, false); string(got) != `{"_id":1,"dims":1,"name":1}` {
		t.Errorf("compileProjection = %s", got)
	}
}

// FuzzCompileCond feeds arbitrary paths and values: compiling never panics, and what
// compiles uses only the engine's own operators, with the client's text as a literal.
func FuzzCompileCond(f *testing.F) {
	f.Add("name", 4, "a.*b")
	f.Add("price", 0, "10")
	f.Add("$where", 1, "1")
	f.Add("a..b", 2, "")
	f.Add("categories._id", 1, "(")
	f.Fuzz(func(t *testing.T, path string, op int, raw string) {
		c := db.Cond{Path: path, Op: db.Op(op % 6), Values: []db.Value{{Typed: raw, Raw: raw}}}
		e, err := compileCond(c)
		if err != nil {
			return
		}
		if strings.Contains(path, "$") {
			t.Fatalf("path %q compiled", path)
		}
		checkOperators(t, bson.D{e})
		if c.Op == db.OpContains && utf8.ValidString(raw) {
			re := e.Value.(bson.D)[0].Value.(bson.Regex)
			if !regexp.MustCompile("(?i)" + re.Pattern).MatchString(strings.ToUpper(raw)) {
				t.Fatalf("pattern %q does not match its literal %q", re.Pattern, raw)
			}
		}
	})
}

// checkOperators fails on any "$" key the engine does not write itself.
func checkOperators(t *testing.T, v any) {
	switch v := v.(type) {
	case bson.D:
		for _, e := range v {
			if strings.HasPrefix(e.Key, "$") && !map[string]bool{"$in": true, "$nor": true, "$gte": true, "$lte": true, "$regex": true}[e.Key] {
				t.Fatalf("operator %q in compiled filter", e.Key)
			}
			checkOperators(t, e.Value)
		}
	case bson.A:
		for _, e := range v {
			checkOperators(t, e)
		}
	}
}
