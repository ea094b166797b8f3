package resources

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"storeapi/db"
)

// ErrBadQuery means a list's query string is malformed (400). ParseListQuery wraps it
// with a message naming the parameter.
var ErrBadQuery = errors.New("resources: bad query")

// The bounds of a list query (SPEC §4).
const (
	lqDefaultLimit = 1000    // limit when the query has none
	lqMaxLimit     = 1000    // largest limit
	lqMaxQuery     = 8 << 10 // bytes of the raw query string
	lqMaxConds     = 100     // filter conditions
	lqMaxValues    = 1000    // values of all conditions together
	lqMaxPath      = 200     // bytes of one dot path
	lqMaxSort      = 32      // sort fields (MongoDB sorts on at most 32 keys)
)

// ListParams is a list request's query string taken apart (SPEC §4): the filter (Conds,
// ANDed), the order, the projection and the page. Every path in it matches
// ^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$ and is at most 200 bytes; Sort paths are distinct;
// Fields has no duplicates and no path below another listed path. Limit is 1..1000
// (1000 when not given) and Offset ≥ 0.
type ListParams struct {
	Conds  []db.Cond
	Sort   []db.SortField
	Fields []string
	Limit  int
	Offset int
}

// ParseListQuery parses the raw query string of a list request (r.URL.RawQuery).
//
// Parameters are separated by '&' and may be percent-encoded or raw: a '%' not followed
// by two hex digits is a literal '%', '+' is a space, so "price%3E=10" and "price>=10",
// "name%25=blue" and "name%=blue" mean the same. Each decoded parameter is split at its
// first '='; the character before it picks the operator ("!=", ">=", "<=", "%=", else "=").
//
// limit, offset, sort (comma list of paths, '-' prefix for descending) and fields (comma
// list of paths) are reserved, may appear once and take only '='; an empty sort or fields
// is the same as none. A parameter named "_" (a cache buster) is ignored. Every other
// parameter is a condition on the dot path its name is: "k=a,b" equals any of the values,
// "k!=a,b" none of them; ">=", "<=" and "%=" take the whole text as one value. Values
// "true", "false", "null" and numbers (^-?[0-9]+(\.[0-9]+)?$) are typed: int64 when
// integral and in range, else float64; the rest, and every "%=" value, are strings.
//
// Any malformed parameter, a name that is not a plain dot path (nothing a client sends
// may become a MongoDB operator), a query over 8 KiB, more than 100 conditions or 1000
// values is an error wrapping ErrBadQuery. ParseListQuery never panics.
func ParseListQuery(rawQuery string) (ListParams, error) {
	p := ListParams{Limit: lqDefaultLimit}
	if len(rawQuery) > lqMaxQuery {
		return ListParams{}, fmt.Errorf("%w: the query string is longer than %d bytes", ErrBadQuery, lqMaxQuery)
	}
	var seenLimit, seenOffset, seenSort, seenFields bool
	values := 0
	for pair := range strings.SplitSeq(rawQuery, "&") {
		if pair == "" {
			continue
		}
		param := lqUnescape(pair)
		eq := strings.IndexByte(param, '=')
		if eq < 0 {
			if param == "_" {
				continue
			}
			return ListParams{}, fmt.Errorf("%w: parameter %s has no '=' and value", ErrBadQuery, addrQuote(param))
		}
		key, val := param[:eq], param[eq+1:]
		op := db.OpEq
		if key != "" {
			switch key[len(key)-1] {
			case '!':
				op = db.OpNe
			case '>':
				op = db.OpGte
			case '<':
				op = db.OpLte
			case '%':
				op = db.OpContains
			}
			if op != db.OpEq {
				key = key[:len(key)-1]
			}
		}
		if key == "_" {
			continue
		}
		if !utf8.ValidString(val) {
			return ListParams{}, fmt.Errorf("%w: the value of %s is not UTF-8 text", ErrBadQuery, addrQuote(key))
		}

		switch key {
		case "limit", "offset", "sort", "fields":
			if op != db.OpEq {
				return ListParams{}, fmt.Errorf("%w: %s takes '=', not '%s'", ErrBadQuery, key, op)
			}
		}
		var err error
		switch key {
		case "limit":
			if seenLimit {
				return ListParams{}, fmt.Errorf("%w: limit is given twice", ErrBadQuery)
			}
			seenLimit = true
			n, ok := lqInt(val)
			if !ok || n < 1 || n > lqMaxLimit {
				return ListParams{}, fmt.Errorf("%w: limit must be an integer from 1 to %d", ErrBadQuery, lqMaxLimit)
			}
			p.Limit = n
		case "offset":
			if seenOffset {
				return ListParams{}, fmt.Errorf("%w: offset is given twice", ErrBadQuery)
			}
			seenOffset = true
			n, ok := lqInt(val)
			if !ok {
				return ListParams{}, fmt.Errorf("%w: offset must be an integer from 0", ErrBadQuery)
			}
			p.Offset = n
		case "sort":
			if seenSort {
				return ListParams{}, fmt.Errorf("%w: sort is given twice", ErrBadQuery)
			}
			seenSort = true
			if p.Sort, err = lqSort(val); err != nil {
				return ListParams{}, err
			}
		case "fields":
			if seenFields {
				return ListParams{}, fmt.Errorf("%w: fields is given twice", ErrBadQuery)
			}
			seenFields = true
			if p.Fields, err = lqFields(val); err != nil {
				return ListParams{}, err
			}
		default:
			if !lqValidPath(key) {
				return ListParams{}, fmt.Errorf("%w: %s is not a field path (letters, digits, '_' and single dots)", ErrBadQuery, addrQuote(key))
			}
			if len(p.Conds) == lqMaxConds {
				return ListParams{}, fmt.Errorf("%w: more than %d filter conditions", ErrBadQuery, lqMaxConds)
			}
			c := db.Cond{Path: key, Op: op}
			n := 1
			if op == db.OpEq || op == db.OpNe {
				n = strings.Count(val, ",") + 1
			}
			if values += n; values > lqMaxValues {
				return ListParams{}, fmt.Errorf("%w: more than %d filter values", ErrBadQuery, lqMaxValues)
			}
			switch op {
			case db.OpEq, db.OpNe:
				c.Values = make([]db.Value, 0, n)
				for raw := range strings.SplitSeq(val, ",") {
					c.Values = append(c.Values, lqValue(raw))
				}
			case db.OpContains:
				c.Values = []db.Value{{Typed: val, Raw: val}}
			default:
				c.Values = []db.Value{lqValue(val)}
			}
			p.Conds = append(p.Conds, c)
		}
	}
	return p, nil
}

