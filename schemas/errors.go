package schemas

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"storeapi/apierror"
)

// ValidationError is a document that does not match its schema. Fields has one entry
// per failing leaf, sorted by path (array indexes numerically) and then by reason; Path
// is a dot path from the document root ("variations.3.price", "" for the root itself)
// and Reason says in plain English what is wrong ("must be <= 999999999").
type ValidationError struct {
	Schema string
	Fields []apierror.FieldError
}

// Error lists the failing fields on one line, for logs.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schemas: invalid %s document", e.Schema)
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if f.Path != "" {
			b.WriteString(f.Path)
			b.WriteString(" ")
		}
		b.WriteString(f.Reason)
	}
	return b.String()
}

// fieldErr is one failing field before sorting: its path as segments and the reason.
type fieldErr struct {
	segs   []string
	reason string
}

// newValidationError sorts and de-duplicates errs into a *ValidationError.
func newValidationError(schema string, errs []fieldErr) *ValidationError {
	slices.SortFunc(errs, func(a, b fieldErr) int {
		if c := comparePaths(a.segs, b.segs); c != 0 {
			return c
		}
		return strings.Compare(a.reason, b.reason)
	})
	ve := &ValidationError{Schema: schema, Fields: make([]apierror.FieldError, 0, len(errs))}
	for _, e := range errs {
		f := apierror.FieldError{Path: strings.Join(e.segs, "."), Reason: e.reason}
		if n := len(ve.Fields); n > 0 && ve.Fields[n-1] == f {
			continue
		}
		ve.Fields = append(ve.Fields, f)
	}
	return ve
}

// comparePaths orders paths segment by segment, array indexes numerically, parents first.
func comparePaths(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		na, errA := strconv.Atoi(a[i])
		nb, errB := strconv.Atoi(b[i])
		if errA == nil && errB == nil && na != nb {
			if na < nb {
				return -1
			}
			return 1
		}
		return strings.Compare(a[i], b[i])
	}
	return len(a) - len(b)
}

// maxExactDigits is the longest number text validated as sent; longer numbers, and any
// with an exponent, are validated as their float64 value. This keeps the validator's
// exact (big.Rat) arithmetic cheap whatever the client sends ("1e999999999").
const maxExactDigits = 32

// normalize returns a copy of v that the validator can take without panicking or
// spending unbounded time: every number becomes a short json.Number. Values that are
// not JSON (NaN, infinities, Go types other than the decoded ones) are reported in bad.
func normalize(v any, path []string, bad *[]fieldErr) any {
	switch v := v.(type) {
	case nil, bool, string:
		return v
	case json.Number:
		n, ok := normalizeNumber(string(v))
		if !ok {
			*bad = append(*bad, fieldErr{slices.Clone(path), fmt.Sprintf("is not a valid number (%q)", string(v))})
			return nil
		}
		return n
	case float64:
		return normalizeFloat(v, path, bad)
	case float32:
		return normalizeFloat(float64(v), path, bad)
	case int:
		return json.Number(strconv.FormatInt(int64(v), 10))
	case int8:
		return json.Number(strconv.FormatInt(int64(v), 10))
	case int16:
		return json.Number(strconv.FormatInt(int64(v), 10))
	case int32:
		return json.Number(strconv.FormatInt(int64(v), 10))
	case int64:
		return json.Number(strconv.FormatInt(v, 10))
	case uint:
		return json.Number(strconv.FormatUint(uint64(v), 10))
	case uint8:
		return json.Number(strconv.FormatUint(uint64(v), 10))
	case uint16:
		return json.Number(strconv.FormatUint(uint64(v), 10))
	case uint32:
		return json.Number(strconv.FormatUint(uint64(v), 10))
	case uint64:
		return json.Number(strconv.FormatUint(v, 10))
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[k] = normalize(c, append(slices.Clip(path), k), bad)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, c := range v {
			a[i] = normalize(c, append(slices.Clip(path), strconv.Itoa(i)), bad)
		}
		return a
	}
	*bad = append(*bad, fieldErr{slices.Clone(path), fmt.Sprintf("is not a JSON value (%T)", v)})
	return nil
}

