package resources

import (
	"net/http"

	"storeapi/db"
)

// Rule is what differs between resources: data the one generic set of handlers reads.
// Everything else (validation, defaults, subresources) comes from the resource's schema.
type Rule struct {
	// Name is the resource and collection name ("products").
	Name string
	// PrivateList means listing needs an authentication with GET permission.
	PrivateList bool
	// PrivateDocument means reading one document needs an authentication as well.
	PrivateDocument bool
	// ListFields is the default projection of a list without `fields`.
	ListFields []string
	// PublicFields, when set, is everything an unauthenticated GET may see (an allow-list).
	PublicFields []string
	// HiddenFields are dot paths an unauthenticated GET never sees (a deny-list, applied
	// through arrays: "shipping_lines.to" hides every line's `to`).
	HiddenFields []string
	// Verbs are the methods allowed on documents of this resource besides GET
	// (POST on the list, PUT/PATCH/DELETE on a document).
	Verbs []string
	// Indexes are kept by the engine for list filters and sorts.
	Indexes []db.Index
	// Shortcuts are the property addresses that PUT a few fields at once, with the
	// fields each takes: products/<id>/price takes {"price","base_price"}.
	Shortcuts map[string][]string
	// Sequence, when set, is an integer field numbered by the server on POST when the
	// body has none (orders' `number`: 1, 2, 3… per store).
	Sequence string
}

// allWrites are the methods of a fully writable resource.
var allWrites = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// productShortcuts are the quantity/price addresses of products and their variations.
var productShortcuts = map[string][]string{
	"quantity": {"quantity"},
	"price":    {"price", "base_price"},
}

// createdAt and updatedAt are the server-set timestamp fields.
const createdAt, updatedAt = "created_at", "updated_at"

// DefaultRules returns the rules of the 13 resources of SPEC §1.
func DefaultRules() []Rule {
	return []Rule{
		{
			Name:         "products",
			ListFields:   []string{"_id", "sku", "slug"},
			HiddenFields: []string{"hidden_metafields"},
			Verbs:        allWrites,
			Shortcuts:    productShortcuts,
			Indexes: []db.Index{
				{Paths: []string{"sku"}, Unique: true}, {Paths: []string{"slug"}},
				{Paths: []string{"price"}}, {Paths: []string{"name"}},
				{Paths: []string{"categories._id"}}, {Paths: []string{"brands._id"}},
				{Paths: []string{createdAt}},
				// Storefront category and brand pages sorted by price read 20 index entries.
				{Paths: []string{"categories._id", "price"}}, {Paths: []string{"brands._id", "price"}},
			},
		},
		{
			Name:       "categories",
			ListFields: []string{"_id", "name", "slug", "parent", "icon", createdAt, updatedAt},
			Verbs:      allWrites,
			Indexes:    []db.Index{{Paths: []string{"slug"}}, {Paths: []string{"parent._id"}}},
		},
		{
			Name:       "brands",
			ListFields: []string{"_id", "name", "slug", "logo"},
			Verbs:      allWrites,
			Indexes:    []db.Index{{Paths: []string{"slug"}}},
		},
		{
			Name:       "collections",
			ListFields: []string{"_id", "name", "slug", createdAt, updatedAt},
			Verbs:      allWrites,
			Indexes:    []db.Index{{Paths: []string{"slug"}}},
		},
		{
			Name:       "grids",
			ListFields: []string{"_id", "title", "grid_id", createdAt, updatedAt},
			Verbs:      allWrites,
			Indexes:    []db.Index{{Paths: []string{"grid_id"}}},
		},
		{
			Name:        "customers",
			PrivateList: true,
			ListFields:  []string{"_id", "state", "enabled", "main_email", "display_name", "name", createdAt, updatedAt},
			PublicFields: []string{"_id", "store_id", createdAt, updatedAt, "state", "enabled", "status",
				"locale", "currency_id", "currency_symbol", "metafields", "flags"},
			Verbs:   allWrites,
			Indexes: []db.Index{{Paths: []string{"main_email"}}, {Paths: []string{"doc_number"}}, {Paths: []string{createdAt}}},
		},
		{
			Name:        "carts",
			PrivateList: true,
			ListFields:  []string{"_id", "available", "completed", "status", "customers", "subtotal", createdAt, updatedAt},
			Verbs:       allWrites,
			Indexes:     []db.Index{{Paths: []string{"customers"}}, {Paths: []string{createdAt}}},
		},
		{
			Name:        "orders",
			PrivateList: true,
			ListFields: []string{"_id", "number", "code", "status", "financial_status", "fulfillment_status",
				"amount", "payment_method_label", "shipping_method_label", createdAt, updatedAt},
			HiddenFields: []string{"buyers", "gift_to", "shipping_lines.from", "shipping_lines.to", "transactions",
				"payments_history", "fulfillments", "hidden_metafields", "private_metafields", "staff_notes",
				"staff_signature", "browser_ip", "utm", "referring_site", "affiliate_code"},
			Verbs:    allWrites,
			Sequence: "number",
			Indexes: []db.Index{
				{Paths: []string{"number"}}, {Paths: []string{"status"}},
				{Paths: []string{"financial_status.current"}}, {Paths: []string{"fulfillment_status.current"}},
				{Paths: []string{"buyers._id"}}, {Paths: []string{createdAt}},
			},
		},
		{
			Name:         "applications",
			PrivateList:  true,
			ListFields:   []string{"_id", "app_id", "state", "title", "version", createdAt, updatedAt},
			HiddenFields: []string{"hidden_data", "authentication", "auth_scope", "auth_callback_uri"},
			Verbs:        allWrites,
			Indexes:      []db.Index{{Paths: []string{"app_id"}}},
		},
		{
			Name:            "authentications",
			PrivateList:     true,
			PrivateDocument: true,
			ListFields:      []string{"_id", "username", "email", "name", createdAt, updatedAt},
			Verbs:           allWrites,
			Indexes:         []db.Index{{Paths: []string{"username"}, Unique: true}, {Paths: []string{"email"}}},
		},
		{
			Name:       "stores",
			ListFields: []string{"_id", "store_id", "name", "domain", createdAt, updatedAt},
			PublicFields: []string{"_id", "store_id", createdAt, updatedAt, "name", "description", "logo", "domain",
				"homepage", "brand_colors", "languages", "contact_email", "contact_phone", "contact_cellphone", "address"},
			// Stores are created by the operator (bootstrap, CLI), never through the API.
			Verbs: []string{http.MethodPut, http.MethodPatch},
		},
		{
			Name:            "triggers",
			PrivateList:     true,
			PrivateDocument: true,
			ListFields: []string{"_id", "datetime", "authentication_id", "method", "action", "resource",
				"resource_id", "subresource", "subresource_id", "fields", "inserted_id"},
			Indexes: []db.Index{{Paths: []string{"datetime"}}, {Paths: []string{"resource"}}, {Paths: []string{"resource_id"}}},
		},
		{
			Name:            "procedures",
			PrivateList:     true,
			PrivateDocument: true,
			ListFields:      []string{"_id", "title", "short_description", "tag", createdAt, updatedAt},
			Verbs:           allWrites,
			// The webhook dispatcher looks up the procedures watching a trigger's resource.
			Indexes: []db.Index{{Paths: []string{"triggers.resource"}}},
		},
	}
}
