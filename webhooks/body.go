package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// placeholder is `(tr.<path>)`: a dot path into the trigger, with array indexes as
// numeric segments ("body.items.0.sku").
var placeholder = regexp.MustCompile(`\(tr\.([A-Za-z0-9_$]+(?:\.[A-Za-z0-9_$]+)*)\)`)

// endpointPattern is the procedures schema's pattern of a store_api endpoint.
var endpointPattern = regexp.MustCompile(`^[/][\w$+()./]+[.]json$`)

// DefaultEndpoint is the endpoint of a store_api webhook that names none.
const DefaultEndpoint = "/(tr.resource).json"

// maxMapDepth bounds the nesting MapBody walks; deeper values are kept as they are.
const maxMapDepth = 32

// Lookup returns the value at a dot path of doc (objects by key, arrays by a decimal
// index) and whether it exists.
func Lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for seg := range strings.SplitSeq(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// MapBody returns map_body with the `(tr.<path>)` placeholders in its string values
// (at any depth, arrays included) replaced by the trigger's values: a string that is
// exactly one placeholder becomes the value itself, whatever its type (null when the
// path does not exist); a placeholder inside a longer string is replaced by the value's
// text (strings as they are, other values as JSON, nothing when missing). Keys and
// non-string values are kept. The input is not modified.
func MapBody(mapBody, trigger map[string]any) map[string]any {
	out, _ := mapValue(mapBody, trigger, 0).(map[string]any)
	return out
}

func mapValue(v any, trigger map[string]any, depth int) any {
	if depth > maxMapDepth {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = mapValue(e, trigger, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapValue(e, trigger, depth+1)
		}
		return out
	case string:
		if m := placeholder.FindStringSubmatchIndex(x); m != nil && m[0] == 0 && m[1] == len(x) {
			val, _ := Lookup(trigger, x[m[2]:m[3]])
			return val
		}
		return placeholder.ReplaceAllStringFunc(x, func(p string) string {
			val, ok := Lookup(trigger, p[len("(tr."):len(p)-1])
			if !ok {
				return ""
			}
			return textOf(val)
		})
	}
	return v
}

// textOf is a value as text: a string as it is, null as nothing, others as JSON.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// errEndpoint is wrapped by the errors of Endpoint.
var errEndpoint = errors.New("webhooks: bad store api endpoint")

// Endpoint returns a store_api endpoint (DefaultEndpoint when empty) with its
// `(tr.<path>)` placeholders replaced by the trigger's values, each path-escaped so that
// a value cannot add path segments. It fails when the endpoint does not match the
// procedures schema's pattern, a placeholder names a missing or empty value, or the
// result has a "." or ".." segment.
func Endpoint(endpoint string, trigger map[string]any) (string, error) {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if !endpointPattern.MatchString(endpoint) {
		return "", fmt.Errorf("%w: %q", errEndpoint, endpoint)
	}
	var missing string
	out := placeholder.ReplaceAllStringFunc(endpoint, func(p string) string {
		path := p[len("(tr.") : len(p)-1]
		val, _ := Lookup(trigger, path)
		s := textOf(val)
		if s == "" && missing == "" {
			missing = path
		}
		return url.PathEscape(s)
	})
	if missing != "" {
		return "", fmt.Errorf("%w: %q has no value for tr.%s", errEndpoint, endpoint, missing)
	}
	for seg := range strings.SplitSeq(out[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: %q gives %q", errEndpoint, endpoint, out)
		}
	}
	return out, nil
}
