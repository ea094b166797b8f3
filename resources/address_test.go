package resources

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"storeapi/db"
)

const (
	addrTestID  = "5f1a2b3c4d5e6f7a8b9c0d1e"
	addrTestID2 = "0123456789abcdef01234567"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		path string
		want Address
	}{
		{"/v1/", Address{Kind: KindRoot}},
		{"/v1", Address{Kind: KindRoot}},
		{"/1000/v1/", Address{StoreID: 1000, Kind: KindRoot}},
		{"/sandbox/v1/", Address{Sandbox: true, Kind: KindRoot}},
		{"/sandbox/v1", Address{Sandbox: true, Kind: KindRoot}},
		{"/sandbox/7/v1/", Address{Sandbox: true, StoreID: 7, Kind: KindRoot}},

		{"/v1/products.json", Address{Kind: KindList, Resource: "products"}},
		{"/v1/products", Address{Kind: KindList, Resource: "products"}},
		{"/1000/v1/brands.json", Address{StoreID: 1000, Kind: KindList, Resource: "brands"}},
		{"/sandbox/v1/orders.json", Address{Sandbox: true, Kind: KindList, Resource: "orders"}},
		{"/sandbox/1000/v1/categories.json", Address{Sandbox: true, StoreID: 1000, Kind: KindList, Resource: "categories"}},
		{"/9007199254740992/v1/grids.json", Address{StoreID: 1 << 53, Kind: KindList, Resource: "grids"}},

		{"/v1/products/" + addrTestID + ".json", Address{Kind: KindDocument, Resource: "products", ID: addrTestID}},
		{"/v1/customers/" + addrTestID, Address{Kind: KindDocument, Resource: "customers", ID: addrTestID}},
		{"/v1/products/" + addrTestID + "/variations.json",
			Address{Kind: KindProperty, Resource: "products", ID: addrTestID, Property: "variations"}},
		{"/v1/products/" + addrTestID + "/quantity.json",
			Address{Kind: KindProperty, Resource: "products", ID: addrTestID, Property: "quantity"}},
		{"/v1/orders/" + addrTestID + "/payments_history.json",
			Address{Kind: KindProperty, Resource: "orders", ID: addrTestID, Property: "payments_history"}},
		{"/v1/carts/" + addrTestID + "/items/" + addrTestID2 + ".json",
			Address{Kind: KindItem, Resource: "carts", ID: addrTestID, Property: "items", ItemID: addrTestID2}},
		{"/v1/products/" + addrTestID + "/variations/" + addrTestID2 + "/quantity.json",
			Address{Kind: KindItemProperty, Resource: "products", ID: addrTestID, Property: "variations", ItemID: addrTestID2, Leaf: "quantity"}},
		{"/sandbox/5/v1/products/" + addrTestID + "/variations/" + addrTestID2 + "/price",
			Address{Sandbox: true, StoreID: 5, Kind: KindItemProperty, Resource: "products", ID: addrTestID, Property: "variations", ItemID: addrTestID2, Leaf: "price"}},

		{"/v1/products/schema.json", Address{Kind: KindSchema, Resource: "products"}},
		{"/v1/stores/schema.json", Address{Kind: KindSchema, Resource: "stores"}},
		{"/v1/stores/me.json", Address{Kind: KindMe, Resource: "stores"}},
		{"/v1/authentications/me", Address{Kind: KindMe, Resource: "authentications"}},

		{"/v1/_login.json", Address{Kind: KindSpecial, Special: "_login"}},
		{"/v1/_authenticate.json", Address{Kind: KindSpecial, Special: "_authenticate"}},
		{"/v1/$count.json", Address{Kind: KindSpecial, Special: "$count"}},
		{"/v1/$aggregate", Address{Kind: KindSpecial, Special: "$aggregate"}},
		{"/sandbox/v1/_sandbox.json", Address{Sandbox: true, Kind: KindSpecial, Special: "_sandbox"}},
		{"/sandbox/v1/_login.json", Address{Sandbox: true, Kind: KindSpecial, Special: "_login"}},
	}
	for _, r := range []string{"products", "categories", "brands", "collections", "grids", "customers", "carts",
		"orders", "applications", "authentications", "stores", "triggers", "procedures"} {
		tests = append(tests, struct {
			path string
			want Address
		}{"/v1/" + r + ".json", Address{Kind: KindList, Resource: r}})
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.path)
		if err != nil {
			t.Errorf("ParseAddress(%q): got error %v, want %+v", tt.path, err, tt.want)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseAddress(%q): got %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func TestParseAddressErrors(t *testing.T) {
	tests := []struct {
		path string
		want error
	}{
		{"", ErrUnknownPath},
		{"/", ErrUnknownPath},
		{"v1/products.json", ErrUnknownPath},
		{"/v2/products.json", ErrUnknownPath},
		{"/products.json", ErrUnknownPath},
		{"/v1/widgets.json", ErrUnknownPath},
		{"/v1/Products.json", ErrUnknownPath},
		{"/v1/products.JSON", ErrUnknownPath},
		{"/v1/products.json.json", ErrUnknownPath},
		{"/v1/products.json/" + addrTestID, ErrUnknownPath},
		{"/v1/.json", ErrUnknownPath},
		{"/v1//", ErrUnknownPath},
		{"/v1//products.json", ErrUnknownPath},
		{"/v1/products/", ErrUnknownPath},
		{"/v1/products.json/", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/", ErrUnknownPath},
		{"/v1/_sandbox.json", ErrUnknownPath},
		{"/1000/v1/_sandbox.json", ErrUnknownPath},
		{"/v1/_logout.json", ErrUnknownPath},
		{"/v1/count.json", ErrUnknownPath},
		{"/v1/$where.json", ErrUnknownPath},
		{"/v1/$count/x.json", ErrUnknownPath},
		{"/sandbox", ErrUnknownPath},
		{"/sandbox/", ErrUnknownPath},
		{"/sandbox/sandbox", ErrUnknownPath},
		{"/1000/products.json", ErrUnknownPath},
		{"/1000/2000/v1/products.json", ErrUnknownPath},
		{"/v1/sandbox/products.json", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/Variations.json", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/$set.json", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/a-b.json", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/variations/" + addrTestID2 + "/Price", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/variations/" + addrTestID2 + "/price/x", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/variations/" + addrTestID2 + "/price/x/y/z/w", ErrUnknownPath},
		{"/v1/products/" + addrTestID + "/a/b/c/d/e/f/g/h/i/j/k", ErrUnknownPath},

		{"/v1/products/123.json", ErrInvalidID},
		{"/v1/products/" + strings.ToUpper(addrTestID) + ".json", ErrInvalidID},
		{"/v1/products/" + addrTestID + "0.json", ErrInvalidID},
		{"/v1/products/" + addrTestID[:23] + "g.json", ErrInvalidID},
		{"/v1/products/me.json", ErrInvalidID},
		{"/v1/customers/me.json", ErrInvalidID},
		{"/v1/stores/me/name.json", ErrInvalidID},
		{"/v1/products/schema/variations.json", ErrInvalidID},
		{"/v1/products/" + addrTestID + "/variations/schema.json", ErrInvalidID},
		{"/v1/products/" + addrTestID + "/variations/me.json", ErrInvalidID},
		{"/v1/products/" + addrTestID + "/variations/12.json", ErrInvalidID},
		{"/v1/products/$count.json", ErrInvalidID},

		{"/0/v1/products.json", ErrInvalidStoreID},
		{"/01000/v1/products.json", ErrInvalidStoreID},
		{"/-1000/v1/products.json", ErrInvalidStoreID},
		{"/+1000/v1/products.json", ErrInvalidStoreID},
		{"/1e3/v1/products.json", ErrInvalidStoreID},
		{"/abc/v1/products.json", ErrInvalidStoreID},
		{"/9007199254740993/v1/products.json", ErrInvalidStoreID},
		{"/99999999999999999999/v1/products.json", ErrInvalidStoreID},
		{"/sandbox/0/v1/", ErrInvalidStoreID},
		{"/sandbox/sandbox/v1/products.json", ErrInvalidStoreID},
		{"//v1/products.json", ErrInvalidStoreID},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.path)
		if !errors.Is(err, tt.want) {
			t.Errorf("ParseAddress(%q): got %+v, %v; want error %v", tt.path, got, err, tt.want)
		}
	}
}

// addrTestEncode writes a as a path in the form ParseAddress reads, with or without
// the ".json" suffix.
func addrTestEncode(a Address, suffix bool) string {
	var b strings.Builder
	if a.Sandbox {
		b.WriteString("/sandbox")
	}
	if a.StoreID != 0 {
		b.WriteString("/" + strconv.FormatInt(a.StoreID, 10))
	}
	b.WriteString("/v1/")
	var segs []string
	switch a.Kind {
	case KindRoot:
		return b.String()
	case KindSpecial:
		segs = []string{a.Special}
	case KindSchema:
		segs = []string{a.Resource, "schema"}
	case KindMe:
		segs = []string{a.Resource, "me"}
	default:
		for _, s := range []string{a.Resource, a.ID, a.Property, a.ItemID, a.Leaf} {
			if s != "" {
				segs = append(segs, s)
			}
		}
	}
	b.WriteString(strings.Join(segs, "/"))
	if suffix {
		b.WriteString(".json")
	}
	return b.String()
}

// addrTestCheck reports what is wrong with a successfully parsed address, or "".
func addrTestCheck(a Address) string {
	if a.StoreID < 0 || a.StoreID > 1<<53 {
		return "store id out of range"
	}
	set := [5]bool{a.Resource != "", a.ID != "", a.Property != "", a.ItemID != "", a.Leaf != ""}
	want := [5]bool{}
	switch a.Kind {
	case KindRoot:
	case KindList, KindSchema, KindMe:
		want = [5]bool{true}
	case KindDocument:
		want = [5]bool{true, true}
	case KindProperty:
		want = [5]bool{true, true, true}
	case KindItem:
		want = [5]bool{true, true, true, true}
	case KindItemProperty:
		want = [5]bool{true, true, true, true, true}
	case KindSpecial:
		switch a.Special {
		case "_login", "_authenticate", "$count", "$aggregate":
		case "_sandbox":
			if !a.Sandbox {
				return "_sandbox outside the sandbox"
			}
		default:
			return "unknown special"
		}
	default:
		return "unknown kind"
	}
	if set != want {
		return "fields do not match the kind"
	}
	if (a.Kind == KindSpecial) != (a.Special != "") {
		return "special set on another kind"
	}
	if a.Resource != "" && !addrIsResource(a.Resource) {
		return "unknown resource"
	}
	if a.Kind == KindMe && a.Resource != "stores" && a.Resource != "authentications" {
		return "me of a resource without it"
	}
	if (a.ID != "" && !db.ValidID(a.ID)) || (a.ItemID != "" && !db.ValidID(a.ItemID)) {
		return "invalid id"
	}
	if (a.Property != "" && !addrIsName(a.Property)) || (a.Leaf != "" && !addrIsName(a.Leaf)) {
		return "invalid property name"
	}
	return ""
}

func TestParseAddressRoundTrip(t *testing.T) {
	for _, a := range []Address{
		{Kind: KindRoot},
		{Sandbox: true, StoreID: 12, Kind: KindList, Resource: "orders"},
		{StoreID: 1, Kind: KindItemProperty, Resource: "products", ID: addrTestID, Property: "variations", ItemID: addrTestID2, Leaf: "quantity"},
		{Kind: KindMe, Resource: "authentications"},
		{Kind: KindSchema, Resource: "carts"},
		{Sandbox: true, Kind: KindSpecial, Special: "_sandbox"},
	} {
		if msg := addrTestCheck(a); msg != "" {
			t.Fatalf("test address %+v: %s", a, msg)
		}
		for _, suffix := range []bool{true, false} {
			p := addrTestEncode(a, suffix)
			got, err := ParseAddress(p)
			if err != nil || got != a {
				t.Errorf("ParseAddress(%q): got %+v, %v; want %+v", p, got, err, a)
			}
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"/v1/", "/v1", "/1000/v1/products.json", "/sandbox/v1/_sandbox.json", "/sandbox/2/v1/$count.json",
		"/v1/products/" + addrTestID + ".json", "/v1/stores/me.json", "/v1/products/schema.json",
		"/v1/products/" + addrTestID + "/variations/" + addrTestID2 + "/quantity.json",
		"/v1/carts/" + addrTestID + "/items/" + addrTestID2, "//v1/x", "/0/v1/", "/v1/\xff/\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		a, err := ParseAddress(path)
		if err != nil {
			if !errors.Is(err, ErrUnknownPath) && !errors.Is(err, ErrInvalidID) && !errors.Is(err, ErrInvalidStoreID) {
				t.Fatalf("ParseAddress(%q): error %v wraps no sentinel", path, err)
			}
			if a != (Address{}) {
				t.Fatalf("ParseAddress(%q): error %v with a non-zero address %+v", path, err, a)
			}
			return
		}
		if msg := addrTestCheck(a); msg != "" {
			t.Fatalf("ParseAddress(%q) = %+v: %s", path, a, msg)
		}
		for _, suffix := range []bool{true, false} {
			p := addrTestEncode(a, suffix)
			b, err := ParseAddress(p)
			if err != nil || b != a {
				t.Fatalf("ParseAddress(%q) = %+v, but its form %q parses to %+v, %v", path, a, p, b, err)
			}
		}
	})
}
