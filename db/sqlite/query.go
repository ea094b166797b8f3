package sqlite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"storeapi/db"
)

// maxLeaves bounds the SQL a path that is not indexed expands to (each segment that may
// meet an array doubles it).
const maxLeaves = 256

// compiler turns db.Conds and sort fields into SQL over "coll AS t". Every value is a
// numbered parameter; paths are validated and written as JSON path literals.
type compiler struct {
	ci      *collInfo // nil when the collection does not exist
	coll    string
	storeID int64 // 0: every store
	args    []any
	aliases int
	leaves  int
	// filterOnly marks conditions (by index) on multikey paths that must not drive
	// the query: their side-table lookup is written as a correlated EXISTS, which
	// SQLite checks per row while walking another index (see Store.plan).
	filterOnly map[int]bool
	cur        int
	// capped holds the paths that have a numeric upper bound (OpLte) among the
	// conditions: their lower bound needs no '' sentinel, which would otherwise take the
	// upper bound's place in SQLite's index range.
	capped map[string]bool
}

func newCompiler(ci *collInfo, coll string, storeID int64) *compiler {
	return &compiler{ci: ci, coll: coll, storeID: storeID}
}

// arg binds v and returns its placeholder.
func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	return "?" + strconv.Itoa(len(c.args))
}

func (c *compiler) alias() string {
	c.aliases++
	return "k" + strconv.Itoa(c.aliases)
}

// where returns the WHERE clause (without the keyword) for the store and conds.
func (c *compiler) where(conds []db.Cond) (string, error) {
	parts := make([]string, 0, len(conds)+1)
	for _, cd := range conds {
		if cd.Op == db.OpLte && len(cd.Values) == 1 {
			if _, isNum := sqlNumber(cd.Values[0].Typed); isNum {
				if c.capped == nil {
					c.capped = map[string]bool{}
				}
				c.capped[cd.Path] = true
			}
		}
	}
	if c.storeID != 0 {
		parts = append(parts, "t.store_id = "+c.arg(c.storeID))
	}
	for i, cd := range conds {
		c.cur = i
		p, err := c.cond(cd)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "1", nil
	}
	return strings.Join(parts, " AND "), nil
}

// value is a condition value sorted by type.
type value struct {
	kind int // kNull, kBool, kNum, kStr
	b    bool
	n    any // int64 or float64
	s    string
	raw  string // for numbers: the text as sent, which also matches as a string
}

const (
	kNull = iota
	kBool
	kNum
	kStr
)

func toValue(v db.Value) (value, error) {
	switch x := v.Typed.(type) {
	case nil:
		return value{kind: kNull}, nil
	case bool:
		return value{kind: kBool, b: x}, nil
	case string:
		return value{kind: kStr, s: x}, nil
	}
	n, ok := sqlNumber(v.Typed)
	if !ok {
		return value{}, fmt.Errorf("%w: value of type %T", db.ErrUnsupported, v.Typed)
	}
	if f, isF := n.(float64); isF && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return value{}, fmt.Errorf("%w: value %v", db.ErrUnsupported, f)
	}
	return value{kind: kNum, n: n, raw: v.Raw}, nil
}

// pred builds the SQL truth of "this one value matches" for a value expression V and
// its JSON type expression T (json_type names: null true false integer real text
// array object; NULL when missing).
type pred func(V, T string) string

func (c *compiler) cond(cd db.Cond) (string, error) {
	if err := checkPath(cd.Path); err != nil {
		return "", err
	}
	if len(cd.Values) == 0 {
		return "", fmt.Errorf("%w: condition on %s without values", db.ErrUnsupported, cd.Path)
	}
	vals := make([]value, len(cd.Values))
	for i, v := range cd.Values {
		var err error
		if vals[i], err = toValue(v); err != nil {
			return "", err
		}
	}
	switch cd.Op {
	case db.OpEq:
		return c.eq(cd.Path, vals)
	case db.OpNe:
		e, err := c.eq(cd.Path, vals)
		if err != nil {
			return "", err
		}
		return "NOT coalesce((" + e + "), 0)", nil
	case db.OpGte, db.OpLte:
		v := vals[0]
		if v.kind == kNull {
			return c.eq(cd.Path, vals[:1])
		}
		return c.match(cd.Path, c.rangePred(cd.Op, v, c.capped[cd.Path]), c.sideRange(cd.Op, v))
	case db.OpContains:
		v := vals[0]
		if v.kind != kStr {
			v = value{kind: kStr, s: cd.Values[0].Raw}
		}
		return c.match(cd.Path, c.containsPred(v.s), c.sideContains(v.s))
	}
	return "", fmt.Errorf("%w: operator %v", db.ErrUnsupported, cd.Op)
}