// normalizeFloat turns a finite float into a json.Number and reports NaN and infinities.
func normalizeFloat(f float64, path []string, bad *[]fieldErr) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		*bad = append(*bad, fieldErr{slices.Clone(path), "must be a finite number"})
		return nil
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// normalizeNumber checks that s is a JSON number and returns it in a form that is cheap to
// validate: s itself when short and without exponent, else its float64 value (numbers
// beyond float64's range become ±MaxFloat64, still far outside every schema limit).
func normalizeNumber(s string) (json.Number, bool) {
	if !isJSONNumber(s) {
		return "", false
	}
	if len(s) <= maxExactDigits && !strings.ContainsAny(s, "eE") {
		return json.Number(s), true
	}
	f, _ := strconv.ParseFloat(s, 64) // syntax checked above; a range error gives ±Inf
	if math.IsInf(f, 0) {
		f = math.Copysign(math.MaxFloat64, f)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
}

// isJSONNumber reports whether s is a number as RFC 8259 writes it.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// leaves flattens the validator's error tree into one fieldErr per failing leaf.
func (s *Set) leaves(e *entry, doc any, ve *jsonschema.ValidationError) []fieldErr {
	var out []fieldErr
	var walk func(v *jsonschema.ValidationError)
	walk = func(v *jsonschema.ValidationError) {
		if len(v.Causes) == 0 {
			out = append(out, s.describe(e, doc, v)...)
			return
		}
		for _, c := range v.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// describe turns one leaf error into field errors (several for "required" and
// "additionalProperties", one per property), reading the keyword's value from the schema
// and the failing value from the document.
func (s *Set) describe(e *entry, doc any, v *jsonschema.ValidationError) []fieldErr {
	inst := decodePointer(v.InstanceLocation)
	_, frag, _ := strings.Cut(v.AbsoluteKeywordLocation, "#")
	kw := decodePointer(frag)
	value, _ := lookup(e.doc, kw)
	one := func(reason string) []fieldErr { return []fieldErr{{inst, reason}} }
	if len(kw) == 0 {
		return one(fallbackReason(v.Message))
	}
	keyword := kw[len(kw)-1]
	parent, _ := lookup(e.doc, kw[:len(kw)-1])
	parentMap, _ := parent.(map[string]any)
	instValue, _ := lookup(doc, inst)

	// dependencies: {"auth_scope": ["auth_callback_uri"]} fails at .../dependencies/auth_scope/0.
	if len(kw) >= 3 && kw[len(kw)-3] == "dependencies" {
		if prop, ok := value.(string); ok {
			return one(fmt.Sprintf("property '%s' is required when '%s' is present", prop, kw[len(kw)-2]))
		}
	}
	switch keyword {
	case "required":
		obj, _ := instValue.(map[string]any)
		var out []fieldErr
		for _, r := range asSlice(value) {
			name, _ := r.(string)
			if _, ok := obj[name]; !ok {
				out = append(out, fieldErr{inst, fmt.Sprintf("required property '%s' is missing", name)})
			}
		}
		if len(out) > 0 {
			return out
		}
	case "additionalProperties":
		obj, _ := instValue.(map[string]any)
		var out []fieldErr
		for _, name := range s.extraProperties(parentMap, obj) {
			out = append(out, fieldErr{inst, fmt.Sprintf("additional property '%s' is not allowed", name)})
		}
		if len(out) > 0 {
			return out
		}
	case "type":
		return one(typeReason(value, instValue))
	case "enum":
		return one("must be one of " + listValues(asSlice(value)))
	case "const":
		return one("must be " + listValues([]any{value}))
	case "format":
		return one(formatReason(fmt.Sprint(value)))
	case "pattern":
		return one(fmt.Sprintf("must match the pattern %v", value))
	case "minLength":
		return one(fmt.Sprintf("must be at least %v characters long", value))
	case "maxLength":
		return one(fmt.Sprintf("must be at most %v characters long", value))
	case "minimum":
		if excl, _ := parentMap["exclusiveMinimum"].(bool); excl { // draft-04 form
			return one(fmt.Sprintf("must be > %v", value))
		}
		return one(fmt.Sprintf("must be >= %v", value))
	case "maximum":
		if excl, _ := parentMap["exclusiveMaximum"].(bool); excl {
			return one(fmt.Sprintf("must be < %v", value))
		}
		return one(fmt.Sprintf("must be <= %v", value))
	case "exclusiveMinimum":
		return one(fmt.Sprintf("must be > %v", value))
	case "exclusiveMaximum":
		return one(fmt.Sprintf("must be < %v", value))
	case "multipleOf":
		return one(fmt.Sprintf("must be a multiple of %v", value))
	case "minItems":
		return one(fmt.Sprintf("must have at least %v items", value))
	case "maxItems":
		return one(fmt.Sprintf("must have at most %v items", value))
	case "uniqueItems":
		var i, j int
		if n, _ := fmt.Sscanf(v.Message, "items at index %d and %d are equal", &i, &j); n == 2 {
			return one(fmt.Sprintf("must not contain duplicate items (items %d and %d are equal)", i, j))
		}
		return one("must not contain duplicate items")
	case "minProperties":
		return one(fmt.Sprintf("must have at least %v properties", value))
	case "maxProperties":
		return one(fmt.Sprintf("must have at most %v properties", value))
	case "oneOf":
		return one("must match exactly one of the allowed forms")
	case "anyOf":
		return one("must match at least one of the allowed forms")
	case "not":
		return one("must not match the excluded form")
	}
	if b, ok := value.(bool); ok && !b {
		return one("is not allowed")
	}
	return one(fallbackReason(v.Message))
}

// extraProperties lists, sorted, the keys of obj that neither the properties nor the
// patternProperties of schema allow.
func (s *Set) extraProperties(schema, obj map[string]any) []string {
	props, _ := schema["properties"].(map[string]any)
	patterns, _ := schema["patternProperties"].(map[string]any)
	var out []string
	for k := range obj {
		if _, ok := props[k]; ok {
			continue
		}
		matched := false
		for p := range patterns {
			if re := s.patterns[p]; re != nil && re.MatchString(k) {
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// typeReason says which type(s) the schema wants and which one the value has.
func typeReason(want, got any) string {
	var names []string
	integer := false
	for _, t := range asSlice(want) {
		name, _ := t.(string)
		integer = integer || name == "integer"
		names = append(names, article(name))
	}
	if t, ok := want.(string); ok {
		integer = t == "integer"
		names = append(names, article(t))
	}
	gotType := jsonTypeOf(got)
	if integer && gotType == "number" {
		return "must be an integer"
	}
	return fmt.Sprintf("must be %s, not %s", strings.Join(names, " or "), article(gotType))
}

// article prefixes a JSON type name with its indefinite article ("an object").
func article(t string) string {
	switch t {
	case "null":
		return "null"
	case "object", "array", "integer":
		return "an " + t
	}
	return "a " + t
}

// jsonTypeOf is the JSON type name of a decoded value.
func jsonTypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "number"
}

// formatReason describes a format the value does not follow.
func formatReason(format string) string {
	switch format {
	case "date-time":
		return "must be a date-time as RFC 3339 writes it (2006-01-02T15:04:05.000Z)"
	case "email":
		return "must be a valid e-mail address"
	case "uri":
		return "must be an absolute URI"
	}
	return "must be a valid " + format
}

// listValues writes values as JSON, comma separated.
func listValues(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			parts[i] = fmt.Sprint(v)
			continue
		}
		parts[i] = string(b)
	}
	return strings.Join(parts, ", ")
}

// fallbackReason is the validator's own message, for keywords the schemas do not use.
func fallbackReason(msg string) string {
	if msg == "" {
		return "is invalid"
	}
	return msg
}

// asSlice returns v as a []any, or nil.
func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// decodePointer splits a JSON pointer as the validator writes it (each token also
// URL-path-escaped) into its unescaped tokens. The empty pointer is the root.
func decodePointer(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		s = strings.ReplaceAll(s, "~1", "/")
		segs[i] = strings.ReplaceAll(s, "~0", "~")
	}
	return segs
}

// lookup follows path tokens through decoded JSON objects and arrays.
func lookup(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}
