package pipeline

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// missing stands for "no value at this path" where a value is expected (accumulators,
// sort keys); it never reaches a result document.
type missingType struct{}

var missing any = missingType{}

// number converts a JSON number in any accepted form to float64 and, when it is an
// integer that int64 holds exactly, to int64 as well.
func number(v any) (f float64, i int64, isInt, ok bool) {
	switch n := v.(type) {
	case json.Number:
		if k, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return float64(k), k, true, true
		}
		x, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !isRangeErr(err) {
			return 0, 0, false, false
		}
		return x, 0, false, true
	case int64:
		return float64(n), n, true, true
	case int:
		return float64(n), int64(n), true, true
	case int32:
		return float64(n), int64(n), true, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<63 {
			return n, int64(n), true, true
		}
		return n, 0, false, true
	case float32:
		return number(float64(n))
	}
	return 0, 0, false, false
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// rank is MongoDB's BSON type order for the JSON types: null (and missing) < numbers <
// strings < objects < arrays < booleans.
func rank(v any) int {
	switch v.(type) {
	case nil, missingType:
		return 1
	case string:
		return 3
	case map[string]any:
		return 4
	case []any:
		return 5
	case bool:
		return 6
	}
	if _, _, _, ok := number(v); ok {
		return 2
	}
	return 7 // unknown Go types sort last; documents never hold them
}

// compare orders two values the way MongoDB does: first by type rank, then by value
// (numbers numerically, strings bytewise, objects by sorted keys then values, arrays
// element by element, false before true).
func compare(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
	}
	switch ra {
	case 1:
		return 0
	case 2:
		return compareNumbers(a, b)
	case 3:
		return strings.Compare(a.(string), b.(string))
	case 4:
		ma, mb := a.(map[string]any), b.(map[string]any)
		ka, kb := slices.Sorted(maps.Keys(ma)), slices.Sorted(maps.Keys(mb))
		for i := 0; i < len(ka) && i < len(kb); i++ {
			if c := strings.Compare(ka[i], kb[i]); c != 0 {
				return c
			}
			if c := compare(ma[ka[i]], mb[kb[i]]); c != 0 {
				return c
			}
		}
		return cmpInt(len(ka), len(kb))
	case 5:
		aa, ab := a.([]any), b.([]any)
		for i := 0; i < len(aa) && i < len(ab); i++ {
			if c := compare(aa[i], ab[i]); c != 0 {
				return c
			}
		}
		return cmpInt(len(aa), len(ab))
	case 6:
		ba, bb := a.(bool), b.(bool)
		switch {
		case ba == bb:
			return 0
		case !ba:
			return -1
		}
		return 1
	}
	return 0
}

func compareNumbers(a, b any) int {
	fa, ia, inta, _ := number(a)
	fb, ib, intb, _ := number(b)
	if inta && intb {
		return cmpInt64(ia, ib)
	}
	switch {
	case math.IsNaN(fa) && math.IsNaN(fb):
		return 0
	case math.IsNaN(fa):
		return -1
	case math.IsNaN(fb):
		return 1
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}

func cmpInt(a, b int) int { return cmpInt64(int64(a), int64(b)) }

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// key returns a string that is equal for two values exactly when compare says they
// are equal (1 and 1.0 share a key), for grouping and $addToSet.
func key(v any) string {
	var b strings.Builder
	writeKey(&b, v)
	return b.String()
}

func writeKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil, missingType:
		b.WriteString("z")
	case string:
		b.WriteString("s")
		b.WriteString(strconv.Quote(x))
	case bool:
		if x {
			b.WriteString("T")
		} else {
			b.WriteString("F")
		}
	case map[string]any:
		b.WriteString("{")
		for _, k := range slices.Sorted(maps.Keys(x)) {
			b.WriteString(strconv.Quote(k))
			b.WriteString(":")
			writeKey(b, x[k])
			b.WriteString(",")
		}
		b.WriteString("}")
	case []any:
		b.WriteString("[")
		for _, e := range x {
			writeKey(b, e)
			b.WriteString(",")
		}
		b.WriteString("]")
	default:
		f, i, isInt, ok := number(v)
		switch {
		case !ok:
			b.WriteString("?")
		case isInt:
			b.WriteString("n")
			b.WriteString(strconv.FormatInt(i, 10))
		default:
			b.WriteString("n")
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
}

// Lookup returns the values at a dot path the way a MongoDB query sees them: a segment
// applied to an array applies to each element that is an object, and a numeric segment
// also selects that array index. Arrays found at the end of the path are returned whole
// (callers expand them where the operator does). viaArray reports whether the walk
// crossed an array on the way, so that callers know the path is multi-valued.
func Lookup(doc map[string]any, path string) (values []any, viaArray bool) {
	var out []any
	walk(doc, strings.Split(path, "."), &out, &viaArray)
	return out, viaArray
}

func walk(v any, segs []string, out *[]any, viaArray *bool) {
	if len(segs) == 0 {
		*out = append(*out, v)
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if c, ok := x[segs[0]]; ok {
			walk(c, segs[1:], out, viaArray)
		}
	case []any:
		*viaArray = true
		if i, ok := arrayIndex(segs[0]); ok && i < len(x) {
			walk(x[i], segs[1:], out, viaArray)
		}
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				if c, ok := m[segs[0]]; ok {
					walk(c, segs[1:], out, viaArray)
				}
			}
		}
	}
}

