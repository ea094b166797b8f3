package mongodb

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestNumbers(t *testing.T) {
	tests := []struct {
		in     json.Number
		stored any
		back   any
	}{
		{"10", int64(10), json.Number("10")},
		{"-0", int64(0), json.Number("0")},
		{"9007199254740993", int64(9007199254740993), json.Number("9007199254740993")},
		{"19.9", 19.9, json.Number("19.9")},
		{"1e2", 100.0, json.Number("100")},
		{"9223372036854775808", 9223372036854775808.0, json.Number("9223372036854776000")},
		{"1e21", 1e21, json.Number("1e+21")},
		{"0.0000001", 1e-7, json.Number("1e-7")},
		{"-1.5e-10", -1.5e-10, json.Number("-1.5e-10")},
	}
	for _, tc := range tests {
		stored, err := number(tc.in)
		if err != nil || stored != tc.stored {
			t.Errorf("number(%s) = %#v, %v; want %#v", tc.in, stored, err, tc.stored)
			continue
		}
		raw, err := bson.Marshal(bson.D{{Key: "v", Value: stored}})
		if err != nil {
			t.Fatal(err)
		}
		back, err := fromRaw(bson.Raw(raw).Lookup("v"))
		if err != nil || back != tc.back {
			t.Errorf("number %s read back as %#v, %v; want %#v", tc.in, back, err, tc.back)
		}
	}
	for _, bad := range []json.Number{"", "x", "1e999", "NaN"} {
		if v, err := number(bad); err == nil {
			t.Errorf("number(%q) = %v; want an error", bad, v)
		}
	}
	if got := floatNumber(math.Inf(1)); got != nil {
		t.Errorf("floatNumber(+Inf) = %v; want nil", got)
	}
}

func TestStoredDoc(t *testing.T) {
	d, err := storedDoc(map[string]any{"z": 1, "a": map[string]any{"y": json.Number("2"), "b": []any{json.Number("1.5"), nil}},
		"_id": "ignored", "store_id": "ignored", revField: 99}, "abc", 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := bson.D{{Key: "_id", Value: "abc"}, {Key: "store_id", Value: int64(7)},
		{Key: "a", Value: bson.D{{Key: "b", Value: bson.A{1.5, nil}}, {Key: "y", Value: int64(2)}}},
		{Key: "z", Value: int64(1)}, {Key: revField, Value: int64(3)}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("storedDoc = %v; want %v", d, want)
	}
	if _, err := storedDoc(map[string]any{"bad": struct{}{}}, "abc", 7, 1); err == nil {
		t.Error("storedDoc accepted a struct value")
	}
}
