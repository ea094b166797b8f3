package resources

import (
	"strings"

	"storeapi/db"
)

// publicView returns what an unauthenticated GET may see of doc: the rule's allow-list
// when it has one, then without its hidden paths. doc is not changed.
func (rule *Rule) publicView(doc db.Doc) db.Doc {
	out := db.Doc{}
	if rule.PublicFields != nil {
		for _, f := range rule.PublicFields {
			if v, ok := doc[f]; ok {
				out[f] = v
			}
		}
	} else {
		for k, v := range doc {
			out[k] = v
		}
	}
	for _, path := range rule.HiddenFields {
		out = removePath(out, strings.Split(path, ".")).(db.Doc)
	}
	return out
}

// removePath returns v without the value at path, copying only what it changes; arrays
// are crossed (the path is removed from every element).
func removePath(v any, path []string) any {
	switch t := v.(type) {
	case map[string]any:
		child, ok := t[path[0]]
		if !ok {
			return v
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = x
		}
		if len(path) == 1 {
			delete(out, path[0])
		} else {
			out[path[0]] = removePath(child, path[1:])
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = removePath(x, path)
		}
		return out
	}
	return v
}

// publicPath reports whether an unauthenticated list may filter or sort on path: paths
// into hidden fields (or outside an allow-list) would reveal them through the answer.
func (rule *Rule) publicPath(path string) bool {
	if rule.PublicFields != nil {
		allowed := false
		for _, f := range rule.PublicFields {
			if path == f || strings.HasPrefix(path, f+".") {
				allowed = true
				break
			}
		}
		if !allowed {
			return false
		}
	}
	for _, h := range rule.HiddenFields {
		if path == h || strings.HasPrefix(path, h+".") || strings.HasPrefix(h, path+".") {
			return false
		}
	}
	return true
}
