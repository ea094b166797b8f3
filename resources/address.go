package resources

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"storeapi/db"
)

// Sentinel errors of ParseAddress, wrapped with %w and a message saying what was wrong.
var (
	// ErrUnknownPath means the path is not an address of the API (404, error_code -44):
	// not one of the four forms, an unknown resource or special, a malformed property name.
	ErrUnknownPath = errors.New("resources: unknown path")
	// ErrInvalidID means a segment in an id position is not an id (406): not 24 lowercase
	// hex characters, "me" outside stores/authentications, "schema" anywhere but directly
	// after the resource.
	ErrInvalidID = errors.New("resources: invalid id")
	// ErrInvalidStoreID means the store id in the path is not an integer from 1 to 2^53 (400).
	ErrInvalidStoreID = errors.New("resources: invalid store id")
)

// Kind is what an address points at.
type Kind int

// The kinds of address (SPEC §1). The fields of Address each kind sets are listed.
const (
	KindRoot         Kind = iota // /v1/: nothing
	KindList                     // <resource>: Resource
	KindDocument                 // <resource>/<id>: Resource, ID
	KindProperty                 // <resource>/<id>/<prop>: Resource, ID, Property
	KindItem                     // <resource>/<id>/<prop>/<item_id>: Resource, ID, Property, ItemID
	KindItemProperty             // <resource>/<id>/<prop>/<item_id>/<leaf>: Resource, ID, Property, ItemID, Leaf
	KindSchema                   // <resource>/schema: Resource
	KindMe                       // stores/me, authentications/me: Resource
	KindSpecial                  // _login, _authenticate, $count, $aggregate, _sandbox: Special
)