// lqSort parses the value of sort: comma-separated distinct paths, each with an optional
// '-' prefix for descending. An empty value is no sort.
func lqSort(val string) ([]db.SortField, error) {
	if val == "" {
		return nil, nil
	}
	n := strings.Count(val, ",") + 1
	if n > lqMaxSort {
		return nil, fmt.Errorf("%w: sort has more than %d fields", ErrBadQuery, lqMaxSort)
	}
	sort := make([]db.SortField, 0, n)
	for item := range strings.SplitSeq(val, ",") {
		f := db.SortField{Path: item}
		if rest, ok := strings.CutPrefix(item, "-"); ok {
			f = db.SortField{Path: rest, Desc: true}
		}
		if !lqValidPath(f.Path) {
			return nil, fmt.Errorf("%w: sort field %s is not a field path", ErrBadQuery, addrQuote(item))
		}
		for _, g := range sort {
			if g.Path == f.Path {
				return nil, fmt.Errorf("%w: sort names %s twice", ErrBadQuery, addrQuote(f.Path))
			}
		}
		sort = append(sort, f)
	}
	return sort, nil
}

// lqFields parses the value of fields: comma-separated paths. Repeated paths and paths
// below another listed path ("price.amount" with "price") are dropped: the projection is
// the same and MongoDB refuses such collisions. An empty value is no projection.
func lqFields(val string) ([]string, error) {
	if val == "" {
		return nil, nil
	}
	listed := make(map[string]bool)
	var all []string
	for item := range strings.SplitSeq(val, ",") {
		if !lqValidPath(item) {
			return nil, fmt.Errorf("%w: field %s is not a field path", ErrBadQuery, addrQuote(item))
		}
		if !listed[item] {
			listed[item] = true
			all = append(all, item)
		}
	}
	fields := all[:0]
next:
	for _, f := range all {
		for i := 0; i < len(f); i++ {
			if f[i] == '.' && listed[f[:i]] {
				continue next
			}
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// lqValidPath reports whether s is a dot path of at most lqMaxPath bytes:
// ^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$.
func lqValidPath(s string) bool {
	if s == "" || len(s) > lqMaxPath || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// lqInt parses a non-negative decimal integer written with digits only.
func lqInt(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// lqValue types one filter value: true, false, null, numbers (int64 when integral and in
// range, else a finite float64), else the string itself. Raw is always the text.
func lqValue(raw string) db.Value {
	v := db.Value{Typed: raw, Raw: raw}
	switch raw {
	case "true":
		v.Typed = true
		return v
	case "false":
		v.Typed = false
		return v
	case "null":
		v.Typed = nil
		return v
	}
	intPart, frac, ok := lqNumber(raw)
	if !ok {
		return v
	}
	if strings.Trim(frac, "0") == "" {
		if n, err := strconv.ParseInt(intPart, 10, 64); err == nil {
			v.Typed = n
			return v
		}
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil && !math.IsInf(f, 0) {
		v.Typed = f
	}
	return v
}

// lqNumber reports whether s matches ^-?[0-9]+(\.[0-9]+)?$ and returns its integer part
// (with the sign) and its fraction digits.
func lqNumber(s string) (intPart, frac string, ok bool) {
	digits := func(t string) bool {
		if t == "" {
			return false
		}
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return true
	}
	intPart, frac, dot := strings.Cut(s, ".")
	if !digits(strings.TrimPrefix(intPart, "-")) || (dot && !digits(frac)) {
		return "", "", false
	}
	return intPart, frac, true
}

// lqUnescape decodes a query parameter leniently: "%XX" with two hex digits is that
// byte, any other '%' stays a literal '%', and '+' is a space.
func lqUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && lqIsHex(s[i+1]) && lqIsHex(s[i+2]):
			b.WriteByte(lqHex(s[i+1])<<4 | lqHex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// lqIsHex reports whether c is a hex digit.
func lqIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lqHex returns the value of the hex digit c.
func lqHex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// DescribeQuery returns the filter of conds as understood, in MongoDB's words, for the
// meta.query of a list answer: {"sku":"abc"} for one equal value, {"$in":[…]},
// {"$nin":[…]}, {"$ne":v}, {"$gte":v}, {"$lte":v}, {"$regex":"<quoted literal>","$options":"i"}
// for "%=". The conditions on one path are merged into one object ({"$eq":v} for an equal
// value there); when two of them use the same operator, that path's conditions are listed
// under "$and" instead. Values keep their types (numbers are int64 or float64). The
// result is never nil and is only a description: nothing runs it.
func DescribeQuery(conds []db.Cond) map[string]any {
	out := make(map[string]any)
	var paths []string
	byPath := make(map[string][]db.Cond)
	for _, c := range conds {
		if _, ok := byPath[c.Path]; !ok {
			paths = append(paths, c.Path)
		}
		byPath[c.Path] = append(byPath[c.Path], c)
	}
	var and []any
	for _, path := range paths {
		cs := byPath[path]
		if len(cs) == 1 && cs[0].Op == db.OpEq && len(cs[0].Values) == 1 {
			out[path] = cs[0].Values[0].Typed
			continue
		}
		merged := make(map[string]any)
		collides := false
		for _, c := range cs {
			for k, v := range lqDescribeCond(c) {
				if _, ok := merged[k]; ok {
					collides = true
				}
				merged[k] = v
			}
		}
		if !collides {
			out[path] = merged
			continue
		}
		for _, c := range cs {
			var d any = lqDescribeCond(c)
			if c.Op == db.OpEq && len(c.Values) == 1 {
				d = c.Values[0].Typed
			}
			and = append(and, map[string]any{path: d})
		}
	}
	if and != nil {
		out["$and"] = and
	}
	return out
}

// lqDescribeCond returns the MongoDB operator object of one condition.
func lqDescribeCond(c db.Cond) map[string]any {
	typed := func() []any {
		vs := make([]any, len(c.Values))
		for i, v := range c.Values {
			vs[i] = v.Typed
		}
		return vs
	}
	first := func() any {
		if len(c.Values) == 0 {
			return nil
		}
		return c.Values[0].Typed
	}
	switch c.Op {
	case db.OpEq:
		if len(c.Values) == 1 {
			return map[string]any{"$eq": first()}
		}
		return map[string]any{"$in": typed()}
	case db.OpNe:
		if len(c.Values) == 1 {
			return map[string]any{"$ne": first()}
		}
		return map[string]any{"$nin": typed()}
	case db.OpGte:
		return map[string]any{"$gte": first()}
	case db.OpLte:
		return map[string]any{"$lte": first()}
	case db.OpContains:
		s := ""
		if len(c.Values) > 0 {
			s = c.Values[0].Raw
		}
		return map[string]any{"$regex": regexp.QuoteMeta(s), "$options": "i"}
	}
	return map[string]any{"$unknown": typed()}
}
