package resources

import (
	"net/http"

	"storeapi/apierror"
	"storeapi/auth"
)

// special serves the addresses that are not resources: _login, _authenticate, $count
// and $aggregate.
func (e *Engine) special(c *call) error {
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
