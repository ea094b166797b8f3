package db

import (
	"encoding/json"
	"math"
	"time"
)

// TimeLayout is how every stored timestamp is written: ISO 8601 UTC with milliseconds,
// fixed-width, so that string order is time order on every engine.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Timestamp writes t in TimeLayout.
func Timestamp(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}

// Int64 reads an integer held in a document: a json.Number (also "10.0"), or a Go
// integer or integral float64 that fits in int64.
func Int64(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false
		}
		return Int64(f)
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<63 {
			return int64(n), true
		}
	}
	return 0, false
}
