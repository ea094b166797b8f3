package resources

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"storeapi/apierror"
	"storeapi/db"
	"storeapi/schemas"
)

// The error codes this package answers with (SPEC §5 leaves them to the server; the
// README lists them). 102/132 come from auth, -53 from the rate limiter.
const (
	codeBadJSON          = -10
	codeNotObject        = -11
	codeInvalid          = -12
	codeBadQuery         = -13
	codeBadStore         = -14
	codeInvalidID        = -20
	codeUnknownSub       = -21
	codeMethod           = -30
	codePrecondition     = -43
	codeNotFound         = -44
	codeTooLarge         = -45
	codeDuplicate        = -46
	codeNoPermission     = 103
	codeNeedsAuth        = 101
	codeStoreMissing     = -40
	codeUnsupportedStage = -15
)

// Errors of this package, mapped to answers by classify.
var (
	// ErrNotFound means the address names no document (or item) of the store.
	ErrNotFound = errors.New("resources: not found")
	// errPrecondition means If-Match named another version of the document.
	errPrecondition = errors.New("resources: document changed since the given etag")
)

// classify maps an error of any layer to its answer, in one table.
func (e *Engine) classify(r *http.Request, err error) error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	var ve *schemas.ValidationError
	switch {
	case errors.As(err, &ve):
		out := apierror.New(http.StatusBadRequest, codeInvalid, validationMessage(ve))
		out.Fields = ve.Fields
		out.MoreInfo = schemaURL(r, ve.Schema)
		out.UserMessage = apierror.UserMessage{EnUS: "Some fields are not valid, please check them",
			PtBR: "Alguns campos não são válidos, verifique-os"}
		return out
	case errors.Is(err, ErrUnknownPath), errors.Is(err, ErrNotFound), errors.Is(err, db.ErrNotFound):
		return apierror.New(http.StatusNotFound, codeNotFound, notFoundMessage(err))
	case errors.Is(err, ErrInvalidID):
		return apierror.New(http.StatusNotAcceptable, codeInvalidID, trimPrefix(err))
	case errors.Is(err, ErrInvalidStoreID):
		return apierror.New(http.StatusBadRequest, codeBadStore, trimPrefix(err))
	case errors.Is(err, ErrBadQuery):
		return apierror.New(http.StatusBadRequest, codeBadQuery, trimPrefix(err))
	case errors.Is(err, db.ErrDuplicate):
		return apierror.New(http.StatusConflict, codeDuplicate,
			"a document of this store already has that value of a unique field")
	case errors.Is(err, errPrecondition):
		return apierror.New(http.StatusPreconditionFailed, codePrecondition,
			"the document changed since the version named by If-Match; get it again and retry")
	case errors.Is(err, db.ErrUnsupported):
		return apierror.New(http.StatusBadRequest, codeUnsupportedStage, trimPrefix(err))
	}
	return apierror.Internal(err)
}

// notFoundMessage says what was not found.
func notFoundMessage(err error) string {
	if errors.Is(err, ErrUnknownPath) {
		return "no resource at this address; see GET /v1/ for the resources"
	}
	return "no document with this id in this store"
}

// trimPrefix drops the "package: " prefix of a sentinel-wrapped message.
func trimPrefix(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && !strings.Contains(msg[:i], " ") {
		return msg[i+2:]
	}
	return msg
}

// validationMessage summarises a validation failure in one line.
func validationMessage(ve *schemas.ValidationError) string {
	if len(ve.Fields) == 0 {
		return fmt.Sprintf("body is not valid against the %s schema", ve.Schema)
	}
	f := ve.Fields[0]
	where := f.Path
	if where == "" {
		where = "(root)"
	}
	msg := fmt.Sprintf("body is not valid against the %s schema: %s: %s", ve.Schema, where, f.Reason)
	if n := len(ve.Fields) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more, see errors)", n)
	}
	return msg
}

// schemaURL is the address of a resource's JSON Schema on this server.
func schemaURL(r *http.Request, name string) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	resource, _, _ := strings.Cut(name, "_")
	if name == "applications_hidden_data" || name == "applications_data" {
		resource = "applications"
	}
	return fmt.Sprintf("%s://%s/v1/%s/schema.json", scheme, r.Host, resource)
}

// methodNotAllowed answers 405 with the verbs the address takes.
func methodNotAllowed(allowed ...string) error {
	e := apierror.Newf(http.StatusMethodNotAllowed, codeMethod,
		"method not allowed here; allowed: %s", strings.Join(allowed, ", "))
	e.Header = http.Header{"Allow": {strings.Join(append(allowed, http.MethodOptions), ", ")}}
	return e
}

// unknownSubresource answers 406 for a property the resource's schema does not have.
func unknownSubresource(resource, prop string) error {
	return apierror.Newf(http.StatusNotAcceptable, codeUnknownSub,
		"%s has no subresource %q", resource, prop)
}

// needsAuth answers 401 for a request that must be authenticated.
func needsAuth(what string) error {
	return apierror.Newf(http.StatusUnauthorized, codeNeedsAuth,
		"%s needs authentication: send X-My-ID and X-Access-Token", what)
}

// noPermission answers 401 for an authentication whose permissions do not cover the request.
func noPermission(method, resource, sub string) error {
	target := resource
	if sub != "" {
		target += "/" + sub
	}
	return apierror.Newf(http.StatusUnauthorized, codeNoPermission,
		"this authentication has no %s permission on %s", method, target)
}
