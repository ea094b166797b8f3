package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"storeapi/db"
)

// lqV is a typed value as ParseListQuery makes it.
func lqV(typed any, raw string) db.Value { return db.Value{Typed: typed, Raw: raw} }

// lqS is a string value.
func lqS(s string) db.Value { return db.Value{Typed: s, Raw: s} }

func TestParseListQueryOperators(t *testing.T) {
	tests := []struct {
		name  string
		query []string // every form must parse to want
		want  db.Cond
	}{
		{"equal", []string{"price=10", "price%3D10", "pr%69ce=10"},
			db.Cond{Path: "price", Op: db.OpEq, Values: []db.Value{lqV(int64(10), "10")}}},
		{"not equal", []string{"price!=10", "price%21=10", "price%21%3D10"},
			db.Cond{Path: "price", Op: db.OpNe, Values: []db.Value{lqV(int64(10), "10")}}},
		{"gte", []string{"price>=10.5", "price%3E=10.5", "price%3E%3D10.5", "price%3e=10.5"},
			db.Cond{Path: "price", Op: db.OpGte, Values: []db.Value{lqV(10.5, "10.5")}}},
		{"lte", []string{"price<=-3", "price%3C=-3", "price%3C%3D-3"},
			db.Cond{Path: "price", Op: db.OpLte, Values: []db.Value{lqV(int64(-3), "-3")}}},
		{"contains", []string{"name%=blue", "name%25=blue", "name%25%3Dblue", "name%=%62lue"},
			db.Cond{Path: "name", Op: db.OpContains, Values: []db.Value{lqS("blue")}}},
		{"contains keeps numbers and commas literal", []string{"name%=10,20", "name%25=10%2C20"},
			db.Cond{Path: "name", Op: db.OpContains, Values: []db.Value{lqS("10,20")}}},
		{"contains with a literal percent", []string{"name%=100%", "name%25=100%25", "name%=100%"},
			db.Cond{Path: "name", Op: db.OpContains, Values: []db.Value{lqS("100%")}}},
		{"any of", []string{"sku=a,b,c", "sku=a%2Cb%2Cc", "sku%3Da%2cb%2Cc"},
			db.Cond{Path: "sku", Op: db.OpEq, Values: []db.Value{lqS("a"), lqS("b"), lqS("c")}}},
		{"none of", []string{"status!=paid,null", "status%21=paid%2Cnull"},
			db.Cond{Path: "status", Op: db.OpNe, Values: []db.Value{lqS("paid"), lqV(nil, "null")}}},
		{"gte keeps commas", []string{"created_at>=2024-01-01,x", "created_at%3E=2024-01-01%2Cx"},
			db.Cond{Path: "created_at", Op: db.OpGte, Values: []db.Value{lqS("2024-01-01,x")}}},
		{"dot path", []string{"categories._id=5f1a2b3c4d5e6f7a8b9c0d1e", "categories%2E_id=5f1a2b3c4d5e6f7a8b9c0d1e"},
			db.Cond{Path: "categories._id", Op: db.OpEq, Values: []db.Value{lqS("5f1a2b3c4d5e6f7a8b9c0d1e")}}},
		{"empty value", []string{"slug=", "slug%3D"},
			db.Cond{Path: "slug", Op: db.OpEq, Values: []db.Value{lqS("")}}},
		{"empty item", []string{"slug=a,", "slug=a%2C"},
			db.Cond{Path: "slug", Op: db.OpEq, Values: []db.Value{lqS("a"), lqS("")}}},
		{"plus is a space", []string{"name=a+b", "name=a%20b"},
			db.Cond{Path: "name", Op: db.OpEq, Values: []db.Value{lqS("a b")}}},
		{"encoded plus", []string{"name=a%2Bb"},
			db.Cond{Path: "name", Op: db.OpEq, Values: []db.Value{lqS("a+b")}}},
		{"stray percent", []string{"name=%zz%4", "name=%25zz%254"},
			db.Cond{Path: "name", Op: db.OpEq, Values: []db.Value{lqS("%zz%4")}}},
		{"value with equals", []string{"name==x", "name=%3Dx"},
			db.Cond{Path: "name", Op: db.OpEq, Values: []db.Value{lqS("=x")}}},
		{"not equal with equals", []string{"name!==x"},
			db.Cond{Path: "name", Op: db.OpNe, Values: []db.Value{lqS("=x")}}},
		{"value with operator characters", []string{"name=>1", "name=%3E1"},
			db.Cond{Path: "name", Op: db.OpEq, Values: []db.Value{lqS(">1")}}},
		{"utf-8", []string{"name=ma%C3%A7%C3%A3", "name=maçã"},
			db.Cond{Path: "name", Op: db.OpEq, Values: []db.Value{lqS("maçã")}}},
	}
	for _, tt := range tests {
		for _, q := range tt.query {
			got, err := ParseListQuery(q)
			if err != nil {
				t.Errorf("%s: ParseListQuery(%q): got error %v", tt.name, q, err)
				continue
			}
			want := ListParams{Conds: []db.Cond{tt.want}, Limit: 1000}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: ParseListQuery(%q):\ngot  %#v\nwant %#v", tt.name, q, got, want)
			}
		}
	}
}