// arrayIndex reports whether a path segment is a non-negative array index.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 {
		return 0, false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(seg)
	return n, err == nil
}

// candidates expands Lookup's values for comparison: each value, and the elements of
// each array value (MongoDB matches a scalar against an array's elements and the array
// as a whole).
func candidates(doc map[string]any, path string) (vals []any, found bool) {
	vs, _ := Lookup(doc, path)
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		out = append(out, v)
		if a, ok := v.([]any); ok {
			out = append(out, a...)
		}
	}
	return out, len(vs) > 0
}

// getPath returns the value at a dot path through objects only (no array traversal),
// as $unwind reads its path.
func getPath(doc map[string]any, segs []string) (any, bool) {
	var cur any = doc
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[s]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// setPath returns a copy of doc with the value at a dot path set, copying the objects
// along the path (never the input's) and creating missing ones; a non-object on the
// way is replaced by an object.
func setPath(doc map[string]any, segs []string, v any) map[string]any {
	out := make(map[string]any, len(doc)+1)
	for k, e := range doc {
		out[k] = e
	}
	if len(segs) == 1 {
		out[segs[0]] = v
		return out
	}
	child, _ := doc[segs[0]].(map[string]any)
	out[segs[0]] = setPath(child, segs[1:], v)
	return out
}

// deletePath returns a copy of doc without the value at a dot path, copying only what
// changes.
func deletePath(doc map[string]any, segs []string) map[string]any {
	if _, ok := doc[segs[0]]; !ok {
		return doc
	}
	out := make(map[string]any, len(doc))
	for k, e := range doc {
		out[k] = e
	}
	if len(segs) == 1 {
		delete(out, segs[0])
		return out
	}
	switch c := doc[segs[0]].(type) {
	case map[string]any:
		out[segs[0]] = deletePath(c, segs[1:])
	case []any:
		a := make([]any, len(c))
		for i, e := range c {
			if m, ok := e.(map[string]any); ok {
				a[i] = deletePath(m, segs[1:])
			} else {
				a[i] = e
			}
		}
		out[segs[0]] = a
	}
	return out
}

// Project returns a new document holding only the values at the given dot paths, as a
// MongoDB inclusion projection does: "_id" always comes back, a path through an array
// of objects keeps those objects with only the selected fields (scalars in such an
// array are dropped), and missing paths are left out. Values are shared with doc.
func Project(doc map[string]any, paths []string) map[string]any {
	tree := projTree{}
	for _, p := range paths {
		tree.add(strings.Split(p, "."))
	}
	tree["_id"] = projTree{}
	return tree.apply(doc)
}

// projTree is a set of dot paths as a tree; a leaf (empty subtree) includes the whole
// value.
type projTree map[string]projTree

func (t projTree) add(segs []string) {
	sub, ok := t[segs[0]]
	if ok && len(sub) == 0 {
		return // the whole value is already included
	}
	if len(segs) == 1 {
		t[segs[0]] = projTree{}
		return
	}
	if !ok {
		sub = projTree{}
		t[segs[0]] = sub
	}
	sub.add(segs[1:])
}

func (t projTree) apply(doc map[string]any) map[string]any {
	out := make(map[string]any, len(t))
	for k, sub := range t {
		v, ok := doc[k]
		if !ok {
			continue
		}
		if len(sub) == 0 {
			out[k] = v
			continue
		}
		if pv, keep := sub.applyValue(v); keep {
			out[k] = pv
		}
	}
	return out
}

// applyValue projects a value reached under a non-leaf path: objects are projected,
// arrays element-wise (keeping only objects and nested arrays), scalars dropped.
func (t projTree) applyValue(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return t.apply(x), true
	case []any:
		a := make([]any, 0, len(x))
		for _, e := range x {
			if pe, keep := t.applyValue(e); keep {
				a = append(a, pe)
			}
		}
		return a, true
	}
	return nil, false
}
