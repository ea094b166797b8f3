package mongodb

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// revField is the hidden revision counter of every stored document: writes are
// conditional on it, and it is stripped from everything returned.
const revField = "_rev"

// storedDoc converts a document to the BSON it is stored as: _id first, store_id second
// as int64, the other keys sorted (so that equal objects are equal BSON), revision rev.
func storedDoc(d map[string]any, id string, storeID int64, rev int64) (bson.D, error) {
	out := make(bson.D, 0, len(d)+3)
	out = append(out, bson.E{Key: "_id", Value: id}, bson.E{Key: "store_id", Value: storeID})
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if k == "_id" || k == "store_id" || k == revField {
			continue
		}
		v, err := toBSON(d[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, bson.E{Key: k, Value: v})
	}
	return append(out, bson.E{Key: revField, Value: rev}), nil
}

// toBSON converts a value of the db.Doc form (json.Number, int64 and float64 numbers
// accepted) to its BSON value: integral numbers that fit become int64, others float64.
func toBSON(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool, int64, float64:
		return v, nil
	case int:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case json.Number:
		return number(v)
	case map[string]any:
		d := make(bson.D, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			e, err := toBSON(v[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			d = append(d, bson.E{Key: k, Value: e})
		}
		return d, nil
	case []any:
		a := make(bson.A, len(v))
		for i, e := range v {
			var err error
			if a[i], err = toBSON(e); err != nil {
				return nil, fmt.Errorf("%d: %w", i, err)
			}
		}
		return a, nil
	case []string:
		a := make(bson.A, len(v))
		for i, e := range v {
			a[i] = e
		}
		return a, nil
	}
	return nil, fmt.Errorf("mongodb: unsupported value type %T", v)
}

// number converts a json.Number: int64 when it is an integer that fits, else float64.
func number(n json.Number) (any, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("mongodb: bad number %q", string(n))
	}
	return f, nil
}

// toDoc converts a stored document to the db.Doc form, without the revision field.
func toDoc(r bson.Raw) (map[string]any, error) {
	d, err := fromRawDoc(r)
	if err != nil {
		return nil, err
	}
	delete(d, revField)
	return d, nil
}

func fromRawDoc(r bson.Raw) (map[string]any, error) {
	elems, err := r.Elements()
	if err != nil {
		return nil, fmt.Errorf("mongodb: decode document: %w", err)
	}
	m := make(map[string]any, len(elems))
	for _, e := range elems {
		v, err := fromRaw(e.Value())
		if err != nil {
			return nil, err
		}
		m[e.Key()] = v
	}
	return m, nil
}

// fromRaw converts one BSON value to the db.Doc form: every number becomes json.Number,
// documents maps, arrays []any. Types the API never writes (ObjectId, dates, decimals
// from other tools) become their usual JSON text.
func fromRaw(v bson.RawValue) (any, error) {
	switch v.Type {
	case bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeString:
		return v.StringValue(), nil
	case bson.TypeBoolean:
		return v.Boolean(), nil
	case bson.TypeInt32:
		return json.Number(strconv.FormatInt(int64(v.Int32()), 10)), nil
	case bson.TypeInt64:
		return json.Number(strconv.FormatInt(v.Int64(), 10)), nil
	case bson.TypeDouble:
		return floatNumber(v.Double()), nil
	case bson.TypeDecimal128:
		f, err := strconv.ParseFloat(v.Decimal128().String(), 64)
		if err != nil {
			return nil, nil
		}
		return floatNumber(f), nil
	case bson.TypeEmbeddedDocument:
		return fromRawDoc(v.Document())
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, fmt.Errorf("mongodb: decode array: %w", err)
		}
		a := make([]any, len(vals))
		for i, e := range vals {
			if a[i], err = fromRaw(e); err != nil {
				return nil, err
			}
		}
		return a, nil
	case bson.TypeObjectID:
		return v.ObjectID().Hex(), nil
	case bson.TypeDateTime:
		return v.Time().UTC().Format("2006-01-02T15:04:05.000Z"), nil
	case bson.TypeTimestamp:
		t, _ := v.Timestamp()
		return time.Unix(int64(t), 0).UTC().Format("2006-01-02T15:04:05.000Z"), nil
	}
	return v.String(), nil
}

// floatNumber formats f as JSON does (encoding/json's rule); NaN and infinities, which
// JSON cannot carry, become nil.
func floatNumber(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(nil, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return json.Number(b)
}

// rawInt64 reads an integral number (int32, int64 or an integral double).
func rawInt64(v bson.RawValue) (int64, bool) {
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32()), true
	case bson.TypeInt64:
		return v.Int64(), true
	case bson.TypeDouble:
		f := v.Double()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	}
	return 0, false
}