func TestParseListQueryTypedValues(t *testing.T) {
	tests := []struct {
		raw  string
		want any
	}{
		{"true", true},
		{"false", false},
		{"null", nil},
		{"0", int64(0)},
		{"-0", int64(0)},
		{"10", int64(10)},
		{"007", int64(7)},
		{"-42", int64(-42)},
		{"10.0", int64(10)},
		{"-2.000", int64(-2)},
		{"1.5", 1.5},
		{"-0.25", -0.25},
		{"9223372036854775807", int64(9223372036854775807)},
		{"-9223372036854775808", int64(-9223372036854775808)},
		{"9223372036854775808", 9223372036854775808.0},
		{"9223372036854775807.0", int64(9223372036854775807)},
		{"1" + strings.Repeat("0", 400), "1" + strings.Repeat("0", 400)}, // not a finite float
		{"True", "True"},
		{"NULL", "NULL"},
		{"", ""},
		{"-", "-"},
		{"1.", "1."},
		{".5", ".5"},
		{"1e3", "1e3"},
		{"0x10", "0x10"},
		{"+1", "+1"},
		{"1_000", "1_000"},
		{"NaN", "NaN"},
		{"Inf", "Inf"},
		{"1.2.3", "1.2.3"},
		{"--1", "--1"},
		{"abc", "abc"},
	}
	for _, tt := range tests {
		for _, op := range []string{"=", "!=", ">=", "<="} {
			q := "v" + op + lqTestEscape(tt.raw)
			got, err := ParseListQuery(q)
			if err != nil {
				t.Errorf("ParseListQuery(%q): %v", q, err)
				continue
			}
			if len(got.Conds) != 1 || len(got.Conds[0].Values) != 1 {
				t.Errorf("ParseListQuery(%q): got %#v, want one value", q, got.Conds)
				continue
			}
			if v := got.Conds[0].Values[0]; v != lqV(tt.want, tt.raw) {
				t.Errorf("ParseListQuery(%q): got %#v (%T), want %#v (%T)", q, v, v.Typed, lqV(tt.want, tt.raw), tt.want)
			}
		}
		q := "v%=" + lqTestEscape(tt.raw)
		got, err := ParseListQuery(q)
		if err != nil || len(got.Conds) != 1 || !reflect.DeepEqual(got.Conds[0].Values, []db.Value{lqS(tt.raw)}) {
			t.Errorf("ParseListQuery(%q): got %#v, %v; want the string %q", q, got.Conds, err, tt.raw)
		}
	}
}

