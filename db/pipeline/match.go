package pipeline

import (
	"fmt"
	"strings"

	"storeapi/db"
)

// matchDoc reports whether doc satisfies a MongoDB query document (the $match stage):
// field conditions (equality or an operator object) and $and / $or, all ANDed.
func matchDoc(doc map[string]any, filter map[string]any) (bool, error) {
	for k, v := range filter {
		var ok bool
		var err error
		switch {
		case k == "$and" || k == "$or":
			ok, err = matchLogical(doc, k, v)
		case strings.HasPrefix(k, "$"):
			return false, fmt.Errorf("%w: operator %s", db.ErrUnsupported, k)
		default:
			ok, err = matchField(doc, k, v)
		}
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func matchLogical(doc map[string]any, op string, v any) (bool, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return false, fmt.Errorf("%w: %s needs a non-empty array", db.ErrUnsupported, op)
	}
	for _, e := range list {
		sub, ok := e.(map[string]any)
		if !ok {
			return false, fmt.Errorf("%w: %s entries must be objects", db.ErrUnsupported, op)
		}
		m, err := matchDoc(doc, sub)
		if err != nil {
			return false, err
		}
		if op == "$or" && m {
			return true, nil
		}
		if op == "$and" && !m {
			return false, nil
		}
	}
	return op == "$and", nil
}

// isOperatorDoc reports whether v is an object whose keys are all operators; an object
// mixing operators and fields is an error, and a plain object is an equality value.
func isOperatorDoc(v any) (map[string]any, bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, false, nil
	}
	ops := 0
	for k := range m {
		if strings.HasPrefix(k, "$") {
			ops++
		}
	}
	switch ops {
	case 0:
		return nil, false, nil
	case len(m):
		return m, true, nil
	}
	return nil, false, fmt.Errorf("%w: an object mixing operators and fields", db.ErrUnsupported)
}

func matchField(doc map[string]any, path string, v any) (bool, error) {
	if err := checkPath(path); err != nil {
		return false, err
	}
	ops, isOps, err := isOperatorDoc(v)
	if err != nil {
		return false, err
	}
	if !isOps {
		return equals(doc, path, v), nil
	}
	for op, arg := range ops {
		ok, err := matchOp(doc, path, op, arg)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// checkPath refuses field paths MongoDB refuses: empty segments.
func checkPath(path string) error {
	if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
		return fmt.Errorf("%w: field path %q", db.ErrUnsupported, path)
	}
	return nil
}

func matchOp(doc map[string]any, path, op string, arg any) (bool, error) {
	switch op {
	case "$eq":
		return equals(doc, path, arg), nil
	case "$ne":
		return !equals(doc, path, arg), nil
	case "$gt", "$gte", "$lt", "$lte":
		return compares(doc, path, op, arg), nil
	case "$in", "$nin":
		list, ok := arg.([]any)
		if !ok {
			return false, fmt.Errorf("%w: %s needs an array", db.ErrUnsupported, op)
		}
		in := false
		for _, e := range list {
			if _, isOps, _ := isOperatorDoc(e); isOps {
				return false, fmt.Errorf("%w: operator inside %s", db.ErrUnsupported, op)
			}
			if equals(doc, path, e) {
				in = true
				break
			}
		}
		return in == (op == "$in"), nil
	case "$exists":
		vs, _ := Lookup(doc, path)
		return (len(vs) > 0) == truthy(arg), nil
	}
	return false, fmt.Errorf("%w: operator %s", db.ErrUnsupported, op)
}

// equals is MongoDB's equality match: any value at the path, or any element of an
// array there, equals v; null also matches a missing path.
func equals(doc map[string]any, path string, v any) bool {
	cands, found := candidates(doc, path)
	if v == nil && !found {
		return true
	}
	for _, c := range cands {
		if compare(c, v) == 0 {
			return true
		}
	}
	return false
}

// compares is a type-bracketed range match: only values of v's type are compared
// (a number bound never matches a string).
func compares(doc map[string]any, path, op string, v any) bool {
	if v == nil {
		if op == "$gte" || op == "$lte" {
			return equals(doc, path, nil)
		}
		return false
	}
	cands, _ := candidates(doc, path)
	for _, c := range cands {
		if rank(c) != rank(v) {
			continue
		}
		r := compare(c, v)
		switch op {
		case "$gt":
			if r > 0 {
				return true
			}
		case "$gte":
			if r >= 0 {
				return true
			}
		case "$lt":
			if r < 0 {
				return true
			}
		case "$lte":
			if r <= 0 {
				return true
			}
		}
	}
	return false
}

// truthy is the aggregation truth value: false, null, missing and zero are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, missingType:
		return false
	case bool:
		return x
	}
	if f, _, _, ok := number(v); ok {
		return f != 0
	}
	return true
}
