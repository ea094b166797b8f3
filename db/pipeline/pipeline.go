// Package pipeline evaluates MongoDB aggregation pipelines in Go over decoded documents
// (the db.Doc form), for engines that cannot run them natively (db/sqlite).
//
// Supported stages: $match (equality, $eq $ne $gt $gte $lt $lte $in $nin $exists, $and
// $or, dot paths through objects and arrays), $group (an _id of field paths, objects,
// literals or null; $sum $avg $min $max $first $last $push $addToSet $count), $sort,
// $limit, $skip, $project (inclusion, exclusion, "$a.b" field paths and literals),
// $count and $unwind (a "$path" or {path, preserveNullAndEmptyArrays,
// includeArrayIndex}). Anything else is an error wrapping db.ErrUnsupported that names
// the stage or operator; so is a malformed stage, so that callers answer it as a client
// error.
//
// Semantics follow MongoDB's, with two limits of the db.Doc form: object keys have no
// order, so a $sort object with several keys sorts by them in key name order (pass
// $sort an array of one-key objects, [{"a":1},{"b":-1}], to give the order), and
// computed numbers come back as json.Number.
package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"storeapi/db"
)

// MaxDocs bounds the documents a stage may produce ($unwind multiplies them); a
// pipeline that goes over fails with an error wrapping db.ErrUnsupported.
const MaxDocs = 1_000_000

// Run applies the stages in order to docs and returns the result. The input documents
// are not modified; result documents may share values with them. Numbers the pipeline
// computes are json.Number.
func Run(docs []db.Doc, stages []db.Doc) ([]db.Doc, error) {
	cur := docs
	for i, st := range stages {
		if len(st) != 1 {
			return nil, fmt.Errorf("%w: stage %d must have exactly one key", db.ErrUnsupported, i)
		}
		for name, spec := range st {
			next, err := runStage(cur, name, spec)
			if err != nil {
				return nil, err
			}
			if len(next) > MaxDocs {
				return nil, fmt.Errorf("%w: stage %s produces more than %d documents", db.ErrUnsupported, name, MaxDocs)
			}
			cur = next
		}
	}
	if len(stages) == 0 {
		cur = slices.Clone(docs)
	}
	return cur, nil
}

func runStage(docs []db.Doc, name string, spec any) ([]db.Doc, error) {
	switch name {
	case "$match":
		return stageMatch(docs, spec)
	case "$group":
		return stageGroup(docs, spec)
	case "$sort":
		return stageSort(docs, spec)
	case "$limit":
		n, err := count(name, spec, 1)
		if err != nil {
			return nil, err
		}
		return docs[:min(n, len(docs)):min(n, len(docs))], nil
	case "$skip":
		n, err := count(name, spec, 0)
		if err != nil {
			return nil, err
		}
		return docs[min(n, len(docs)):], nil
	case "$project":
		return stageProject(docs, spec)
	case "$count":
		return stageCount(docs, spec)
	case "$unwind":
		return stageUnwind(docs, spec)
	}
	return nil, fmt.Errorf("%w: stage %s", db.ErrUnsupported, name)
}

// count reads the integer argument of $limit / $skip.
func count(stage string, spec any, least int64) (int, error) {
	f, i, isInt, ok := number(spec)
	if !ok || !isInt || i < least || f > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %s needs an integer >= %d", db.ErrUnsupported, stage, least)
	}
	return int(i), nil
}