// eq is "some value at path equals one of vals" (null also matching a missing path).
func (c *compiler) eq(path string, vals []value) (string, error) {
	hasNull := false
	rest := vals[:0:0]
	for _, v := range vals {
		if v.kind == kNull {
			hasNull = true
		} else {
			rest = append(rest, v)
		}
	}
	var parts []string
	if len(rest) > 0 {
		p, err := c.match(path, c.eqPred(rest), c.sideEq(rest))
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	if hasNull {
		p, err := c.nullOrMissing(path)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", nil
}

// eqPred matches one value against non-null vals: numbers and strings through one
// IN list (SQLite never finds a number equal to a text), booleans by JSON type. Values
// are bound on first use, so that a predicate never used binds nothing.
func (c *compiler) eqPred(vals []value) pred {
	var list, types, bools string
	bound := false
	bind := func() {
		if bound {
			return
		}
		bound = true
		var in, ts, bs []string
		hasNum, hasStr := false, false
		seenBool := map[bool]bool{}
		for _, v := range vals {
			switch v.kind {
			case kNum:
				in = append(in, c.arg(v.n))
				hasNum = true
				if v.raw != "" {
					in = append(in, c.arg(v.raw))
					hasStr = true
				}
			case kStr:
				in = append(in, c.arg(v.s))
				hasStr = true
			case kBool:
				if !seenBool[v.b] {
					seenBool[v.b] = true
					bs = append(bs, "'"+strconv.FormatBool(v.b)+"'")
				}
			}
		}
		if hasNum {
			ts = append(ts, "'integer'", "'real'")
		}
		if hasStr {
			ts = append(ts, "'text'")
		}
		list, types, bools = strings.Join(in, ", "), strings.Join(ts, ", "), strings.Join(bs, ", ")
	}
	return func(V, T string) string {
		bind()
		var ors []string
		if list != "" {
			ors = append(ors, "("+V+" IN ("+list+") AND "+T+" IN ("+types+"))")
		}
		if bools != "" {
			ors = append(ors, T+" IN ("+bools+")")
		}
		if len(ors) == 1 {
			return ors[0]
		}
		return "(" + strings.Join(ors, " OR ") + ")"
	}
}

// lazyArg binds v on the first call of the returned function only.
func (c *compiler) lazyArg(v any) func() string {
	p := ""
	return func() string {
		if p == "" {
			p = c.arg(v)
		}
		return p
	}
}

// rangePred is a type-bracketed comparison: a number bound only meets numbers, a string
// bound only strings, a boolean bound only booleans. The extra bounds (” above every
// number, ” below every string) let an index range scan do the bracketing.
// A lower number bound of a capped path (one with a numeric upper bound too) leaves its
// extra bound out, so that the index range ends at the real upper bound.
func (c *compiler) rangePred(op db.Op, v value, capped bool) pred {
	cmp := ">="
	if op == db.OpLte {
		cmp = "<="
	}
	switch v.kind {
	case kNum:
		p := c.lazyArg(v.n)
		return func(V, T string) string {
			extra := ""
			if op == db.OpGte && !capped {
				extra = " AND " + V + " < ''"
			}
			return "(" + V + " " + cmp + " " + p() + extra + " AND " + T + " IN ('integer', 'real'))"
		}
	case kStr:
		p := c.lazyArg(v.s)
		return func(V, T string) string {
			extra := ""
			if op == db.OpLte {
				extra = " AND " + V + " >= ''"
			}
			return "(" + V + " " + cmp + " " + p() + extra + " AND " + T + " = 'text')"
		}
	}
	// Booleans: false < true, and json_extract gives 0 and 1.
	b := int64(0)
	if v.b {
		b = 1
	}
	p := c.lazyArg(b)
	return func(V, T string) string {
		return "(" + T + " IN ('true', 'false') AND " + V + " " + cmp + " " + p() + ")"
	}
}

// containsPred is a case-insensitive literal substring test on strings.
func (c *compiler) containsPred(needle string) pred {
	lower := lowerName(needle)
	p := c.lazyArg(strings.ToLower(needle))
	return func(V, T string) string {
		return "(" + T + " = 'text' AND instr(" + lower + "(" + V + "), " + p() + ") > 0)"
	}
}

// lowerName picks SQLite's lower() for an ASCII needle (non-ASCII text cannot match it
// differently) and the Unicode storeapi_lower otherwise.
func lowerName(needle string) string {
	for i := 0; i < len(needle); i++ {
		if needle[i] >= 0x80 {
			return "storeapi_lower"
		}
	}
	return "lower"
}

// sidePred is a condition on the side table's value column m.v.
type sidePred func() string

func (c *compiler) sideEq(vals []value) sidePred {
	return func() string {
		var in []string
		for _, v := range vals {
			switch v.kind {
			case kNum:
				in = append(in, c.arg(v.n))
				if v.raw != "" {
					in = append(in, c.arg(v.raw))
				}
			case kStr:
				in = append(in, c.arg(v.s))
			case kBool:
				if v.b {
					in = append(in, c.arg(sideTrue))
				} else {
					in = append(in, c.arg(sideFalse))
				}
			}
		}
		return "m.v IN (" + strings.Join(in, ", ") + ")"
	}
}

func (c *compiler) sideRange(op db.Op, v value) sidePred {
	return func() string {
		switch {
		case v.kind == kNum && op == db.OpGte:
			return "m.v >= " + c.arg(v.n) + " AND m.v < ''"
		case v.kind == kNum:
			return "m.v <= " + c.arg(v.n)
		case v.kind == kStr && op == db.OpGte:
			return "m.v >= " + c.arg(v.s) + " AND typeof(m.v) = 'text'"
		case v.kind == kStr:
			return "m.v <= " + c.arg(v.s) + " AND m.v >= ''"
		case v.b && op == db.OpGte:
			return "m.v = " + c.arg(sideTrue)
		case !v.b && op == db.OpLte:
			return "m.v = " + c.arg(sideFalse)
		}
		return "m.v IN (" + c.arg(sideFalse) + ", " + c.arg(sideTrue) + ")"
	}
}

func (c *compiler) sideContains(needle string) sidePred {
	return func() string {
		return "typeof(m.v) = 'text' AND instr(" + lowerName(needle) + "(m.v), " + c.arg(strings.ToLower(needle)) + ") > 0"
	}
}

// sideIn is "t.id is among the side table's ids for path where cond".
func (c *compiler) sideIn(path, cond string) string {
	store := ""
	if c.storeID != 0 {
		store = " AND m.store_id = " + c.arg(c.storeID)
	}
	if c.filterOnly[c.cur] {
		// Checked per row while SQLite walks another index: a primary-key lookup, no
		// list of every matching id built first.
		return "EXISTS (SELECT 1 FROM " + sideTable(c.coll) + " AS m WHERE m.path = '" + path + "' AND m.store_id = t.store_id AND " +
			cond + " AND m.id = t.id)"
	}
	return "t.id IN (SELECT m.id FROM " + sideTable(c.coll) + " AS m WHERE m.path = '" + path + "'" + store + " AND " + cond + ")"
}

// probeLimit is how many side-table matches a probe counts at most; a condition with
// fewer drives the query (read its few documents, then sort), one with more is only
// checked while walking the order's index (its documents are common enough that the
// first page comes soon).
const probeLimit = 500

// sideProbe returns a query counting (up to probeLimit) the side-table rows a
// condition on a multikey path selects, or "" when the condition is not of that kind.
func (c *compiler) sideProbe(cd db.Cond) string {
	if c.ci == nil || !c.ci.paths[cd.Path] || checkPath(cd.Path) != nil || len(cd.Values) == 0 {
		return ""
	}
	var vals []value
	for _, v := range cd.Values {
		x, err := toValue(v)
		if err != nil || x.kind == kNull {
			return ""
		}
		vals = append(vals, x)
	}
	var cond string
	switch cd.Op {
	case db.OpEq:
		cond = c.sideEq(vals)()
	case db.OpGte, db.OpLte:
		cond = c.sideRange(cd.Op, vals[0])()
	default:
		return ""
	}
	return "SELECT count(*) FROM (SELECT 1 FROM " + sideTable(c.coll) + " AS m WHERE m.path = '" + cd.Path +
		"' AND m.store_id = " + c.arg(c.storeID) + " AND " + cond + " LIMIT " + strconv.Itoa(probeLimit) + ")"
}

// sideCount returns a count query answered from the side table alone when conds is a
// single equality on a multikey path ("how many products in this category"), or "".
func (c *compiler) sideCount(conds []db.Cond) string {
	if len(conds) != 1 || conds[0].Op != db.OpEq || c.storeID == 0 {
		return ""
	}
	cd := conds[0]
	if c.ci == nil || !c.ci.paths[cd.Path] {
		return ""
	}
	var vals []value
	for _, v := range cd.Values {
		x, err := toValue(v)
		if err != nil || x.kind == kNull {
			return ""
		}
		vals = append(vals, x)
	}
	cnt := "count(*)" // one value: (path, store_id, v, id) is unique, so ids are distinct
	if len(vals) > 1 || vals[0].raw != "" && vals[0].kind == kNum {
		cnt = "count(DISTINCT m.id)"
	}
	c.args = nil
	return "SELECT " + cnt + " FROM " + sideTable(c.coll) + " AS m WHERE m.path = '" + cd.Path + "' AND m.store_id = " +
		c.arg(c.storeID) + " AND " + c.sideEq(vals)()
}

// page returns the LIMIT / OFFSET clause of q.
func (c *compiler) page(q db.Query) string {
	limit := int64(-1)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	return " LIMIT " + c.arg(limit) + " OFFSET " + c.arg(int64(max(q.Offset, 0)))
}

// sortedFind compiles q to a walk of a compound multikey index when one fits: an
// equality on its first (multikey) path with one string value, sorted first by its
// second path. ok is false when none fits.
func (c *compiler) sortedFind(q db.Query) (query string, ok bool, err error) {
	if c.ci == nil || c.storeID == 0 || len(q.Sort) == 0 {
		return "", false, nil
	}
	first := q.Sort[0]
	for i, cd := range q.Conds {
		if cd.Op != db.OpEq || len(cd.Values) != 1 || !c.ci.paths[cd.Path] {
			continue
		}
		v, err := toValue(cd.Values[0])
		if err != nil || v.kind != kStr {
			continue
		}
		for _, ix := range c.ci.indexes {
			if !c.ci.sorted(ix) || ix.paths[0] != cd.Path || ix.paths[1] != first.Path {
				continue
			}
			others := append(append([]db.Cond(nil), q.Conds[:i]...), q.Conds[i+1:]...)
			// The walk drives; other multikey conditions are only checked per row.
			c.filterOnly = map[int]bool{}
			for j, o := range others {
				c.filterOnly[j] = c.ci.paths[o.Path]
			}
			where, err := c.where(others)
			if err != nil {
				return "", false, err
			}
			dir := ""
			if first.Desc {
				dir = " DESC"
			}
			order := "x.k" + dir + ", x.id"
			if len(q.Sort) > 1 {
				rest, err := c.orderBy(q.Sort[1:])
				if err != nil {
					return "", false, err
				}
				order = "x.k" + dir + ", " + rest
			}
			cols, _ := columns(q.Fields)
			query = "SELECT " + cols + " FROM " + sortedTable(c.coll) + " AS x CROSS JOIN " + quoteIdent(c.coll) + " AS t WHERE x.ix = '" +
				ix.name + "' AND x.store_id = " + c.arg(c.storeID) + " AND x.v = " + c.arg(v.s) + " AND t.id = x.id AND " + where +
				" ORDER BY " + order + c.page(q)
			return query, true, nil
		}
	}
	return "", false, nil
}

// walkable reports whether SQLite can produce q's order by walking an index (the store
// index in _id order, or an expression index whose first path is the first sort path),
// so that a page can stop early.
func walkable(ci *collInfo, q db.Query) bool {
	if q.Limit <= 0 || q.Limit+q.Offset > 1000 || q.StoreID == 0 {
		return false
	}
	if len(q.Sort) == 0 || q.Sort[0].Path == "_id" {
		return true
	}
	first := q.Sort[0].Path
	if ci.paths[first] {
		return false
	}
	for _, ix := range ci.indexes {
		if ix.paths[0] == first && !ci.multikey(ix) {
			return true
		}
	}
	return false
}

// match is "some value at path satisfies p": on a column for _id and store_id, on
// json_extract for an indexed path that never held an array, through the side table
// for a multikey path, and through json_each expansion for a path the engine does not
// index (which may hold arrays anywhere).
func (c *compiler) match(path string, p pred, sp sidePred) (string, error) {
	switch path {
	case "_id":
		return p("t.id", "'text'"), nil
	case "store_id":
		return p("t.store_id", "'integer'"), nil
	}
	segs := strings.Split(path, ".")
	if c.ci != nil {
		if mk, tracked := c.ci.paths[path]; tracked {
			if mk {
				return c.sideIn(path, sp()), nil
			}
			jp := jsonPath(segs)
			return p("json_extract(t.doc, "+jp+")", "json_type(t.doc, "+jp+")"), nil
		}
	}
	c.leaves = 0
	return c.node("t.doc", "'$", segs, func(src, jp string) string {
		V, T := "json_extract("+src+", "+jp+")", "json_type("+src+", "+jp+")"
		k := c.alias()
		return "(" + p(V, T) + " OR (" + T + " = 'array' AND EXISTS (SELECT 1 FROM json_each(" + src + ", " + jp + ") AS " + k +
			" WHERE " + p(k+".atom", k+".type") + ")))"
	})
}

// node expands a path with MongoDB's rules where arrays may be met anywhere: at each
// segment either the value is an object (go on with the next key), or an array whose
// object elements go on with the rest of the path, or, for a numeric next segment, an
// array whose element at that index goes on. leaf gets the source JSON expression and
// the SQL literal of the JSON path of the last segment. prefix is an unterminated
// JSON path literal ("'$" or "'$.\"a\"").
func (c *compiler) node(src, prefix string, segs []string, leaf func(src, jp string) string) (string, error) {
	c.leaves++
	if c.leaves > maxLeaves {
		return "", fmt.Errorf("%w: path too deep to filter without an index", db.ErrUnsupported)
	}
	p := prefix + `."` + segs[0] + `"`
	if len(segs) == 1 {
		return leaf(src, p+"'"), nil
	}
	rest := segs[1:]
	direct, err := c.node(src, p, rest, leaf)
	if err != nil {
		return "", err
	}
	k := c.alias()
	elems, err := c.node(k+".value", "'$", rest, leaf)
	if err != nil {
		return "", err
	}
	arr := "(json_type(" + src + ", " + p + "') = 'array' AND (EXISTS (SELECT 1 FROM json_each(" + src + ", " + p + "') AS " + k +
		" WHERE " + k + ".type = 'object' AND " + elems + ")"
	if _, err := strconv.Atoi(rest[0]); err == nil && len(rest[0]) < 10 {
		idx := p + "[" + rest[0] + "]"
		var byIndex string
		if len(rest) == 1 {
			byIndex = leaf(src, idx+"'")
		} else if byIndex, err = c.node(src, idx, rest[1:], leaf); err != nil {
			return "", err
		}
		arr += " OR " + byIndex
	}
	arr += "))"
	return "(" + direct + " OR " + arr + ")", nil
}

// nullOrMissing is MongoDB's {path: null}: no value at path, or a null one.
func (c *compiler) nullOrMissing(path string) (string, error) {
	switch path {
	case "_id", "store_id":
		return "0", nil
	}
	segs := strings.Split(path, ".")
	if c.ci != nil {
		if mk, tracked := c.ci.paths[path]; tracked {
			if mk {
				// No side row at all is missing; sideNull is an explicit null.
				store := ""
				if c.storeID != 0 {
					store = " AND m.store_id = t.store_id"
				}
				return "(NOT EXISTS (SELECT 1 FROM " + sideTable(c.coll) + " AS m WHERE m.id = t.id AND m.path = '" + path + "'" + store + ") OR " +
					c.sideIn(path, "m.v = "+c.arg(sideNull)) + ")", nil
			}
			return "json_extract(t.doc, " + jsonPath(segs) + ") IS NULL", nil
		}
	}
	c.leaves = 0
	exists, err := c.node("t.doc", "'$", segs, func(src, jp string) string {
		return "json_type(" + src + ", " + jp + ") IS NOT NULL"
	})
	if err != nil {
		return "", err
	}
	isNull, err := c.match(path, func(_, T string) string { return T + " = 'null'" }, nil)
	if err != nil {
		return "", err
	}
	return "(NOT " + exists + " OR " + isNull + ")", nil
}

// orderBy returns the ORDER BY list for sort fields, always ending with the _id
// tie-breaker (ascending, whatever the direction of the fields).
func (c *compiler) orderBy(sort []db.SortField) (string, error) {
	var keys []string
	if c.storeID != 0 {
		// A constant, but naming it lets SQLite see that an index starting with store_id
		// gives the order (without it the planner may sort needlessly).
		keys = append(keys, "t.store_id")
	}
	for _, f := range sort {
		if err := checkPath(f.Path); err != nil {
			return "", err
		}
		dir := ""
		if f.Desc {
			dir = " DESC"
		}
		switch {
		case f.Path == "_id":
			keys = append(keys, "t.id"+dir)
			return strings.Join(keys, ", "), nil // unique: nothing after it matters
		case f.Path == "store_id" && c.storeID != 0:
			continue
		case c.ci != nil && c.ci.paths[f.Path]:
			agg := "min"
			if f.Desc {
				agg = "max"
			}
			keys = append(keys, "(SELECT "+agg+"(m.v) FROM "+sideTable(c.coll)+" AS m WHERE m.id = t.id AND m.path = '"+f.Path+
				"' AND typeof(m.v) <> 'blob')"+dir)
		default:
			keys = append(keys, exprFor("t.", f.Path)+dir)
		}
	}
	keys = append(keys, "t.id")
	return strings.Join(keys, ", "), nil
}

// columns returns the select list for a projection: t.id, then either the document or one
// JSON column per top-level field of the projection (nil tops means whole documents).
func columns(fields []string) (string, []string) {
	if len(fields) == 0 {
		return "t.id, json(t.doc)", nil
	}
	seen := map[string]bool{"_id": true}
	var tops []string
	for _, f := range fields {
		top, _, _ := strings.Cut(f, ".")
		if !seen[top] {
			seen[top] = true
			tops = append(tops, top)
		}
	}
	if len(tops) > 64 {
		return "t.id, json(t.doc)", nil
	}
	cols := []string{"t.id"}
	for _, top := range tops {
		cols = append(cols, "t.doc -> "+jsonPath([]string{top}))
	}
	if len(tops) == 0 {
		return "t.id", []string{}
	}
	return strings.Join(cols, ", "), tops
}

// decodeValue decodes JSON text with json.Number numbers.
func decodeValue(raw []byte) (any, error) {
	if v, ok := decodeScalar(raw); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("sqlite: decode document: %w", err)
	}
	return v, nil
}

// decodeScalar decodes the common small values of projected columns (literals,
// numbers, strings without escapes) without a json.Decoder; ok is false for anything
// else, which decodeValue then decodes in full.
func decodeScalar(raw []byte) (any, bool) {
	switch string(raw) {
	case "null":
		return nil, true
	case "true":
		return true, true
	case "false":
		return false, true
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		body := raw[1 : len(raw)-1]
		for _, c := range body {
			if c == '\\' || c == '"' || c < 0x20 {
				return nil, false
			}
		}
		if !utf8.Valid(body) {
			return nil, false
		}
		return string(body), true
	}
	if len(raw) > 0 && len(raw) < 64 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		if _, err := strconv.ParseFloat(string(raw), 64); err == nil || isRange(err) {
			if json.Valid(raw) {
				return json.Number(raw), true
			}
		}
	}
	return nil, false
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func decodeDoc(raw []byte) (db.Doc, error) {
	v, err := decodeValue(raw)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("sqlite: stored document is not an object")
	}
	return m, nil
}
