package resources

import (
	"net/http"

	"storeapi/db"
)

// listMeta is the "meta" of a list answer (SPEC §4).
type listMeta struct {
	Limit  int            `json:"limit"`
	Offset int            `json:"offset"`
	Sort   []sortMeta     `json:"sort"`
	Fields []string       `json:"fields"`
	Query  map[string]any `json:"query"`
	Count  int64          `json:"count"`
}

// sortMeta is one sort key as the list answer shows it.
type sortMeta struct {
	Field string `json:"field"`
	Order int    `json:"order"`
}

// listAnswer is a list answer.
type listAnswer struct {
	Meta   listMeta `json:"meta"`
	Result []any    `json:"result"`
}

// newMeta describes a list query in the answer's terms.
func newMeta(p ListParams, count int64) listMeta {
	m := listMeta{Limit: p.Limit, Offset: p.Offset, Sort: []sortMeta{}, Fields: p.Fields,
		Query: DescribeQuery(p.Conds), Count: count}
	for _, s := range p.Sort {
		order := 1
		if s.Desc {
			order = -1
		}
		m.Sort = append(m.Sort, sortMeta{Field: s.Path, Order: order})
	}
	if m.Fields == nil {
		m.Fields = []string{}
	}
	return m
}

// list serves GET of a resource's documents.
func (e *Engine) list(c *call) error {
	params, err := ParseListQuery(c.r.URL.RawQuery)
	if err != nil {
		return err
	}
	full, err := e.authorize(c, "", c.rule.PrivateList)
	if err != nil {
		return err
	}
	if !full {
		if err := checkPublicPaths(c.rule, params); err != nil {
			return err
		}
	}
	if len(params.Fields) == 0 {
		params.Fields = c.rule.ListFields
	}
	ctx := c.r.Context()
	q := db.Query{StoreID: c.storeID, Conds: params.Conds, Sort: params.Sort, Fields: params.Fields,
		Limit: params.Limit, Offset: params.Offset}
	docs, err := e.store.Find(ctx, c.rule.Name, q)
	if err != nil {
		return err
	}
	count, err := e.countMatches(ctx, c.rule.Name, c.storeID, params.Conds)
	if err != nil {
		return err
	}
	result := make([]any, len(docs))
	for i, d := range docs {
		result[i] = c.view(d, full)
	}
	return writeJSON(c.w, c.r, http.StatusOK, listAnswer{Meta: newMeta(params, count), Result: result}, !full)
}

// checkPublicPaths refuses a public list that filters or sorts on a field the public
// may not see: the answer would reveal it.
func checkPublicPaths(rule *Rule, p ListParams) error {
	for _, cond := range p.Conds {
		if !rule.publicPath(cond.Path) {
			return needsAuth("filtering " + rule.Name + " on " + cond.Path)
		}
	}
	for _, s := range p.Sort {
		if !rule.publicPath(s.Path) {
			return needsAuth("sorting " + rule.Name + " on " + s.Path)
		}
	}
	return nil
}

// listItems answers an embedded-documents subresource as a list, evaluated in memory.
func listItems(c *call, items []any, full bool, params ListParams) error {
	matched := make([]any, 0, len(items))
	for _, it := range items {
		if matchAll(it, params.Conds) {
			matched = append(matched, it)
		}
	}
	sortDocs(matched, params.Sort)
	count := int64(len(matched))
	if params.Offset < len(matched) {
		matched = matched[params.Offset:]
	} else {
		matched = matched[:0]
	}
	if len(matched) > params.Limit {
		matched = matched[:params.Limit]
	}
	result := make([]any, len(matched))
	for i, it := range matched {
		result[i] = project(it, params.Fields)
	}
	return writeJSON(c.w, c.r, http.StatusOK, listAnswer{Meta: newMeta(params, count), Result: result}, !full)
}
