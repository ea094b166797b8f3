// Package apierror is the one shape of every error answer of storeapi (SPEC §5):
//
//	{"status":400,"error_code":…,"message":"…","user_message":{"en_us":"…","pt_br":"…"},"more_info":…}
//
// Handlers and middleware return *Error values (or wrap the package's sentinels);
// Write turns any error into that body. An error that is not an *Error is a 500 whose
// cause is logged and never sent.
package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// UserMessage is the end-user text of an error in the two languages the API speaks.
type UserMessage struct {
	EnUS string `json:"en_us"`
	PtBR string `json:"pt_br"`
}

// FieldError is one failing field of a validation error.
type FieldError struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Error is an error answer. Status is the HTTP status; Code the API's error_code (a
// number or a string); Message the developer text; Cause, when set, is logged and never
// sent. Fields lists the failing fields of a validation error.
type Error struct {
	Status      int
	Code        any
	Message     string
	UserMessage UserMessage
	MoreInfo    string
	Fields      []FieldError
	Header      http.Header
	Cause       error
}

// Error returns the developer message (and the cause, for logs).
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("apierror: %d %s: %v", e.Status, e.Message, e.Cause)
	}
	return fmt.Sprintf("apierror: %d %s", e.Status, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// body is the JSON of an error answer.
type body struct {
	Status      int          `json:"status"`
	ErrorCode   any          `json:"error_code"`
	Message     string       `json:"message"`
	UserMessage UserMessage  `json:"user_message"`
	MoreInfo    *string      `json:"more_info"`
	Errors      []FieldError `json:"errors,omitempty"`
}

// New returns an error answer with a status, code and developer message; the user
// message is the generic one for the status.
func New(status int, code any, message string) *Error {
	return &Error{Status: status, Code: code, Message: message, UserMessage: userMessageFor(status)}
}

// Newf is New with a formatted message.
func Newf(status int, code any, format string, args ...any) *Error {
	return New(status, code, fmt.Sprintf(format, args...))
}

// Internal wraps an unexpected error as a 500 answer that does not reveal it.
func Internal(cause error) *Error {
	e := New(http.StatusInternalServerError, -500, "unexpected server error, try again later")
	e.Cause = cause
	return e
}

// From returns err as an *Error: itself when it is one (or wraps one), a 500 otherwise.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Write sends err as the error body. Failures with a cause (every 500) are logged at
// error level with it; refusals (4xx, a rate limit's 503) at debug.
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e := From(err)
	if log != nil {
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", e.Status, "error", err}
		// Unexpected failures (a cause to look at) are errors; refusals such as a rate
		// limit's 503 are routine.
		if e.Cause != nil || e.Status == http.StatusInternalServerError {
			log.ErrorContext(r.Context(), "request failed", attrs...)
		} else {
			log.DebugContext(r.Context(), "request refused", attrs...)
		}
	}
	b := body{Status: e.Status, ErrorCode: e.Code, Message: e.Message, UserMessage: e.UserMessage, Errors: e.Fields}
	if e.MoreInfo != "" {
		b.MoreInfo = &e.MoreInfo
	}
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	data, _ := json.Marshal(b)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Del("Content-Length")
	h.Del("ETag")
	w.WriteHeader(e.Status)
	_, _ = w.Write(data)
}

// userMessageFor is the end-user text shown for a status when the handler has none better.
func userMessageFor(status int) UserMessage {
	switch status {
	case http.StatusBadRequest:
		return UserMessage{"Invalid request, please check the data sent", "Requisição inválida, verifique os dados enviados"}
	case http.StatusUnauthorized:
		return UserMessage{"Unauthorized, please log in again", "Não autorizado, faça login novamente"}
	case http.StatusForbidden:
		return UserMessage{"Access denied", "Acesso negado"}
	case http.StatusNotFound:
		return UserMessage{"Not found", "Não encontrado"}
	case http.StatusMethodNotAllowed:
		return UserMessage{"Action not allowed", "Ação não permitida"}
	case http.StatusNotAcceptable:
		return UserMessage{"Invalid resource address", "Endereço de recurso inválido"}
	case http.StatusConflict:
		return UserMessage{"This data already exists", "Estes dados já existem"}
	case http.StatusPreconditionFailed:
		return UserMessage{"The data changed or the store is unknown, please reload", "Os dados mudaram ou a loja é desconhecida, recarregue"}
	case http.StatusRequestEntityTooLarge:
		return UserMessage{"The data sent is too large", "Os dados enviados são grandes demais"}
	case http.StatusUnsupportedMediaType:
		return UserMessage{"Send the data as JSON", "Envie os dados como JSON"}
	case http.StatusExpectationFailed:
		return UserMessage{"Store not identified", "Loja não identificada"}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return UserMessage{"Too many requests, please wait a moment", "Muitas requisições, aguarde um momento"}
	}
	if status >= 500 {
		return UserMessage{"Unexpected error, please try again later", "Erro inesperado, tente novamente mais tarde"}
	}
	return UserMessage{"Request not completed", "Requisição não concluída"}
}
