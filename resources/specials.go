package resources

import (
	"encoding/hex"
	"net/http"

	"storeapi/apierror"
	"storeapi/auth"
)

// special serves the addresses that are not resources: _login, _authenticate, $count,
// $aggregate (POST) and _webhook_key (GET).
func (e *Engine) special(c *call) error {
	if c.addr.Special == "_webhook_key" {
		return e.webhookKey(c)
	}
	if c.method != http.MethodPost {
		return methodNotAllowed(http.MethodPost)
	}
	ctx := c.r.Context()
	switch c.addr.Special {
	case "_login":
		body, err := e.readBody(c.w, c.r)
		if err != nil {
			return err
		}
		res, err := e.auth.Login(ctx, c.storeID, body, c.r.URL.Query().Get("username"))
		if err != nil {
			return err
		}
		return writeJSON(c.w, c.r, http.StatusOK, res, false)
	case "_authenticate":
		body, err := e.readBody(c.w, c.r)
		if err != nil {
			return err
		}
		var res auth.TokenResult
		if res, err = e.auth.Authenticate(ctx, c.storeID, body); err != nil {
			return err
		}
		return writeJSON(c.w, c.r, http.StatusOK, res, false)
	case "$count":
		return e.count(c)
	case "$aggregate":
		return e.aggregate(c)
	}
	return apierror.Newf(http.StatusNotFound, codeNotFound, "%s is not served here", c.addr.Special)
}

// webhookKeyAnswer tells a store's admins how to verify the webhooks they receive.
type webhookKeyAnswer struct {
	StoreID   int64  `json:"store_id"`
	Header    string `json:"header"`
	Algorithm string `json:"algorithm"`
	Key       string `json:"key"`
}

// webhookKey serves GET _webhook_key: the store's webhook signing key (hex), for an
// authentication that may read the store's procedures.
func (e *Engine) webhookKey(c *call) error {
	if c.method != http.MethodGet {
		return methodNotAllowed(http.MethodGet)
	}
	if e.signingKey == nil {
		return apierror.New(http.StatusNotFound, codeNotFound, "webhooks are not signed on this server")
	}
	if c.identity == nil {
		return needsAuth("_webhook_key")
	}
	if !c.identity.Can("procedures", "", http.MethodGet) {
		return noPermission(http.MethodGet, "procedures", "")
	}
	return writeJSON(c.w, c.r, http.StatusOK, webhookKeyAnswer{StoreID: c.storeID, Header: "X-Webhook-Signature",
		Algorithm: "HMAC-SHA256 of the body bytes with the hex-decoded key, sent as sha256=<hex>",
		Key:       hex.EncodeToString(e.signingKey(c.storeID))}, false)
}
