// Package payments is Strait's domain: the payment core and the payment services
// (ledger, FX, risk, routing, vault, settlement, reconciliation, disputes, events).
// It knows nothing of HTTP or GraphQL; the transports map its error codes to their
// own form.
package payments

import (
	"errors"
	"fmt"
)

// Error codes. The set is small on purpose: a transport maps each to one stable
// public code (GraphQL extensions.code), and callers branch on the code, never on
// the message.
const (
	EINVALID      = "invalid"      // the request is malformed or breaks a rule (BAD_USER_INPUT)
	ENOTFOUND     = "not_found"    // the thing does not exist or is not visible to the caller (NOT_FOUND)
	ECONFLICT     = "conflict"     // the request clashes with the current state or an earlier request (CONFLICT)
	EUNAUTHORIZED = "unauthorized" // the caller is not authenticated (UNAUTHENTICATED)
	EFORBIDDEN    = "forbidden"    // the caller is authenticated but may not do this (FORBIDDEN)
	ERATELIMIT    = "rate_limited" // the caller sent too much (RATE_LIMITED)
	EUNAVAILABLE  = "unavailable"  // a dependency (connector, database) is down; safe to retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure; the message is never shown to callers (INTERNAL)
)

// Error is a domain error carrying a code and a message that is safe to show to
// the caller. Wrap lower-level causes with fmt.Errorf("...: %w", err) instead of
// putting them in Message.
type Error struct {
	Code    string
	Message string
	// Field names the offending input field, when there is one (e.g. "amount").
	Field string
	// Err is the cause, for the log; it is never shown to the caller.
	Err error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID *Error about one input field.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the caller-safe message of the first *Error in err's chain,
// and a generic text for any other error so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}

// ErrorField returns the input field named by the first *Error in err's chain, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
