package resources

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"storeapi/apierror"
	"storeapi/db"
)

// maxStages bounds an aggregation pipeline.
const maxStages = 20

// allowedStages are the read-only stages $aggregate runs (SPEC §1).
var allowedStages = map[string]bool{
	"$match": true, "$group": true, "$sort": true, "$limit": true, "$skip": true,
	"$project": true, "$count": true, "$unwind": true,
}

// allowedOperators are the query and expression operators a pipeline may use inside
// its stages. Everything else — $where, $function, $accumulator, $lookup, $out, $merge,
// $regex (client regular expressions), … — is refused by name.
var allowedOperators = map[string]bool{
	// query
	"$eq": true, "$ne": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true, "$in": true, "$nin": true,
	"$exists": true, "$and": true, "$or": true, "$nor": true, "$not": true, "$size": true, "$elemMatch": true,
	// accumulators
	"$sum": true, "$avg": true, "$min": true, "$max": true, "$first": true, "$last": true, "$push": true,
	"$addToSet": true,
}

// countRequest is the body of $count.
type countRequest struct {
	Resource string          `json:"resource"`
	Query    json.RawMessage `json:"query"`
}

// aggregateRequest is the body of $aggregate.
type aggregateRequest struct {
	Resource string   `json:"resource"`
	Pipeline []db.Doc `json:"pipeline"`
}

// badRequest is a 400 of the specials.
func badRequest(format string, args ...any) error {
	return apierror.Newf(http.StatusBadRequest, codeBadQuery, format, args...)
}

// specialRule checks the resource named in a special's body and the caller's GET
// permission on it.
func (e *Engine) specialRule(c *call, resource string) (*Rule, error) {
	rule := e.rules[resource]
	if rule == nil {
		return nil, badRequest("resource %q is not one of %s", resource, strings.Join(e.names, ", "))
	}
	if c.identity == nil {
		return nil, needsAuth(c.addr.Special)
	}
	if !c.identity.Can(resource, "", http.MethodGet) {
		return nil, noPermission(http.MethodGet, resource, "")
	}
	return rule, nil
}

// count serves POST $count: {"resource", "query"?} → {"count"}. query is a list query
// string ("sku=x&price>=10") or an object of equality filters ({"sku":"x"}).
func (e *Engine) count(c *call) error {
	data, err := e.readBody(c.w, c.r)
	if err != nil {
		return err
	}
	if _, err := decodeObject(data); err != nil {
		return err
	}
	var req countRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return badRequest("$count takes {\"resource\": string, \"query\"?: string or object}: %v", err)
	}
	rule, err := e.specialRule(c, req.Resource)
	if err != nil {
		return err
	}
	conds, err := countConds(req.Query)
	if err != nil {
		return err
	}
	n, err := e.store.Count(c.r.Context(), rule.Name, c.storeID, conds)
	if err != nil {
		return err
	}
	return writeJSON(c.w, c.r, http.StatusOK, map[string]int64{"count": n}, false)
}

// countConds reads the query of $count through the list-query parser, so it obeys the
// same grammar and refuses the same operators.
func countConds(raw json.RawMessage) ([]db.Cond, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		p, err := ParseListQuery(text)
		return p.Conds, err
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, badRequest("$count query must be a query string or an object of field values")
	}
	var parts []string
	for k, v := range obj {
		switch v.(type) {
		case string, float64, bool, nil:
		default:
			return nil, badRequest("$count query: the value of %q must be a string, number, boolean or null", k)
		}
		b, _ := json.Marshal(v)
		s := strings.Trim(string(b), `"`)
		if v == nil {
			s = "null"
		}
		parts = append(parts, percentEncode(k)+"="+percentEncode(s))
	}
	p, err := ParseListQuery(strings.Join(parts, "&"))
	return p.Conds, err
}

// percentEncode escapes everything but unreserved characters, commas excepted too, so
// that a value is one literal.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// aggregate serves POST $aggregate: {"resource", "pipeline"} → {"result"}, confined to
// the caller's store by the engine's forced first $match.
func (e *Engine) aggregate(c *call) error {
	data, err := e.readBody(c.w, c.r)
	if err != nil {
		return err
	}
	if _, err := decodeObject(data); err != nil {
		return err
	}
	var req aggregateRequest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return badRequest("$aggregate takes {\"resource\": string, \"pipeline\": [stages]}: %v", err)
	}
	rule, err := e.specialRule(c, req.Resource)
	if err != nil {
		return err
	}
	if err := checkPipeline(req.Pipeline); err != nil {
		return err
	}
	docs, err := e.store.Aggregate(c.r.Context(), rule.Name, c.storeID, req.Pipeline)
	if err != nil {
		return err
	}
	if docs == nil {
		docs = []db.Doc{}
	}
	return writeJSON(c.w, c.r, http.StatusOK, map[string]any{"result": docs}, false)
}

// checkPipeline refuses anything but the allowed stages and operators, naming it.
func checkPipeline(stages []db.Doc) error {
	if len(stages) == 0 || len(stages) > maxStages {
		return badRequest("pipeline must have 1 to %d stages", maxStages)
	}
	for i, st := range stages {
		if len(st) != 1 {
			return badRequest("pipeline stage %d must have exactly one key", i)
		}
		for name, spec := range st {
			if !allowedStages[name] {
				return badRequest("pipeline stage %s is not allowed; allowed: $match, $group, $sort, $limit, $skip, $project, $count, $unwind", name)
			}
			if sortSpec, ok := spec.(map[string]any); ok && name == "$sort" && len(sortSpec) > 1 {
				return badRequest("$sort takes one key per stage here (JSON objects carry no key order)")
			}
			if err := checkOperators(spec); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkOperators walks a stage's value for operator keys.
func checkOperators(v any) error {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if strings.HasPrefix(k, "$") && !allowedOperators[k] {
				return badRequest("operator %s is not allowed in $aggregate", k)
			}
			if err := checkOperators(x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range t {
			if err := checkOperators(x); err != nil {
				return err
			}
		}
	}
	return nil
}
