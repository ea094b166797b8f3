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

// accumulator folds the values of one $group field.
type accumulator interface {
	add(v any)
	result() any
}

// groupField is one output field of $group: its name, accumulator operator and
// argument expression.
type groupField struct {
	name string
	op   string
	expr any
}

func stageGroup(docs []db.Doc, spec any) ([]db.Doc, error) {
	m, ok := spec.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: $group needs an object", db.ErrUnsupported)
	}
	idExpr, ok := m["_id"]
	if !ok {
		return nil, fmt.Errorf("%w: $group needs an _id", db.ErrUnsupported)
	}
	var fields []groupField
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if name == "_id" {
			continue
		}
		if name == "" || strings.HasPrefix(name, "$") || strings.Contains(name, ".") {
			return nil, fmt.Errorf("%w: $group field name %q", db.ErrUnsupported, name)
		}
		accSpec, ok := m[name].(map[string]any)
		if !ok || len(accSpec) != 1 {
			return nil, fmt.Errorf("%w: $group field %q needs one accumulator", db.ErrUnsupported, name)
		}
		for op, expr := range accSpec {
			if _, err := newAccumulator(op, expr); err != nil {
				return nil, err
			}
			fields = append(fields, groupField{name, op, expr})
		}
	}
	// Validate the _id expression even without documents.
	if _, err := eval(db.Doc{}, idExpr, 0); err != nil {
		return nil, err
	}

	type group struct {
		id   any
		accs []accumulator
	}
	var order []*group
	groups := map[string]*group{}
	for _, d := range docs {
		id, err := eval(d, idExpr, 0)
		if err != nil {
			return nil, err
		}
		if id == missing {
			id = nil
		}
		k := key(id)
		g, ok := groups[k]
		if !ok {
			g = &group{id: id, accs: make([]accumulator, len(fields))}
			for i, f := range fields {
				g.accs[i], _ = newAccumulator(f.op, f.expr)
			}
			groups[k] = g
			order = append(order, g)
		}
		for i, f := range fields {
			v, err := eval(d, f.expr, 0)
			if err != nil {
				return nil, err
			}
			g.accs[i].add(v)
		}
	}
	out := make([]db.Doc, len(order))
	for i, g := range order {
		d := make(db.Doc, len(fields)+1)
		d["_id"] = g.id
		for j, f := range fields {
			d[f.name] = g.accs[j].result()
		}
		out[i] = d
	}
	return out, nil
}

func newAccumulator(op string, expr any) (accumulator, error) {
	switch op {
	case "$sum":
		return &sumAcc{}, nil
	case "$avg":
		return &sumAcc{avg: true}, nil
	case "$min":
		return &extremeAcc{sign: -1}, nil
	case "$max":
		return &extremeAcc{sign: 1}, nil
	case "$first":
		return &firstLastAcc{}, nil
	case "$last":
		return &firstLastAcc{last: true}, nil
	case "$push":
		return &pushAcc{}, nil
	case "$addToSet":
		return &pushAcc{seen: map[string]bool{}}, nil
	case "$count":
		if m, ok := expr.(map[string]any); !ok || len(m) != 0 {
			return nil, fmt.Errorf("%w: $count accumulator takes {}", db.ErrUnsupported)
		}
		return &countAcc{}, nil
	}
	return nil, fmt.Errorf("%w: operator %s", db.ErrUnsupported, op)
}

// sumAcc adds numbers (other values are ignored, as MongoDB does); it stays an integer
// while every addend is one and the sum fits int64. With avg it averages instead.
type sumAcc struct {
	avg   bool
	n     int64
	isInt bool
	i     int64
	f     float64
	init  bool
}

func (a *sumAcc) add(v any) {
	f, i, isInt, ok := number(v)
	if !ok {
		return
	}
	if !a.init {
		a.init, a.isInt = true, true
	}
	a.n++
	a.f += f
	if a.isInt && isInt {
		s := a.i + i
		if (i > 0 && s < a.i) || (i < 0 && s > a.i) {
			a.isInt = false
		} else {
			a.i = s
		}
	} else {
		a.isInt = false
	}
}

func (a *sumAcc) result() any {
	if a.avg {
		if a.n == 0 {
			return nil
		}
		return floatNumber(a.f / float64(a.n))
	}
	if !a.init || a.isInt {
		return json.Number(strconv.FormatInt(a.i, 10))
	}
	return floatNumber(a.f)
}

// floatNumber formats a float as a JSON number; infinities and NaN, which JSON cannot
// hold, become null.
func floatNumber(f float64) any {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// extremeAcc keeps the smallest (sign -1) or largest (sign 1) value, ignoring null
// and missing.
type extremeAcc struct {
	sign int
	best any
	set  bool
}

func (a *extremeAcc) add(v any) {
	if v == nil || v == missing {
		return
	}
	if !a.set || compare(v, a.best)*a.sign > 0 {
		a.best, a.set = v, true
	}
}

func (a *extremeAcc) result() any {
	if !a.set {
		return nil
	}
	return a.best
}

type firstLastAcc struct {
	last bool
	v    any
	set  bool
}

func (a *firstLastAcc) add(v any) {
	if v == missing {
		v = nil
	}
	if !a.set || a.last {
		a.v, a.set = v, true
	}
}

func (a *firstLastAcc) result() any { return a.v }

// pushAcc collects values ($push), or distinct values when seen is set ($addToSet);
// missing values are skipped.
type pushAcc struct {
	vals []any
	seen map[string]bool
}

func (a *pushAcc) add(v any) {
	if v == missing {
		return
	}
	if a.seen != nil {
		k := key(v)
		if a.seen[k] {
			return
		}
		a.seen[k] = true
	}
	a.vals = append(a.vals, v)
}

func (a *pushAcc) result() any {
	if a.vals == nil {
		return []any{}
	}
	return a.vals
}

type countAcc struct{ n int64 }

func (a *countAcc) add(any) { a.n++ }

func (a *countAcc) result() any { return json.Number(strconv.FormatInt(a.n, 10)) }
