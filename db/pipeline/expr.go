package pipeline

import (
	"fmt"
	"strings"

	"storeapi/db"
)

// maxDepth bounds the nesting of expressions and values walked recursively, so that a
// hostile pipeline cannot exhaust the stack.
const maxDepth = 100

// eval evaluates an aggregation expression against doc: "$a.b" field paths (through
// arrays they yield the array of values found), "$$ROOT" / "$$CURRENT", {"$literal": v},
// objects and arrays of expressions, and literals. It returns missing when a field path
// finds nothing. Any other operator is ErrUnsupported.
func eval(doc map[string]any, expr any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: expression nested too deeply", db.ErrUnsupported)
	}
	switch x := expr.(type) {
	case string:
		if !strings.HasPrefix(x, "$") {
			return x, nil
		}
		if strings.HasPrefix(x, "$$") {
			name, rest, _ := strings.Cut(x[2:], ".")
			if name != "ROOT" && name != "CURRENT" {
				return nil, fmt.Errorf("%w: variable $$%s", db.ErrUnsupported, name)
			}
			if rest == "" {
				return doc, nil
			}
			return fieldPath(doc, rest)
		}
		return fieldPath(doc, x[1:])
	case map[string]any:
		if len(x) == 1 {
			for k, v := range x {
				if k == "$literal" {
					return v, nil
				}
				if strings.HasPrefix(k, "$") {
					return nil, fmt.Errorf("%w: operator %s", db.ErrUnsupported, k)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, v := range x {
			if strings.HasPrefix(k, "$") {
				return nil, fmt.Errorf("%w: operator %s", db.ErrUnsupported, k)
			}
			if strings.Contains(k, ".") || k == "" {
				return nil, fmt.Errorf("%w: field name %q", db.ErrUnsupported, k)
			}
			r, err := eval(doc, v, depth+1)
			if err != nil {
				return nil, err
			}
			if r != missing {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := eval(doc, e, depth+1)
			if err != nil {
				return nil, err
			}
			if r == missing {
				r = nil
			}
			out[i] = r
		}
		return out, nil
	}
	return expr, nil
}

// fieldPath is the value of an aggregation field path ("a.b" without the "$"): through
// an array of objects it yields the array of the values found in its elements.
func fieldPath(doc map[string]any, path string) (any, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	return exprWalk(doc, strings.Split(path, ".")), nil
}

func exprWalk(v any, segs []string) any {
	if len(segs) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		c, ok := x[segs[0]]
		if !ok {
			return missing
		}
		return exprWalk(c, segs[1:])
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				if r := exprWalk(e, segs); r != missing {
					out = append(out, r)
				}
			}
		}
		return out
	}
	return missing
}