// lqTestEscape percent-encodes every byte but letters and digits.
func lqTestEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestParseListQueryReserved(t *testing.T) {
	tests := []struct {
		query string
		want  ListParams
	}{
		{"", ListParams{Limit: 1000}},
		{"&&", ListParams{Limit: 1000}},
		{"_=1700000000000", ListParams{Limit: 1000}},
		{"_", ListParams{Limit: 1000}},
		{"_=1&_=2", ListParams{Limit: 1000}},
		{"limit=1", ListParams{Limit: 1}},
		{"limit=1000", ListParams{Limit: 1000}},
		{"limit=020", ListParams{Limit: 20}},
		{"offset=0", ListParams{Limit: 1000}},
		{"offset=123456", ListParams{Limit: 1000, Offset: 123456}},
		{"limit=20&offset=40", ListParams{Limit: 20, Offset: 40}},
		{"li%6Dit=5", ListParams{Limit: 5}},
		{"sort=price,-created_at", ListParams{Limit: 1000,
			Sort: []db.SortField{{Path: "price"}, {Path: "created_at", Desc: true}}}},
		{"sort=-price%2Cname", ListParams{Limit: 1000,
			Sort: []db.SortField{{Path: "price", Desc: true}, {Path: "name"}}}},
		{"sort=%2Dprice.amount", ListParams{Limit: 1000, Sort: []db.SortField{{Path: "price.amount", Desc: true}}}},
		{"sort=", ListParams{Limit: 1000}},
		{"fields=sku,name,price.amount", ListParams{Limit: 1000, Fields: []string{"sku", "name", "price.amount"}}},
		{"fields=sku%2Cname", ListParams{Limit: 1000, Fields: []string{"sku", "name"}}},
		{"fields=price.amount,sku,price,sku,_id,price.currency,pricey", ListParams{Limit: 1000,
			Fields: []string{"sku", "price", "_id", "pricey"}}},
		{"fields=a.b.c,a.b", ListParams{Limit: 1000, Fields: []string{"a.b"}}},
		{"fields=", ListParams{Limit: 1000}},
		{"price>=10&price<=20&sort=-price&limit=5&_=9", ListParams{Limit: 5,
			Sort: []db.SortField{{Path: "price", Desc: true}},
			Conds: []db.Cond{
				{Path: "price", Op: db.OpGte, Values: []db.Value{lqV(int64(10), "10")}},
				{Path: "price", Op: db.OpLte, Values: []db.Value{lqV(int64(20), "20")}},
			}}},
		{"a=1&a=2", ListParams{Limit: 1000, Conds: []db.Cond{
			{Path: "a", Op: db.OpEq, Values: []db.Value{lqV(int64(1), "1")}},
			{Path: "a", Op: db.OpEq, Values: []db.Value{lqV(int64(2), "2")}},
		}}},
		{"Limit=5&SORT=x", ListParams{Limit: 1000, Conds: []db.Cond{
			{Path: "Limit", Op: db.OpEq, Values: []db.Value{lqV(int64(5), "5")}},
			{Path: "SORT", Op: db.OpEq, Values: []db.Value{lqS("x")}},
		}}},
		{"items.0.price=1", ListParams{Limit: 1000, Conds: []db.Cond{
			{Path: "items.0.price", Op: db.OpEq, Values: []db.Value{lqV(int64(1), "1")}},
		}}},
		{strings.Repeat("a", 200) + "=1", ListParams{Limit: 1000, Conds: []db.Cond{
			{Path: strings.Repeat("a", 200), Op: db.OpEq, Values: []db.Value{lqV(int64(1), "1")}},
		}}},
	}
	for _, tt := range tests {
		got, err := ParseListQuery(tt.query)
		if err != nil {
			t.Errorf("ParseListQuery(%q): got error %v", tt.query, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseListQuery(%q):\ngot  %#v\nwant %#v", tt.query, got, tt.want)
		}
	}
}

func TestParseListQueryLimits(t *testing.T) {
	conds := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "f" + strconv.Itoa(i) + "=1"
		}
		return strings.Join(parts, "&")
	}
	values := func(n int) string { return "a=" + strings.TrimSuffix(strings.Repeat("1,", n), ",") }
	sortN := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "s" + strconv.Itoa(i)
		}
		return "sort=" + strings.Join(parts, ",")
	}
	tests := []struct {
		query string
		ok    bool
	}{
		{conds(100), true},
		{conds(101), false},
		{values(1000), true},
		{values(1001), false},
		{values(600) + "&b=" + strings.TrimSuffix(strings.Repeat("2,", 400), ","), true},
		{values(600) + "&b=" + strings.TrimSuffix(strings.Repeat("2,", 401), ","), false},
		{sortN(32), true},
		{sortN(33), false},
		{"a=" + strings.Repeat("x", 8<<10-2), true},
		{"a=" + strings.Repeat("x", 8<<10-1), false},
		{strings.Repeat("a", 200) + "=1", true},
		{strings.Repeat("a", 201) + "=1", false},
		{strings.Repeat("a.", 100) + "b=1", false},
		{"sort=" + strings.Repeat("a", 201), false},
		{"fields=" + strings.Repeat("a", 201), false},
	}
	for _, tt := range tests {
		_, err := ParseListQuery(tt.query)
		if tt.ok && err != nil {
			t.Errorf("ParseListQuery(%.40q…): got error %v, want none", tt.query, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadQuery) {
			t.Errorf("ParseListQuery(%.40q…): got error %v, want ErrBadQuery", tt.query, err)
		}
	}
}