func stageMatch(docs []db.Doc, spec any) ([]db.Doc, error) {
	filter, ok := spec.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: $match needs an object", db.ErrUnsupported)
	}
	out := make([]db.Doc, 0, len(docs))
	for _, d := range docs {
		m, err := matchDoc(d, filter)
		if err != nil {
			return nil, err
		}
		if m {
			out = append(out, d)
		}
	}
	if len(docs) == 0 {
		// Validate the filter even without documents, so errors do not depend on data.
		if _, err := matchDoc(db.Doc{}, filter); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func stageCount(docs []db.Doc, spec any) ([]db.Doc, error) {
	name, ok := spec.(string)
	if !ok || name == "" || strings.HasPrefix(name, "$") || strings.Contains(name, ".") {
		return nil, fmt.Errorf("%w: $count needs a field name", db.ErrUnsupported)
	}
	if len(docs) == 0 {
		return []db.Doc{}, nil
	}
	return []db.Doc{{name: json.Number(strconv.Itoa(len(docs)))}}, nil
}

// sortKey is one field of a $sort.
type sortKey struct {
	path string
	desc bool
}

func parseSort(spec any) ([]sortKey, error) {
	var keys []sortKey
	addObj := func(m map[string]any) error {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := checkPath(k); err != nil || strings.HasPrefix(k, "$") {
				return fmt.Errorf("%w: $sort field %q", db.ErrUnsupported, k)
			}
			_, dir, isInt, ok := number(m[k])
			if !ok || !isInt || (dir != 1 && dir != -1) {
				return fmt.Errorf("%w: $sort direction of %q must be 1 or -1", db.ErrUnsupported, k)
			}
			keys = append(keys, sortKey{path: k, desc: dir == -1})
		}
		return nil
	}
	switch x := spec.(type) {
	case map[string]any:
		if err := addObj(x); err != nil {
			return nil, err
		}
	case []any:
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok || len(m) != 1 {
				return nil, fmt.Errorf("%w: $sort array entries must be one-key objects", db.ErrUnsupported)
			}
			if err := addObj(m); err != nil {
				return nil, err
			}
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: $sort needs at least one field", db.ErrUnsupported)
	}
	return keys, nil
}

// sortValue is the value a document sorts by on one key: MongoDB compares arrays by
// their smallest element ascending and their largest descending; missing is null.
func sortValue(doc map[string]any, k sortKey) any {
	vs, _ := Lookup(doc, k.path)
	var best any = missing
	consider := func(v any) {
		if best == missing {
			best = v
			return
		}
		c := compare(v, best)
		if (!k.desc && c < 0) || (k.desc && c > 0) {
			best = v
		}
	}
	for _, v := range vs {
		if a, ok := v.([]any); ok {
			for _, e := range a {
				consider(e)
			}
			continue
		}
		consider(v)
	}
	if best == missing {
		return nil
	}
	return best
}

