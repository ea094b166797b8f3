package resources

import (
	"encoding/json"
	"sort"
	"strings"

	"storeapi/db"
)

// This file evaluates list queries in memory, for the embedded-documents subresources
// (a product's variations, a cart's items), with the engines' semantics.

// valuesAt returns the values at a dot path, crossing arrays (MongoDB's rule); an array
// at the end of the path contributes its elements and itself.
func valuesAt(v any, path []string) []any {
	if len(path) == 0 {
		if arr, ok := v.([]any); ok {
			return append(append([]any{}, arr...), v)
		}
		return []any{v}
	}
	switch t := v.(type) {
	case map[string]any:
		child, ok := t[path[0]]
		if !ok {
			return nil
		}
		return valuesAt(child, path[1:])
	case []any:
		var out []any
		for _, x := range t {
			out = append(out, valuesAt(x, path)...)
		}
		return out
	}
	return nil
}

// number returns v as a float64 when it is a JSON number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// equalValue reports whether a stored value equals a condition value, with the
// numeric-string rule: a numeric value also matches its digits stored as a string.
func equalValue(stored any, want db.Value) bool {
	if wn, ok := number(want.Typed); ok {
		if sn, ok := number(stored); ok {
			return sn == wn
		}
		s, ok := stored.(string)
		return ok && s == want.Raw
	}
	switch w := want.Typed.(type) {
	case nil:
		return stored == nil
	case bool:
		b, ok := stored.(bool)
		return ok && b == w
	case string:
		s, ok := stored.(string)
		return ok && s == w
	}
	return false
}

// compareBracketed compares a stored value with a bound of the same type bracket
// (numbers with numbers, strings with strings); ok is false across brackets.
func compareBracketed(stored, bound any) (cmp int, ok bool) {
	if bn, isNum := number(bound); isNum {
		sn, ok := number(stored)
		if !ok {
			return 0, false
		}
		switch {
		case sn < bn:
			return -1, true
		case sn > bn:
			return 1, true
		}
		return 0, true
	}
	bs, isStr := bound.(string)
	ss, ok := stored.(string)
	if !isStr || !ok {
		return 0, false
	}
	return strings.Compare(ss, bs), true
}

// matchCond reports whether doc satisfies one condition.
func matchCond(doc any, c db.Cond) bool {
	vals := valuesAt(doc, strings.Split(c.Path, "."))
	switch c.Op {
	case db.OpEq, db.OpNe:
		found := false
		for _, want := range c.Values {
			if want.Typed == nil && len(vals) == 0 {
				found = true
			}
			for _, v := range vals {
				if equalValue(v, want) {
					found = true
				}
			}
		}
		return found == (c.Op == db.OpEq)
	case db.OpGte, db.OpLte:
		for _, v := range vals {
			cmp, ok := compareBracketed(v, c.Values[0].Typed)
			if ok && ((c.Op == db.OpGte && cmp >= 0) || (c.Op == db.OpLte && cmp <= 0)) {
				return true
			}
		}
	case db.OpContains:
		needle := strings.ToLower(c.Values[0].Raw)
		for _, v := range vals {
			if s, ok := v.(string); ok && strings.Contains(strings.ToLower(s), needle) {
				return true
			}
		}
	}
	return false
}

// matchAll reports whether doc satisfies every condition.
func matchAll(doc any, conds []db.Cond) bool {
	for _, c := range conds {
		if !matchCond(doc, c) {
			return false
		}
	}
	return true
}

// typeRank orders values of different types as MongoDB does: missing/null, numbers,
// strings, objects, arrays, booleans.
func typeRank(v any) int {
	if _, ok := number(v); ok {
		return 1
	}
	switch v.(type) {
	case nil:
		return 0
	case string:
		return 2
	case map[string]any:
		return 3
	case []any:
		return 4
	case bool:
		return 5
	}
	return 6
}

// compareAny orders two values for sorting.
func compareAny(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return ra - rb
	}
	if cmp, ok := compareBracketed(a, b); ok {
		return cmp
	}
	if ab, ok := a.(bool); ok {
		bb := b.(bool)
		switch {
		case ab == bb:
			return 0
		case !ab:
			return -1
		}
		return 1
	}
	return 0
}

// firstValue is the value a sort uses for a path: the first one found, or nil.
func firstValue(doc any, path string) any {
	vals := valuesAt(doc, strings.Split(path, "."))
	if len(vals) == 0 {
		return nil
	}
	return vals[0]
}

// sortDocs orders docs by fields (stable, so the array's order breaks ties).
func sortDocs(docs []any, fields []db.SortField) {
	if len(fields) == 0 {
		return
	}
	sort.SliceStable(docs, func(i, j int) bool {
		for _, f := range fields {
			cmp := compareAny(firstValue(docs[i], f.Path), firstValue(docs[j], f.Path))
			if cmp != 0 {
				return (cmp < 0) != f.Desc
			}
		}
		return false
	})
}

// project keeps only the given dot paths of doc (and its _id).
func project(doc any, fields []string) any {
	m, ok := doc.(map[string]any)
	if !ok || len(fields) == 0 {
		return doc
	}
	out := map[string]any{}
	if id, ok := m["_id"]; ok {
		out["_id"] = id
	}
	for _, f := range fields {
		copyPath(out, m, strings.Split(f, "."))
	}
	return out
}

// copyPath copies the value at path from src into dst, creating the objects on the way.
func copyPath(dst, src map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	switch t := v.(type) {
	case map[string]any:
		child, _ := dst[path[0]].(map[string]any)
		if child == nil {
			child = map[string]any{}
			dst[path[0]] = child
		}
		copyPath(child, t, path[1:])
	case []any:
		out, _ := dst[path[0]].([]any)
		if out == nil {
			out = make([]any, len(t))
			for i := range out {
				out[i] = map[string]any{}
			}
			dst[path[0]] = out
		}
		for i, x := range t {
			if xm, ok := x.(map[string]any); ok {
				if om, ok := out[i].(map[string]any); ok {
					copyPath(om, xm, path[1:])
				}
			}
		}
	}
}
