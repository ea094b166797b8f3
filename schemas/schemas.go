// Package schemas holds storeapi's JSON Schemas (draft-06), one file per resource and
// per subresource body, embedded in the binary and compiled once by Load.
//
// A Set validates decoded JSON documents against them (Validate, with one plain-English
// reason per failing field), fills in the schemas' defaults (ApplyDefaults) and answers
// the questions the generic resource engine asks about a resource's shape (Property,
// ItemIDArrays). The schema files are served as they are by Raw.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

//go:embed *.json
var files embed.FS

// resourceNames are the thirteen resources of the API; every other embedded schema is a
// subresource body ("carts_items", "applications_data", ...).
var resourceNames = []string{
	"applications", "authentications", "brands", "carts", "categories", "collections",
	"customers", "grids", "orders", "procedures", "products", "stores", "triggers",
}

// baseURL names the embedded schemas for the compiler; it never leaves the process.
const baseURL = "https://schemas.storeapi.invalid/"

// Set is the compiled set of every embedded schema. It is immutable after Load and safe
// for concurrent use.
type Set struct {
	names     []string // every schema name, sorted
	resources []string // the thirteen resources, sorted
	entries   map[string]*entry
	patterns  map[string]*regexp.Regexp // every patternProperties key of every schema
}

// entry is one schema: its file, its decoded form, its compiled form and its shape tree.
type entry struct {
	raw      []byte
	doc      map[string]any // the schema decoded with json.Number numbers
	compiled *jsonschema.Schema
	root     *node
}

// Load reads and compiles every embedded schema. It fails when a file is not valid JSON,
// not a valid draft-06 schema, or uses a regular expression Go cannot compile.
func Load() (set *Set, err error) {
	defer func() {
		// jsonschema v5 panics on a patternProperties key it cannot compile.
		if r := recover(); r != nil {
			set, err = nil, fmt.Errorf("schemas: compile: %v", r)
		}
	}()
	dir, err := files.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("schemas: read embedded files: %w", err)
	}
	s := &Set{entries: make(map[string]*entry), patterns: make(map[string]*regexp.Regexp)}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft6
	c.AssertFormat = true
	for _, f := range dir {
		name, ok := strings.CutSuffix(f.Name(), ".json")
		if !ok || f.IsDir() {
			continue
		}
		raw, err := files.ReadFile(f.Name())
		if err != nil {
			return nil, fmt.Errorf("schemas: read %s: %w", f.Name(), err)
		}
		doc, err := decodeSchema(raw)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", f.Name(), err)
		}
		if err := c.AddResource(baseURL+f.Name(), bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", f.Name(), err)
		}
		s.names = append(s.names, name)
		s.entries[name] = &entry{raw: raw, doc: doc}
	}
	slices.Sort(s.names)
	for _, name := range s.names {
		e := s.entries[name]
		if err := collectPatterns(e.doc, s.patterns); err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", name, err)
		}
		if e.compiled, err = c.Compile(baseURL + name + ".json"); err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", name, err)
		}
		if e.root, err = buildTree(e.doc, s.patterns); err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", name, err)
		}
	}
	for _, r := range resourceNames {
		if _, ok := s.entries[r]; !ok {
			return nil, fmt.Errorf("schemas: missing schema of resource %s", r)
		}
		s.resources = append(s.resources, r)
	}
	slices.Sort(s.resources)
	return s, nil
}

// decodeSchema decodes a schema file keeping numbers as json.Number, so limits and
// defaults keep their exact text ("999999999", not 1e+09).
func decodeSchema(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// collectPatterns compiles every patternProperties key found anywhere in a schema.
func collectPatterns(v any, into map[string]*regexp.Regexp) error {
	switch v := v.(type) {
	case map[string]any:
		if pp, ok := v["patternProperties"].(map[string]any); ok {
			for p := range pp {
				if _, done := into[p]; done {
					continue
				}
				re, err := regexp.Compile(p)
				if err != nil {
					return err
				}
				into[p] = re
			}
		}
		for _, c := range v {
			if err := collectPatterns(c, into); err != nil {
				return err
			}
		}
	case []any:
		for _, c := range v {
			if err := collectPatterns(c, into); err != nil {
				return err
			}
		}
	}
	return nil
}

// Resources returns the names of the thirteen resources, sorted. The slice is the
// caller's to keep.
func (s *Set) Resources() []string { return slices.Clone(s.resources) }

// Has reports whether name is a resource ("products") or a subresource body schema
// ("carts_items", "applications_data").
func (s *Set) Has(name string) bool {
	_, ok := s.entries[name]
	return ok
}

// Raw returns the schema file of name as embedded (a copy the caller may keep), or nil
// when there is no such schema. It is the body of GET /v1/<name>/schema.json.
func (s *Set) Raw(name string) []byte {
	e, ok := s.entries[name]
	if !ok {
		return nil
	}
	return bytes.Clone(e.raw)
}

// Validate checks doc against the schema called name. doc is a decoded JSON value:
// map[string]any, []any, string, bool, nil and json.Number numbers (float64, int64 and
// the other Go integer types are accepted too). Validate never changes doc.
//
// It returns nil when doc is valid and a *ValidationError listing every failing field
// otherwise, including values that are not JSON (NaN, a Go struct). An unknown name is a
// programming error, returned as a plain error.
func (s *Set) Validate(name string, doc any) error {
	e, ok := s.entries[name]
	if !ok {
		return fmt.Errorf("schemas: unknown schema %q", name)
	}
	var bad []fieldErr
	norm := normalize(doc, nil, &bad)
	if len(bad) > 0 {
		return newValidationError(name, bad)
	}
	err := e.compiled.Validate(norm)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		// Only reachable on a schema loop or a non-JSON value, both excluded above.
		return fmt.Errorf("schemas: validate %s: %w", name, err)
	}
	return newValidationError(name, s.leaves(e, norm, ve))
}
