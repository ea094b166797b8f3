package schemas

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// PropertyKind is the shape of a property as the schema declares it.
type PropertyKind int

// The property kinds.
const (
	PropNone        PropertyKind = iota // not a property of the schema
	PropScalar                          // string, number, integer, boolean or null
	PropObject                          // an object
	PropArray                           // an array whose items are not objects
	PropObjectArray                     // an array whose items are objects
)

// String names the kind.
func (k PropertyKind) String() string {
	switch k {
	case PropNone:
		return "none"
	case PropScalar:
		return "scalar"
	case PropObject:
		return "object"
	case PropArray:
		return "array"
	case PropObjectArray:
		return "object array"
	}
	return fmt.Sprintf("PropertyKind(%d)", int(k))
}

// node is the part of a schema that defaults and shapes need, with $ref resolved.
type node struct {
	types      []string
	props      map[string]*node
	propNames  []string // sorted keys of props, for a deterministic walk
	patterns   []patternNode
	additional *node
	items      *node
	def        any
	hasDefault bool
}

// patternNode is the schema of the keys of an object that match re.
type patternNode struct {
	re *regexp.Regexp
	n  *node
}

// buildTree turns a decoded schema into its node tree. Local references
// ("#/definitions/address") are resolved; each target is built once, so a recursive
// definition becomes a cyclic tree rather than an endless one.
func buildTree(root map[string]any, patterns map[string]*regexp.Regexp) (*node, error) {
	refs := make(map[string]*node)
	var build func(schema map[string]any) (*node, error)
	build = func(schema map[string]any) (*node, error) {
		if ref, ok := schema["$ref"].(string); ok {
			// draft-06: keywords beside $ref are ignored.
			if n, done := refs[ref]; done {
				return n, nil
			}
			ptr, ok := strings.CutPrefix(ref, "#")
			if !ok {
				return nil, fmt.Errorf("unsupported $ref %q (only local references)", ref)
			}
			target, found := lookup(root, decodePointer(ptr))
			targetMap, isMap := target.(map[string]any)
			if !found || !isMap {
				return nil, fmt.Errorf("$ref %q does not resolve to a schema", ref)
			}
			n := &node{}
			refs[ref] = n
			built, err := build(targetMap)
			if err != nil {
				return nil, err
			}
			*n = *built
			return n, nil
		}
		n := &node{}
		switch t := schema["type"].(type) {
		case string:
			n.types = []string{t}
		case []any:
			for _, x := range t {
				if s, ok := x.(string); ok {
					n.types = append(n.types, s)
				}
			}
		}
		if d, ok := schema["default"]; ok {
			n.def, n.hasDefault = d, true
		}
		if props, ok := schema["properties"].(map[string]any); ok {
			n.props = make(map[string]*node, len(props))
			for name, p := range props {
				pm, ok := p.(map[string]any)
				if !ok {
					continue // a boolean schema holds no defaults
				}
				c, err := build(pm)
				if err != nil {
					return nil, err
				}
				n.props[name] = c
				n.propNames = append(n.propNames, name)
			}
			slices.Sort(n.propNames)
		}
		if pp, ok := schema["patternProperties"].(map[string]any); ok {
			keys := make([]string, 0, len(pp))
			for k := range pp {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				pm, ok := pp[k].(map[string]any)
				if !ok {
					continue
				}
				c, err := build(pm)
				if err != nil {
					return nil, err
				}
				n.patterns = append(n.patterns, patternNode{re: patterns[k], n: c})
			}
		}
		if ap, ok := schema["additionalProperties"].(map[string]any); ok {
			c, err := build(ap)
			if err != nil {
				return nil, err
			}
			n.additional = c
		}
		if items, ok := schema["items"].(map[string]any); ok {
			c, err := build(items)
			if err != nil {
				return nil, err
			}
			n.items = c
		}
		return n, nil
	}
	return build(root)
}

// is reports whether the node declares type t.
func (n *node) is(t string) bool { return slices.Contains(n.types, t) }

// kind is the PropertyKind of a property whose schema is n.
func (n *node) kind() PropertyKind {
	switch {
	case n.is("object"):
		return PropObject
	case n.is("array"):
		if n.items != nil && n.items.is("object") {
			return PropObjectArray
		}
		return PropArray
	}
	return PropScalar
}

// ApplyDefaults sets, in place, every missing property of doc that has a default in the
// schema called name: at the top level, inside every present object (named, pattern or
// additional properties) and inside every item of present arrays, following $ref. It
// never creates a missing object just to hold defaults, and each default is a fresh deep
// copy. Values of the wrong type are left alone for Validate to report. An unknown name
// does nothing.
func (s *Set) ApplyDefaults(name string, doc map[string]any) {
	e, ok := s.entries[name]
	if !ok || doc == nil {
		return
	}
	e.root.apply(doc)
}

// apply fills the defaults of n into v.
func (n *node) apply(v any) {
	switch v := v.(type) {
	case map[string]any:
		// First descend into what is present, then add what is missing, so defaults
		// just added are never walked (they are complete as the schema wrote them).
		for key, val := range v {
			c, named := n.props[key]
			if named {
				c.apply(val)
			}
			matched := false
			for _, p := range n.patterns {
				if p.re != nil && p.re.MatchString(key) {
					p.n.apply(val)
					matched = true
				}
			}
			if !named && !matched && n.additional != nil {
				n.additional.apply(val)
			}
		}
		for _, key := range n.propNames {
			c := n.props[key]
			if _, present := v[key]; !present && c.hasDefault {
				v[key] = deepCopy(c.def)
			}
		}
	case []any:
		if n.items != nil {
			for _, item := range v {
				n.items.apply(item)
			}
		}
	}
}

// deepCopy copies a decoded JSON value so that no map or slice is shared.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, c := range v {
			a[i] = deepCopy(c)
		}
		return a
	}
	return v // json.Number, string, bool and nil are immutable
}

// Property returns the kind of the top-level property prop of the schema called
// resource (a resource or subresource name): PropNone when the schema does not name it
// (pattern-matched keys are not named properties) or the schema is unknown.
func (s *Set) Property(resource, prop string) PropertyKind {
	e, ok := s.entries[resource]
	if !ok {
		return PropNone
	}
	c, ok := e.root.props[prop]
	if !ok {
		return PropNone
	}
	return c.kind()
}

// ItemIDArrays returns, sorted, the top-level array properties of resource whose items
// are objects with an "_id" property: the embedded-document subresources (products
// variations, carts items, customers addresses, orders payments_history, ...). It is
// nil for an unknown resource.
func (s *Set) ItemIDArrays(resource string) []string {
	e, ok := s.entries[resource]
	if !ok {
		return nil
	}
	var out []string
	for _, name := range e.root.propNames {
		c := e.root.props[name]
		if c.kind() != PropObjectArray {
			continue
		}
		if _, ok := c.items.props["_id"]; ok {
			out = append(out, name)
		}
	}
	return out
}