func TestParseListQueryErrors(t *testing.T) {
	tests := []struct {
		query, mention string // mention: the error message names it
	}{
		{"price[$ne]=1", "price[$ne]"},
		{"price%5B%24ne%5D=1", "price[$ne]"},
		{"$where=1", "$where"},
		{"%24where=sleep(1)", "$where"},
		{"a.$gt=1", "a.$gt"},
		{"a..b=1", "a..b"},
		{".a=1", ".a"},
		{"a.=1", "a."},
		{"=1", `""`},
		{"!=1", `""`},
		{"%=1", `""`},
		{"a b=1", "a b"},
		{"a+b=1", "a b"},
		{"a%00=1", `a\x00`},
		{"a-b=1", "a-b"},
		{"ação=1", "a"},
		{"price>>=1", "price>"},
		{"price<>=1", "price<"},
		{"price", "price"},
		{"price&limit=1", "price"},
		{"name=%FF", "name"},
		{"name%=%C3", "name"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=-1", "limit"},
		{"limit=+5", "limit"},
		{"limit=1.5", "limit"},
		{"limit=abc", "limit"},
		{"limit=", "limit"},
		{"limit", "limit"},
		{"limit= 5", "limit"},
		{"limit=99999999999999999999", "limit"},
		{"limit>=5", "limit"},
		{"limit%3E=5", "limit"},
		{"offset=-1", "offset"},
		{"offset=x", "offset"},
		{"offset=", "offset"},
		{"offset=1e3", "offset"},
		{"offset=99999999999999999999", "offset"},
		{"sort!=price", "sort"},
		{"fields%=a", "fields"},
		{"limit=1&limit=2", "limit"},
		{"limit=1&limit=1", "limit"},
		{"offset=1&offset=1", "offset"},
		{"sort=a&sort=b", "sort"},
		{"sort=&sort=", "sort"},
		{"fields=a&fields=b", "fields"},
		{"sort=a,,b", "sort"},
		{"sort=a,", "sort"},
		{"sort=-", "sort"},
		{"sort=--a", "sort"},
		{"sort=+a", "sort"},
		{"sort=a,-a", "sort"},
		{"sort=$natural", "sort"},
		{"sort=a b", "sort"},
		{"fields=a,,b", "field"},
		{"fields=a,", "field"},
		{"fields=$a", "field"},
		{"fields=-a", "field"},
		{"fields=a..b", "field"},
	}
	for _, tt := range tests {
		got, err := ParseListQuery(tt.query)
		if !errors.Is(err, ErrBadQuery) {
			t.Errorf("ParseListQuery(%q): got %#v, %v; want ErrBadQuery", tt.query, got, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseListQuery(%q): error %q does not mention %q", tt.query, err, tt.mention)
		}
		if !reflect.DeepEqual(got, ListParams{}) {
			t.Errorf("ParseListQuery(%q): error with a non-zero result %#v", tt.query, got)
		}
	}
}

func TestDescribeQuery(t *testing.T) {
	tests := []struct {
		query string
		want  string // JSON
	}{
		{"", `{}`},
		{"sku=abc", `{"sku":"abc"}`},
		{"price=10", `{"price":10}`},
		{"price=10.5", `{"price":10.5}`},
		{"available=true&x=null", `{"available":true,"x":null}`},
		{"price>=10", `{"price":{"$gte":10}}`},
		{"price<=10", `{"price":{"$lte":10}}`},
		{"price>=10&price<=20", `{"price":{"$gte":10,"$lte":20}}`},
		{"sku=a,b,3", `{"sku":{"$in":["a","b",3]}}`},
		{"sku!=a", `{"sku":{"$ne":"a"}}`},
		{"sku!=a,b", `{"sku":{"$nin":["a","b"]}}`},
		{"name%=blue", `{"name":{"$options":"i","$regex":"blue"}}`},
		{"name%=a.b*(c)", `{"name":{"$options":"i","$regex":"a\\.b\\*\\(c\\)"}}`},
		{"name%=10", `{"name":{"$options":"i","$regex":"10"}}`},
		{"price=5&price>=1", `{"price":{"$eq":5,"$gte":1}}`},
		{"price>=1&price>=2&sku=x", `{"$and":[{"price":{"$gte":1}},{"price":{"$gte":2}}],"sku":"x"}`},
		{"a=1&a=2", `{"$and":[{"a":1},{"a":2}]}`},
		{"a=1&a=2&b%=x&b%=y", `{"$and":[{"a":1},{"a":2},{"b":{"$options":"i","$regex":"x"}},{"b":{"$options":"i","$regex":"y"}}]}`},
		{"categories._id=x&price.amount>=1", `{"categories._id":"x","price.amount":{"$gte":1}}`},
	}
	for _, tt := range tests {
		p, err := ParseListQuery(tt.query)
		if err != nil {
			t.Fatalf("ParseListQuery(%q): %v", tt.query, err)
		}
		d := DescribeQuery(p.Conds)
		got, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("DescribeQuery(%q): json: %v", tt.query, err)
		}
		if string(got) != tt.want {
			t.Errorf("DescribeQuery(%q):\ngot  %s\nwant %s", tt.query, got, tt.want)
		}
	}
}

func TestDescribeQueryRegexMatchesLiteral(t *testing.T) {
	for _, s := range []string{"a.b", "(x)", "1+1", "[a-z]", `\d`, "^$", "a|b", "?*"} {
		p, err := ParseListQuery("n%=" + lqTestEscape(s))
		if err != nil {
			t.Fatal(err)
		}
		d := DescribeQuery(p.Conds)["n"].(map[string]any)
		re := regexp.MustCompile("(?i)" + d["$regex"].(string))
		if !re.MatchString("xx" + strings.ToUpper(s) + "yy") {
			t.Errorf("DescribeQuery regex %q does not match the literal %q", d["$regex"], s)
		}
		if re.MatchString("xx") {
			t.Errorf("DescribeQuery regex %q matches without the literal %q", d["$regex"], s)
		}
	}
}

// lqTestEncode writes p as a query string ParseListQuery reads back to p: values fully
// percent-encoded; operators encoded when encodeOps, else raw ("%=", ">=").
func lqTestEncode(p ListParams, encodeOps bool) string {
	ops := map[db.Op]string{db.OpEq: "=", db.OpNe: "!=", db.OpGte: ">=", db.OpLte: "<=", db.OpContains: "%="}
	if encodeOps {
		ops = map[db.Op]string{db.OpEq: "=", db.OpNe: "%21=", db.OpGte: "%3E=", db.OpLte: "%3C=", db.OpContains: "%25="}
	}
	parts := []string{"limit=" + strconv.Itoa(p.Limit), "offset=" + strconv.Itoa(p.Offset)}
	if len(p.Sort) > 0 {
		s := make([]string, len(p.Sort))
		for i, f := range p.Sort {
			s[i] = f.Path
			if f.Desc {
				s[i] = "-" + f.Path
			}
		}
		parts = append(parts, "sort="+strings.Join(s, ","))
	}
	if len(p.Fields) > 0 {
		parts = append(parts, "fields="+lqTestEscape(strings.Join(p.Fields, ",")))
	}
	for _, c := range p.Conds {
		vs := make([]string, len(c.Values))
		for i, v := range c.Values {
			vs[i] = lqTestEscape(v.Raw)
		}
		parts = append(parts, c.Path+ops[c.Op]+strings.Join(vs, ","))
	}
	return strings.Join(parts, "&")
}

// lqTestCheck reports what breaks the contract of ListParams in p, or "".
func lqTestCheck(p ListParams) string {
	if p.Limit < 1 || p.Limit > 1000 || p.Offset < 0 {
		return "limit or offset out of range"
	}
	if len(p.Conds) > 100 || len(p.Sort) > 32 {
		return "too many conditions or sort fields"
	}
	values := 0
	for _, c := range p.Conds {
		if !lqValidPath(c.Path) || strings.HasPrefix(c.Path, "$") {
			return "invalid condition path " + strconv.Quote(c.Path)
		}
		values += len(c.Values)
		switch c.Op {
		case db.OpEq, db.OpNe:
			if len(c.Values) == 0 {
				return "no values"
			}
		case db.OpGte, db.OpLte, db.OpContains:
			if len(c.Values) != 1 {
				return c.Op.String() + " without exactly one value"
			}
		default:
			return "unknown operator"
		}
		for _, v := range c.Values {
			want := lqValue(v.Raw)
			if c.Op == db.OpContains {
				want = lqS(v.Raw)
			}
			if v != want {
				return fmt.Sprintf("value %#v is not typed from its text", v)
			}
			if _, err := json.Marshal(v.Typed); err != nil {
				return fmt.Sprintf("value %#v does not encode: %v", v, err)
			}
		}
	}
	if values > 1000 {
		return "too many values"
	}
	seen := map[string]bool{}
	for _, f := range p.Sort {
		if !lqValidPath(f.Path) || seen[f.Path] {
			return "invalid or repeated sort path " + strconv.Quote(f.Path)
		}
		seen[f.Path] = true
	}
	fields := map[string]bool{}
	for _, f := range p.Fields {
		if !lqValidPath(f) || fields[f] {
			return "invalid or repeated field " + strconv.Quote(f)
		}
		fields[f] = true
	}
	for _, f := range p.Fields {
		for i := range len(f) {
			if f[i] == '.' && fields[f[:i]] {
				return "field " + f + " below field " + f[:i]
			}
		}
	}
	if _, err := json.Marshal(DescribeQuery(p.Conds)); err != nil {
		return "meta.query does not encode: " + err.Error()
	}
	return ""
}

func TestParseListQueryRoundTrip(t *testing.T) {
	for _, q := range []string{
		"price>=10&price<=20&sort=-price,name&fields=sku,price&limit=5&offset=10",
		"name%=a,b%&sku=x,,y&n!=1,2.5,true,null",
		"a=&b=%20&c=%2C",
	} {
		p, err := ParseListQuery(q)
		if err != nil {
			t.Fatalf("ParseListQuery(%q): %v", q, err)
		}
		if msg := lqTestCheck(p); msg != "" {
			t.Errorf("ParseListQuery(%q): %s", q, msg)
		}
		for _, enc := range []bool{true, false} {
			e := lqTestEncode(p, enc)
			back, err := ParseListQuery(e)
			if err != nil || !reflect.DeepEqual(back, p) {
				t.Errorf("ParseListQuery(%q) = %#v\nbut its form %q parses to %#v, %v", q, p, e, back, err)
			}
		}
	}
}

func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{
		"", "price>=10&price<=20", "price%3E=10&name%25=blue", "name%=blue", "sku=a,b,c&sku!=d",
		"limit=10&offset=20&sort=-price,name&fields=sku,price.amount,price", "_=123", "a=%zz%4+b",
		"price[$ne]=1", "$where=1", "a..b=1", "n=1.5&m=-0&k=9223372036854775808&t=true&z=null",
		"limit=1&limit=2", "x=%FF", "a%3D%3D=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		p, err := ParseListQuery(q)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("ParseListQuery(%q): error %v does not wrap ErrBadQuery", q, err)
			}
			return
		}
		if msg := lqTestCheck(p); msg != "" {
			t.Fatalf("ParseListQuery(%q) = %#v: %s", q, p, msg)
		}
		for _, enc := range []bool{true, false} {
			e := lqTestEncode(p, enc)
			if len(e) > 8<<10 {
				continue // the encoded form may be longer than the query was
			}
			back, err := ParseListQuery(e)
			if err != nil || !reflect.DeepEqual(back, p) {
				t.Fatalf("ParseListQuery(%q) = %#v\nbut its form %q parses to %#v, %v", q, p, e, back, err)
			}
		}
	})
}
