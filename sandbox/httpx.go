package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxBody bounds request bodies; the largest legitimate request is a few
// hundred bytes.
const maxBody = 1 << 20

// apiError is an error that the transport turns into an HTTP status and an
// error body. Business refusals are not apiErrors: they are declined outcomes.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalid(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

func notFound(what, id string) error {
	return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no %s %q", what, id)}
}

func conflict(format string, args ...any) error {
	return &apiError{http.StatusConflict, "idempotency_conflict", fmt.Sprintf(format, args...)}
}

var errUnauthorized = &apiError{http.StatusUnauthorized, "unauthorized", "missing or invalid API key"}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{http.StatusInternalServerError, "internal", "internal error"}
	}
	var body errorBody
	body.Error.Code, body.Error.Message = ae.code, ae.message
	writeJSON(w, ae.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encode response"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeCreated answers 201 for a new object and 200, marked as a replay, when
// an idempotency key found an existing one.
func writeCreated(w http.ResponseWriter, replayed bool, v any) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusOK, v)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// decode reads a strict JSON body into v: unknown fields and trailing data are
// errors. An empty body decodes as {}.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return invalid("request body: %v", err)
	}
	if dec.More() {
		return invalid("request body: trailing data after the JSON object")
	}
	return nil
}

// list is the envelope of every list answer.
type list[T any] struct {
	Data []T `json:"data"`
}

// opResult answers an operation on an existing object (capture, void, refund,
// terminate) and an immediate decline that stores nothing.
type opResult struct {
	Status         string `json:"status"`
	ID             string `json:"id,omitempty"`
	Amount         int64  `json:"amount,omitempty"`
	Currency       string `json:"currency,omitempty"`
	DeclineType    string `json:"decline_type,omitempty"`
	DeclineCode    string `json:"decline_code,omitempty"`
	DeclineMessage string `json:"decline_message,omitempty"`
	Payment        any    `json:"payment,omitempty"`
	Agreement      any    `json:"agreement,omitempty"`
}

// Outcome and decline vocabulary shared by every channel.
const (
	statusApproved       = "approved"
	statusDeclined       = "declined"
	statusPending        = "pending"
	statusActionRequired = "action_required"

	declineHard = "hard"
	declineSoft = "soft"
)

func declined(kind, code, format string, args ...any) opResult {
	return opResult{Status: statusDeclined, DeclineType: kind, DeclineCode: code, DeclineMessage: fmt.Sprintf(format, args...)}
}