// String names the kind for logs and test failures.
func (k Kind) String() string {
	switch k {
	case KindRoot:
		return "root"
	case KindList:
		return "list"
	case KindDocument:
		return "document"
	case KindProperty:
		return "property"
	case KindItem:
		return "item"
	case KindItemProperty:
		return "item property"
	case KindSchema:
		return "schema"
	case KindMe:
		return "me"
	case KindSpecial:
		return "special"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Address is a request path taken apart (SPEC §1).
//
// Sandbox is true for the /sandbox/… forms. StoreID is the store id written in the path
// (/<store_id>/v1/…), 0 for the header form (/v1/…, the store comes from X-Store-ID).
// Kind says which of the other fields are set (see the Kind constants); the rest are "".
// ID and ItemID are 24 lowercase hex characters; Property and Leaf match ^[a-z0-9_]+$;
// Resource is one of the 13 resources; Special is the name as written ("_login", "$count").
type Address struct {
	Sandbox  bool
	StoreID  int64
	Kind     Kind
	Resource string
	ID       string
	Property string
	ItemID   string
	Leaf     string
	Special  string
}

// addrMaxStoreID is the largest store id a path may carry (2^53, the largest integer a
// JavaScript client holds exactly).
const addrMaxStoreID = 1 << 53

// addrMaxSegments bounds the segments ParseAddress looks at: the longest address is
// /sandbox/<store_id>/v1/ followed by five segments.
const addrMaxSegments = 9

// ParseAddress takes apart the decoded URL path of a request (r.URL.Path) in one of the
// forms /v1/<p>.json, /<store_id>/v1/<p>.json, /sandbox/v1/<p>.json and
// /sandbox/<store_id>/v1/<p>.json; "/v1/" and "/v1" (with the same prefixes) are the root.
// The ".json" suffix of the last segment may be left out. _sandbox is an address only
// under /sandbox/.
//
// On failure it returns the zero Address and an error wrapping ErrUnknownPath,
// ErrInvalidID or ErrInvalidStoreID. ParseAddress never panics, whatever the bytes of path.
func ParseAddress(path string) (Address, error) {
	var a Address
	if !strings.HasPrefix(path, "/") {
		return Address{}, fmt.Errorf("%w: %s", ErrUnknownPath, addrQuote(path))
	}
	segs := strings.SplitN(path[1:], "/", addrMaxSegments+1)
	if len(segs) > addrMaxSegments {
		return Address{}, fmt.Errorf("%w: too many segments", ErrUnknownPath)
	}
	if segs[0] == "sandbox" {
		a.Sandbox = true
		segs = segs[1:]
	}
	if len(segs) >= 2 && segs[0] != "v1" && segs[1] == "v1" {
		id, err := addrStoreID(segs[0])
		if err != nil {
			return Address{}, err
		}
		a.StoreID = id
		segs = segs[1:]
	}
	if len(segs) == 0 || segs[0] != "v1" {
		return Address{}, fmt.Errorf("%w: %s", ErrUnknownPath, addrQuote(path))
	}
	segs = segs[1:]
	if len(segs) == 0 || (len(segs) == 1 && segs[0] == "") {
		a.Kind = KindRoot
		return a, nil
	}
	last := len(segs) - 1
	segs[last] = strings.TrimSuffix(segs[last], ".json")
	for _, s := range segs {
		if s == "" {
			return Address{}, fmt.Errorf("%w: empty segment in %s", ErrUnknownPath, addrQuote(path))
		}
	}
	if len(segs) > 5 {
		return Address{}, fmt.Errorf("%w: too many segments", ErrUnknownPath)
	}

	if len(segs) == 1 {
		switch s := segs[0]; s {
		case "_login", "_authenticate", "$count", "$aggregate", "_webhook_key":
			a.Kind, a.Special = KindSpecial, s
			return a, nil
		case "_sandbox":
			if !a.Sandbox {
				return Address{}, fmt.Errorf("%w: _sandbox is only under /sandbox/", ErrUnknownPath)
			}
			a.Kind, a.Special = KindSpecial, s
			return a, nil
		}
	}
	if !addrIsResource(segs[0]) {
		return Address{}, fmt.Errorf("%w: no resource %s", ErrUnknownPath, addrQuote(segs[0]))
	}
	a.Resource = segs[0]
	if len(segs) == 1 {
		a.Kind = KindList
		return a, nil
	}

	id := segs[1]
	switch {
	case len(segs) == 2 && id == "schema":
		a.Kind = KindSchema
		return a, nil
	case len(segs) == 2 && id == "me" && (a.Resource == "stores" || a.Resource == "authentications"):
		a.Kind = KindMe
		return a, nil
	case !db.ValidID(id):
		return Address{}, fmt.Errorf("%w: %s is not a %s id", ErrInvalidID, addrQuote(id), a.Resource)
	}
	a.ID = id
	if len(segs) == 2 {
		a.Kind = KindDocument
		return a, nil
	}

	if !addrIsName(segs[2]) {
		return Address{}, fmt.Errorf("%w: no property %s", ErrUnknownPath, addrQuote(segs[2]))
	}
	a.Property = segs[2]
	if len(segs) == 3 {
		a.Kind = KindProperty
		return a, nil
	}

	if !db.ValidID(segs[3]) {
		return Address{}, fmt.Errorf("%w: %s is not a %s id", ErrInvalidID, addrQuote(segs[3]), a.Property)
	}
	a.ItemID = segs[3]
	if len(segs) == 4 {
		a.Kind = KindItem
		return a, nil
	}

	if !addrIsName(segs[4]) {
		return Address{}, fmt.Errorf("%w: no property %s", ErrUnknownPath, addrQuote(segs[4]))
	}
	a.Leaf = segs[4]
	a.Kind = KindItemProperty
	return a, nil
}

// addrStoreID parses the store id segment of the path form: decimal digits without sign
// or leading zeros, from 1 to 2^53.
func addrStoreID(s string) (int64, error) {
	bad := fmt.Errorf("%w: %s is not an integer from 1 to %d", ErrInvalidStoreID, addrQuote(s), int64(addrMaxStoreID))
	if s == "" || len(s) > 16 || s[0] == '0' {
		return 0, bad
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > addrMaxStoreID {
		return 0, bad
	}
	return n, nil
}

// addrIsResource reports whether s is one of the 13 resources of SPEC §1.
func addrIsResource(s string) bool {
	switch s {
	case "products", "categories", "brands", "collections", "grids", "customers", "carts",
		"orders", "applications", "authentications", "stores", "triggers", "procedures":
		return true
	}
	return false
}

// addrIsName reports whether s matches ^[a-z0-9_]+$, the form of property names.
func addrIsName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// addrQuote quotes client text for an error message, cut to a readable length.
func addrQuote(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}
