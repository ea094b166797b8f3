package pipeline

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"storeapi/db"
)

// parse decodes JSON the way engines hand documents over (json.Number numbers).
func parse(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func docs(t testing.TB, s string) []db.Doc {
	t.Helper()
	var out []db.Doc
	for _, e := range parse(t, s).([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// canon re-encodes a value so that results compare by JSON text (sorted keys).
func canon(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

const input = `[
 {"_id":"1","status":"paid","amount":10,"tags":["a","b"],"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}],"dims":{"w":5}},
 {"_id":"2","status":"paid","amount":20.5,"tags":["b"],"items":[{"sku":"a","qty":3}]},
 {"_id":"3","status":"open","amount":5,"tags":[],"items":[{"sku":"b","qty":1}],"note":null},
 {"_id":"4","status":"paid","amount":"7","items":[]},
 {"_id":"5","status":"open","dims":{"w":"12"}}
]`

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		pipeline string
		want     string
	}{
		{"empty", `[]`, ``},
		{"match equality", `[{"$match":{"status":"open"}},{"$project":{"_id":1}}]`, `[{"_id":"3"},{"_id":"5"}]`},
		{"match array element", `[{"$match":{"tags":"b"}},{"$project":{"_id":1}}]`, `[{"_id":"1"},{"_id":"2"}]`},
		{"match whole array", `[{"$match":{"tags":["a","b"]}},{"$project":{"_id":1}}]`, `[{"_id":"1"}]`},
		{"match dot path through array", `[{"$match":{"items.sku":"b"}},{"$project":{"_id":1}}]`, `[{"_id":"1"},{"_id":"3"}]`},
		{"match array index", `[{"$match":{"items.0.sku":"b"}},{"$project":{"_id":1}}]`, `[{"_id":"3"}]`},
		{"match gte is type-bracketed", `[{"$match":{"amount":{"$gte":7}}},{"$project":{"_id":1}}]`, `[{"_id":"1"},{"_id":"2"}]`},
		{"match gt lt", `[{"$match":{"amount":{"$gt":5,"$lt":20.5}}},{"$project":{"_id":1}}]`, `[{"_id":"1"}]`},
		{"match string range", `[{"$match":{"amount":{"$gte":"0"}}},{"$project":{"_id":1}}]`, `[{"_id":"4"}]`},
		{"match null is null or missing", `[{"$match":{"note":null}},{"$project":{"_id":1}}]`, `[{"_id":"1"},{"_id":"2"},{"_id":"3"},{"_id":"4"},{"_id":"5"}]`},
		{"match ne", `[{"$match":{"tags":{"$ne":"b"}}},{"$project":{"_id":1}}]`, `[{"_id":"3"},{"_id":"4"},{"_id":"5"}]`},
		{"match in nin", `[{"$match":{"status":{"$in":["paid","x"]},"amount":{"$nin":[10,"7"]}}},{"$project":{"_id":1}}]`, `[{"_id":"2"}]`},
		{"match exists", `[{"$match":{"dims.w":{"$exists":true}}},{"$project":{"_id":1}}]`, `[{"_id":"1"},{"_id":"5"}]`},
		{"match not exists", `[{"$match":{"items":{"$exists":false}}},{"$project":{"_id":1}}]`, `[{"_id":"5"}]`},
		{"match or and", `[{"$match":{"$or":[{"status":"open"},{"amount":{"$gte":20}}],"$and":[{"tags":{"$exists":true}}]}},{"$project":{"_id":1}}]`, `[{"_id":"2"},{"_id":"3"}]`},
		{"match numbers equal across forms", `[{"$match":{"amount":10.0}},{"$project":{"_id":1}}]`, `[{"_id":"1"}]`},
		{"match object equality", `[{"$match":{"dims":{"w":5}}},{"$project":{"_id":1}}]`, `[{"_id":"1"}]`},
		{"group sum avg count", `[{"$group":{"_id":"$status","total":{"$sum":"$amount"},"avg":{"$avg":"$amount"},"n":{"$sum":1},"c":{"$count":{}}}},{"$sort":{"_id":1}}]`,
			`[{"_id":"open","avg":5,"c":2,"n":2,"total":5},{"_id":"paid","avg":15.25,"c":3,"n":3,"total":30.5}]`},
		{"group null id", `[{"$group":{"_id":null,"min":{"$min":"$amount"},"max":{"$max":"$amount"}}}]`, `[{"_id":null,"max":"7","min":5}]`},
		{"group first last push addToSet", `[{"$sort":{"_id":1}},{"$group":{"_id":"$status","f":{"$first":"$_id"},"l":{"$last":"$_id"},"p":{"$push":"$note"},"s":{"$addToSet":"$status"}}},{"$sort":{"_id":-1}}]`,
			`[{"_id":"paid","f":"1","l":"4","p":[],"s":["paid"]},{"_id":"open","f":"3","l":"5","p":[null],"s":["open"]}]`},
		{"group object id", `[{"$unwind":"$items"},{"$group":{"_id":{"s":"$status","k":"$items.sku"},"q":{"$sum":"$items.qty"}}},{"$sort":[{"_id.s":1},{"_id.k":1}]}]`,
			`[{"_id":{"k":"b","s":"open"},"q":1},{"_id":{"k":"a","s":"paid"},"q":4},{"_id":{"k":"b","s":"paid"},"q":2}]`},
		{"group field path through array", `[{"$match":{"_id":"1"}},{"$group":{"_id":"$items.sku"}}]`, `[{"_id":["a","b"]}]`},
		{"sum stays integer, float when needed", `[{"$group":{"_id":null,"i":{"$sum":"$items.qty"},"q":{"$sum":"$dims.w"}}}]`, `[{"_id":null,"i":0,"q":5}]`},
		{"sort desc with missing last", `[{"$sort":{"amount":-1}},{"$project":{"_id":1}}]`, `[{"_id":"4"},{"_id":"2"},{"_id":"1"},{"_id":"3"},{"_id":"5"}]`},
		{"sort array by min asc", `[{"$match":{"tags":{"$exists":true}}},{"$sort":{"tags":1}},{"$project":{"_id":1}}]`, `[{"_id":"3"},{"_id":"1"},{"_id":"2"}]`},
		{"sort ordered array form", `[{"$sort":[{"status":1},{"_id":-1}]},{"$project":{"_id":1}}]`, `[{"_id":"5"},{"_id":"3"},{"_id":"4"},{"_id":"2"},{"_id":"1"}]`},
		{"skip limit", `[{"$sort":{"_id":1}},{"$skip":1},{"$limit":2},{"$project":{"_id":1}}]`, `[{"_id":"2"},{"_id":"3"}]`},
		{"project inclusion nested and through arrays", `[{"$match":{"_id":"1"}},{"$project":{"items.sku":1,"dims":{"w":true},"_id":0}}]`, `[{"dims":{"w":5},"items":[{"sku":"a"},{"sku":"b"}]}]`},
		{"project computed", `[{"$match":{"_id":"1"}},{"$project":{"s":"$status","w":"$dims.w","lit":"text","o":{"a":"$amount","m":"$nope"},"l":{"$literal":"$x"}}}]`,
			`[{"_id":"1","l":"$x","lit":"text","o":{"a":10},"s":"paid","w":5}]`},
		{"project exclusion", `[{"$match":{"_id":"2"}},{"$project":{"items":0,"tags":false,"_id":0}}]`, `[{"amount":20.5,"status":"paid"}]`},
		{"project exclusion through arrays", `[{"$match":{"_id":"1"}},{"$project":{"items.qty":0,"tags":0,"dims":0}}]`, `[{"_id":"1","amount":10,"items":[{"sku":"a"},{"sku":"b"}],"status":"paid"}]`},
		{"project _id only", `[{"$match":{"_id":"5"}},{"$project":{"_id":1}}]`, `[{"_id":"5"}]`},
		{"unwind", `[{"$unwind":"$tags"},{"$project":{"tags":1}}]`, `[{"_id":"1","tags":"a"},{"_id":"1","tags":"b"},{"_id":"2","tags":"b"}]`},
		{"unwind preserve and index", `[{"$unwind":{"path":"$tags","preserveNullAndEmptyArrays":true,"includeArrayIndex":"i"}},{"$project":{"tags":1,"i":1}}]`,
			`[{"_id":"1","i":0,"tags":"a"},{"_id":"1","i":1,"tags":"b"},{"_id":"2","i":0,"tags":"b"},{"_id":"3","i":null},{"_id":"4","i":null},{"_id":"5","i":null}]`},
		{"unwind scalar is one element", `[{"$unwind":"$status"},{"$count":"n"}]`, `[{"n":5}]`},
		{"count", `[{"$match":{"status":"paid"}},{"$count":"paid"}]`, `[{"paid":3}]`},
		{"count of nothing is nothing", `[{"$match":{"status":"none"}},{"$count":"n"}]`, `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := docs(t, input)
			before := canon(t, in)
			got, err := Run(in, docs(t, tc.pipeline))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if after := canon(t, in); after != before {
				t.Errorf("Run modified its input:\n before %s\n after  %s", before, after)
			}
			want := tc.want
			if want == "" {
				want = canon(t, docs(t, input))
			}
			if g := canon(t, got); g != canon(t, parse(t, want)) && !(len(got) == 0 && want == "[]") {
				t.Errorf("Run %s:\n got  %s\n want %s", tc.pipeline, g, want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name, pipeline, mention string
	}{
		{"unknown stage", `[{"$lookup":{}}]`, "$lookup"},
		{"two keys in a stage", `[{"$match":{},"$limit":1}]`, "exactly one key"},
		{"unknown query operator", `[{"$match":{"a":{"$regex":"x"}}}]`, "$regex"},
		{"top-level operator", `[{"$match":{"$where":"x"}}]`, "$where"},
		{"mixed operator object", `[{"$match":{"a":{"$eq":1,"b":2}}}]`, "mixing"},
		{"unknown accumulator", `[{"$group":{"_id":null,"x":{"$stdDevPop":"$a"}}}]`, "$stdDevPop"},
		{"group without _id", `[{"$group":{"x":{"$sum":1}}}]`, "_id"},
		{"unknown expression operator", `[{"$group":{"_id":{"$toUpper":"$a"}}}]`, "$toUpper"},
		{"unknown variable", `[{"$project":{"a":"$$NOW"}}]`, "$$NOW"},
		{"mixed projection", `[{"$project":{"a":1,"b":0}}]`, "mix"},
		{"bad limit", `[{"$limit":0}]`, "$limit"},
		{"fractional skip", `[{"$skip":1.5}]`, "$skip"},
		{"bad sort direction", `[{"$sort":{"a":2}}]`, "$sort"},
		{"bad unwind", `[{"$unwind":"tags"}]`, "$unwind"},
		{"bad count name", `[{"$count":"$n"}]`, "$count"},
		{"in needs array", `[{"$match":{"a":{"$in":1}}}]`, "$in"},
		{"empty path segment", `[{"$match":{"a..b":1}}]`, "a..b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(docs(t, input), docs(t, tc.pipeline))
			if !errors.Is(err, db.ErrUnsupported) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Run %s = %v; want ErrUnsupported mentioning %q", tc.pipeline, err, tc.mention)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	doc := parse(t, `{"a":{"b":[{"c":1},{"c":[2,3]},{"d":4},5]},"x":[[{"y":1}]],"n":[{"0":"key"},"idx"]}`).(map[string]any)
	tests := []struct {
		path     string
		want     string
		viaArray bool
	}{
		{"a.b.c", `[1,[2,3]]`, true},
		{"a.b.1.c", `[[2,3]]`, true},
		{"a.b.d", `[4]`, true},
		{"a.b.3", `[5]`, true},
		{"a.b", `[[{"c":1},{"c":[2,3]},{"d":4},5]]`, false},
		{"x.y", `null`, true},
		{"n.0", `[{"0":"key"},"key"]`, true},
		{"nope.x", `null`, false},
	}
	for _, tc := range tests {
		got, via := Lookup(doc, tc.path)
		if g := canon(t, got); g != tc.want || via != tc.viaArray {
			t.Errorf("Lookup(%q) = %s, %v; want %s, %v", tc.path, g, via, tc.want, tc.viaArray)
		}
	}
}

func TestProject(t *testing.T) {
	doc := parse(t, `{"_id":"1","a":{"b":1,"c":2},"l":[{"b":1,"c":2},3,[{"b":4}]],"s":"x"}`).(map[string]any)
	tests := []struct {
		paths []string
		want  string
	}{
		{nil, `{"_id":"1"}`},
		{[]string{"s"}, `{"_id":"1","s":"x"}`},
		{[]string{"a.b", "nope"}, `{"_id":"1","a":{"b":1}}`},
		{[]string{"a", "a.b"}, `{"_id":"1","a":{"b":1,"c":2}}`},
		{[]string{"a.b", "a"}, `{"_id":"1","a":{"b":1,"c":2}}`},
		{[]string{"l.b"}, `{"_id":"1","l":[{"b":1},[{"b":4}]]}`},
		{[]string{"s.x"}, `{"_id":"1"}`},
	}
	for _, tc := range tests {
		if got := canon(t, Project(doc, tc.paths)); got != tc.want {
			t.Errorf("Project(%v) = %s; want %s", tc.paths, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	order := []any{nil, json.Number("-1"), int64(0), 0.5, json.Number("9007199254740993"), "", "a", "b",
		map[string]any{}, map[string]any{"a": int64(1)}, []any{}, []any{int64(1)}, false, true}
	for i := range order {
		for j := range order {
			want := cmpInt(i, j)
			if got := compare(order[i], order[j]); got != want {
				t.Errorf("compare(%#v, %#v) = %d; want %d", order[i], order[j], got, want)
			}
		}
	}
	if compare(json.Number("1"), 1.0) != 0 || key(json.Number("1")) != key(1.0) || key(int64(2)) != key(json.Number("2.0")) {
		t.Errorf("1 and 1.0 must compare and group equal")
	}
	if !reflect.DeepEqual(key("a"), key("a")) || key("1") == key(int64(1)) {
		t.Errorf("string and number keys must differ")
	}
}

func FuzzRun(f *testing.F) {
	for _, s := range []string{
		`[{"$match":{"a":{"$gte":1}}}]`,
		`[{"$group":{"_id":"$a.b","n":{"$sum":1},"p":{"$push":"$$ROOT"}}}]`,
		`[{"$unwind":{"path":"$l","includeArrayIndex":"i"}},{"$sort":{"l":-1}},{"$skip":1},{"$limit":2}]`,
		`[{"$project":{"a":{"b":1},"c":"$d","_id":0}}]`,
		`[{"$count":"n"}]`,
		`[{"$sort":[{"a":1},{"b":-1}]}]`,
		`[{"$match":{"$or":[{"a":null},{"b":{"$in":[1,"x",null]}}]}}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pipeline string) {
		dec := json.NewDecoder(strings.NewReader(pipeline))
		dec.UseNumber()
		var raw []any
		if dec.Decode(&raw) != nil {
			return
		}
		stages := make([]db.Doc, 0, len(raw))
		for _, e := range raw {
			m, ok := e.(map[string]any)
			if !ok {
				return
			}
			stages = append(stages, m)
		}
		out, err := Run(docs(t, input), stages)
		if err != nil && !errors.Is(err, db.ErrUnsupported) {
			t.Errorf("Run error does not wrap ErrUnsupported: %v", err)
		}
		if err == nil {
			if _, err := json.Marshal(out); err != nil {
				t.Errorf("result does not encode: %v", err)
			}
		}
	})
}
