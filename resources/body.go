package resources

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"storeapi/apierror"
	"storeapi/db"
)

// serverFields are set by the server on every document; client values are dropped.
var serverFields = []string{"_id", "store_id", createdAt, updatedAt}

// readBody reads the request body, at most maxBody bytes.
func (e *Engine) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, apierror.Newf(http.StatusRequestEntityTooLarge, codeTooLarge,
			"body larger than the limit of %d bytes", e.maxBody)
	}
	if err != nil {
		return nil, apierror.Newf(http.StatusBadRequest, codeBadJSON, "cannot read the body: %v", err)
	}
	return data, nil
}

// readObject reads the body as one JSON object, numbers kept exact as json.Number.
func (e *Engine) readObject(w http.ResponseWriter, r *http.Request) (db.Doc, error) {
	data, err := e.readBody(w, r)
	if err != nil {
		return nil, err
	}
	return decodeObject(data)
}

// decodeObject parses data as exactly one JSON object.
func decodeObject(data []byte) (db.Doc, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, apierror.New(http.StatusBadRequest, codeBadJSON, "the body is empty; send a JSON object")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, apierror.Newf(http.StatusBadRequest, codeBadJSON, "the body is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, apierror.New(http.StatusBadRequest, codeBadJSON, "the body has data after its JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, apierror.New(http.StatusBadRequest, codeNotObject, "the body must be a JSON object")
	}
	return obj, nil
}

// dropServerFields removes what clients cannot set from a body.
func dropServerFields(doc db.Doc) {
	for _, f := range serverFields {
		delete(doc, f)
	}
}
