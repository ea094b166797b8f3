package webhooks

// Matches reports whether procedure (a procedures document) matches trigger (a
// triggers document): whether any of its triggers[] does. One of them matches when
//
//   - its resource equals the trigger's;
//   - its method, action, resource_id and subresource_id, when given, equal the
//     trigger's;
//   - its subresource is "*" (any, with or without a subresource), or equals the
//     trigger's, or is null or absent (the default) and the trigger has no subresource;
//   - its field, when given, is one of the trigger's fields.
//
// Malformed documents match nothing.
func Matches(procedure, trigger map[string]any) bool {
	list, _ := procedure["triggers"].([]any)
	for _, c := range list {
		if cond, ok := c.(map[string]any); ok && matchOne(cond, trigger) {
			return true
		}
	}
	return false
}

// matchOne reports whether one entry of a procedure's triggers[] matches trigger.
func matchOne(cond, trigger map[string]any) bool {
	res, ok := cond["resource"].(string)
	if !ok || res == "" || res != text(trigger, "resource") {
		return false
	}
	for _, k := range [...]string{"method", "action", "resource_id", "subresource_id"} {
		v, given := cond[k]
		if !given || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok || s != text(trigger, k) {
			return false
		}
	}
	switch sub := cond["subresource"].(type) {
	case nil:
		if text(trigger, "subresource") != "" {
			return false
		}
	case string:
		if sub != "*" && sub != text(trigger, "subresource") {
			return false
		}
	default:
		return false
	}
	if v, given := cond["field"]; given && v != nil {
		f, ok := v.(string)
		if !ok || !hasField(trigger, f) {
			return false
		}
	}
	return true
}

// text returns the string at key of doc, "" when it is missing or not a string.
func text(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return s
}

// hasField reports whether the trigger's fields list f.
func hasField(trigger map[string]any, f string) bool {
	fields, _ := trigger["fields"].([]any)
	for _, x := range fields {
		if s, ok := x.(string); ok && s == f {
			return true
		}
	}
	return false
}