func stageSort(docs []db.Doc, spec any) ([]db.Doc, error) {
	keys, err := parseSort(spec)
	if err != nil {
		return nil, err
	}
	type row struct {
		doc  db.Doc
		vals []any
	}
	rows := make([]row, len(docs))
	for i, d := range docs {
		vals := make([]any, len(keys))
		for j, k := range keys {
			vals[j] = sortValue(d, k)
		}
		rows[i] = row{d, vals}
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		for j, k := range keys {
			c := compare(a.vals[j], b.vals[j])
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	out := make([]db.Doc, len(rows))
	for i, r := range rows {
		out[i] = r.doc
	}
	return out, nil
}

func stageUnwind(docs []db.Doc, spec any) ([]db.Doc, error) {
	var path, indexField string
	preserve := false
	switch x := spec.(type) {
	case string:
		path = x
	case map[string]any:
		for k, v := range x {
			switch k {
			case "path":
				path, _ = v.(string)
			case "preserveNullAndEmptyArrays":
				b, ok := v.(bool)
				if !ok {
					return nil, fmt.Errorf("%w: $unwind preserveNullAndEmptyArrays must be a boolean", db.ErrUnsupported)
				}
				preserve = b
			case "includeArrayIndex":
				s, ok := v.(string)
				if !ok || s == "" || strings.HasPrefix(s, "$") || checkPath(s) != nil {
					return nil, fmt.Errorf("%w: $unwind includeArrayIndex must be a field name", db.ErrUnsupported)
				}
				indexField = s
			default:
				return nil, fmt.Errorf("%w: $unwind option %s", db.ErrUnsupported, k)
			}
		}
	}
	if !strings.HasPrefix(path, "$") || strings.HasPrefix(path, "$$") || checkPath(path[1:]) != nil {
		return nil, fmt.Errorf("%w: $unwind needs a \"$field\" path", db.ErrUnsupported)
	}
	segs := strings.Split(path[1:], ".")
	var idxSegs []string
	if indexField != "" {
		idxSegs = strings.Split(indexField, ".")
	}
	out := make([]db.Doc, 0, len(docs))
	for _, d := range docs {
		v, ok := getPath(d, segs)
		arr, isArr := v.([]any)
		switch {
		case isArr && len(arr) > 0:
			for i, e := range arr {
				nd := setPath(d, segs, e)
				if idxSegs != nil {
					nd = setPath(nd, idxSegs, json.Number(strconv.Itoa(i)))
				}
				out = append(out, nd)
				if len(out) > MaxDocs {
					return nil, fmt.Errorf("%w: $unwind produces more than %d documents", db.ErrUnsupported, MaxDocs)
				}
			}
		case ok && v != nil && !isArr:
			nd := d
			if idxSegs != nil {
				nd = setPath(nd, idxSegs, nil)
			}
			out = append(out, nd)
		case preserve:
			nd := d
			if isArr {
				nd = deletePath(d, segs) // MongoDB drops an empty array it preserves
			}
			if idxSegs != nil {
				nd = setPath(nd, idxSegs, nil)
			}
			out = append(out, nd)
		}
	}
	return out, nil
}

func stageProject(docs []db.Doc, spec any) ([]db.Doc, error) {
	m, ok := spec.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, fmt.Errorf("%w: $project needs a non-empty object", db.ErrUnsupported)
	}
	p := projection{}
	if err := p.parse("", m, 0); err != nil {
		return nil, err
	}
	if len(p.exclude) > 0 && (len(p.include) > 0 || len(p.computed) > 0) {
		return nil, fmt.Errorf("%w: $project cannot mix inclusion and exclusion", db.ErrUnsupported)
	}
	out := make([]db.Doc, len(docs))
	for i, d := range docs {
		r, err := p.apply(d)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// projection is a parsed $project: included paths, excluded paths, computed fields.
type projection struct {
	include  []string
	exclude  []string
	computed []computedField
	noID     bool
	withID   bool // "_id": 1 was given, which alone is an inclusion projection
}

type computedField struct {
	segs []string
	expr any
}

func (p *projection) parse(prefix string, m map[string]any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: $project nested too deeply", db.ErrUnsupported)
	}
	for k, v := range m {
		if strings.HasPrefix(k, "$") || checkPath(k) != nil {
			return fmt.Errorf("%w: $project field %q", db.ErrUnsupported, k)
		}
		path := prefix + k
		if sub, ok := v.(map[string]any); ok {
			if _, isOps, err := isOperatorDoc(sub); err != nil {
				return err
			} else if !isOps {
				if len(sub) == 0 {
					return fmt.Errorf("%w: $project of %q is an empty object", db.ErrUnsupported, path)
				}
				if err := p.parse(path+".", sub, depth+1); err != nil {
					return err
				}
				continue
			}
		}
		flag, isFlag := v.(bool)
		if f, _, _, ok := number(v); ok {
			flag, isFlag = f != 0, true
		}
		switch {
		case isFlag && path == "_id":
			p.noID, p.withID = !flag, flag
		case isFlag && flag:
			p.include = append(p.include, path)
		case isFlag:
			p.exclude = append(p.exclude, path)
		default:
			if path == "_id" {
				p.noID = false
			}
			p.computed = append(p.computed, computedField{strings.Split(path, "."), v})
		}
	}
	return nil
}

func (p *projection) apply(d db.Doc) (db.Doc, error) {
	if len(p.include) == 0 && len(p.computed) == 0 && (!p.withID || len(p.exclude) > 0) {
		out := d
		for _, e := range p.exclude {
			out = deletePath(out, strings.Split(e, "."))
		}
		if p.noID {
			out = deletePath(out, []string{"_id"})
		}
		return out, nil
	}
	out := Project(d, p.include)
	if p.noID {
		delete(out, "_id")
	}
	for _, c := range p.computed {
		v, err := eval(d, c.expr, 0)
		if err != nil {
			return nil, err
		}
		if v == missing {
			continue
		}
		out = setPath(out, c.segs, v)
	}
	return out, nil
}
