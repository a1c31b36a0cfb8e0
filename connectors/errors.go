package connectors

import (
	"errors"
	"fmt"
)

// Error codes returned by connectors and by the host. The payment core maps
// them to its own error codes at its edge.
const (
	// EUNSUPPORTED means the connector does not implement the capability.
	EUNSUPPORTED = "unsupported"
	// EINVALID means the request was malformed and was not sent on.
	EINVALID = "invalid"
	// EUNAVAILABLE means the call was not made: the connector is down,
	// disabled, or its circuit is open. Routing may try another connector.
	EUNAVAILABLE = "unavailable"
	// EUNKNOWN means the call may have reached the channel but no answer
	// came back (crash, deadline). The outcome is OutcomeUnknown.
	EUNKNOWN = "unknown"
	// EINTERNAL means the connector failed in a way it could describe.
	EINTERNAL = "internal"
)

// Error is the error type of the connector contract.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the message, prefixed by the code.
func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrUnsupported is returned for capabilities a connector does not have.
var ErrUnsupported = &Error{Code: EUNSUPPORTED, Message: "capability not supported by this connector"}

// ErrorCode returns the code of the first *Error in err's chain,
// EINTERNAL for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
