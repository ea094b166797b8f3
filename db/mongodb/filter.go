package mongodb

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"storeapi/db"
)

// errBadQuery reports a query the engine refuses to compile.
var errBadQuery = errors.New("mongodb: bad query")

// checkPath refuses what could turn a client's path into an operator or an odd field
// name: the parsers already refuse these, this is defence in depth.
func checkPath(p string) error {
	if p == "" || strings.ContainsAny(p, "$\x00") {
		return fmt.Errorf("%w: path %q", errBadQuery, p)
	}
	for seg := range strings.SplitSeq(p, ".") {
		if seg == "" {
			return fmt.Errorf("%w: path %q has an empty segment", errBadQuery, p)
		}
	}
	return nil
}

// compileFilter turns conditions into a filter: store_id first (storeID 0: every
// store), then the conditions under $and, so that two conditions on one path (a range)
// never collide as duplicate keys.
func compileFilter(storeID int64, all bool, conds []db.Cond) (bson.D, error) {
	f := make(bson.D, 0, 2)
	if !all {
		f = append(f, bson.E{Key: "store_id", Value: storeID})
	}
	if len(conds) == 0 {
		return f, nil
	}
	and := make(bson.A, 0, len(conds))
	for _, c := range conds {
		e, err := compileCond(c)
		if err != nil {
			return nil, err
		}
		and = append(and, bson.D{e})
	}
	return append(f, bson.E{Key: "$and", Value: and}), nil
}

// compileCond compiles one condition. Client values only ever become operands:
// OpEq {path: {$in: values}}, OpNe {$nor: [{path: {$in: values}}]}, OpGte/OpLte
// {path: {$gte|$lte: value}}, OpContains {path: {$regex: literal, $options: "i"}}.
// A numeric value also matches its text (Raw) stored as a string.
func compileCond(c db.Cond) (bson.E, error) {
	if err := checkPath(c.Path); err != nil {
		return bson.E{}, err
	}
	if len(c.Values) == 0 {
		return bson.E{}, fmt.Errorf("%w: %s %s without a value", errBadQuery, c.Path, c.Op)
	}
	switch c.Op {
	case db.OpEq, db.OpNe:
		vals := make(bson.A, 0, len(c.Values)*2)
		for _, v := range c.Values {
			tv, numeric, err := typed(v.Typed)
			if err != nil {
				return bson.E{}, err
			}
			vals = append(vals, tv)
			if numeric {
				vals = append(vals, v.Raw)
			}
		}
		in := bson.E{Key: c.Path, Value: bson.D{{Key: "$in", Value: vals}}}
		if c.Op == db.OpNe {
			// {$nor: [{path: {$in}}]} rather than {path: {$nin}}: the same on MongoDB,
			// and FerretDB v1 gets $nin wrong on paths through arrays of objects.
			return bson.E{Key: "$nor", Value: bson.A{bson.D{in}}}, nil
		}
		return in, nil
	case db.OpGte, db.OpLte:
		if len(c.Values) != 1 {
			return bson.E{}, fmt.Errorf("%w: %s %s takes one value", errBadQuery, c.Path, c.Op)
		}
		tv, _, err := typed(c.Values[0].Typed)
		if err != nil {
			return bson.E{}, err
		}
		op := "$gte"
		if c.Op == db.OpLte {
			op = "$lte"
		}
		return bson.E{Key: c.Path, Value: bson.D{{Key: op, Value: tv}}}, nil
	case db.OpContains:
		if len(c.Values) != 1 {
			return bson.E{}, fmt.Errorf("%w: %s %s takes one value", errBadQuery, c.Path, c.Op)
		}
		// The text as sent, as a literal: every metacharacter escaped.
		re := bson.Regex{Pattern: regexp.QuoteMeta(c.Values[0].Raw), Options: "i"}
		return bson.E{Key: c.Path, Value: bson.D{{Key: "$regex", Value: re}}}, nil
	}
	return bson.E{}, fmt.Errorf("%w: operator %d", errBadQuery, int(c.Op))
}

// typed converts a condition's typed value and reports whether it is a number.
func typed(v any) (any, bool, error) {
	switch v := v.(type) {
	case nil, string, bool:
		return v, false, nil
	case int64, float64:
		return v, true, nil
	case int:
		return int64(v), true, nil
	case json.Number:
		n, err := number(v)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %v", errBadQuery, err)
		}
		return n, true, nil
	}
	return nil, false, fmt.Errorf("%w: value type %T", errBadQuery, v)
}

// compileSort orders by q.Sort, then by _id so that pages are stable.
func compileSort(sort []db.SortField) (bson.D, error) {
	out := make(bson.D, 0, len(sort)+1)
	seen := make(map[string]bool, len(sort)+1)
	for _, s := range sort {
		if err := checkPath(s.Path); err != nil {
			return nil, err
		}
		if seen[s.Path] {
			continue
		}
		seen[s.Path] = true
		dir := 1
		if s.Desc {
			dir = -1
		}
		out = append(out, bson.E{Key: s.Path, Value: dir})
	}
	if !seen["_id"] {
		out = append(out, bson.E{Key: "_id", Value: 1})
	}
	return out, nil
}

// compileProjection includes fields and _id. A path under another requested path is
// dropped (MongoDB refuses the collision; the parent already returns it).
func compileProjection(fields []string) (bson.D, error) {
	for _, f := range fields {
		if err := checkPath(f); err != nil {
			return nil, err
		}
	}
	out := bson.D{{Key: "_id", Value: 1}}
	seen := map[string]bool{"_id": true}
next:
	for _, f := range fields {
		if seen[f] || strings.HasPrefix(f, "_id.") {
			continue
		}
		for _, g := range fields {
			if strings.HasPrefix(f, g+".") {
				continue next
			}
		}
		seen[f] = true
		out = append(out, bson.E{Key: f, Value: 1})
	}
	return out, nil
}
