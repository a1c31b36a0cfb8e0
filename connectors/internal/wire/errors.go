package wire

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	c "github.com/straitpay/strait/connectors"
)

// errorDomain marks a gRPC status as a contract error the connector chose
// to return, as opposed to a transport failure.
const errorDomain = "strait.connector.v1"

var grpcCodes = map[string]codes.Code{
	c.EUNSUPPORTED: codes.Unimplemented,
	c.EINVALID:     codes.InvalidArgument,
	c.EUNAVAILABLE: codes.Unavailable,
	c.EUNKNOWN:     codes.Unknown,
	c.EINTERNAL:    codes.Internal,
}

// ToStatus turns a connector's error into a gRPC status carrying its
// contract code in an ErrorInfo detail.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	code := c.ErrorCode(err)
	if errors.Is(err, context.DeadlineExceeded) {
		code = c.EUNKNOWN
	}
	gc, ok := grpcCodes[code]
	if !ok {
		code, gc = c.EINTERNAL, codes.Internal
	}
	st := status.New(gc, err.Error())
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: code, Domain: errorDomain}); derr == nil {
		st = d
	}
	return st.Err()
}

// FromStatus turns an error from a gRPC call into a contract error and
// the outcome the caller must assume. Only codes the connector declared
// itself (unsupported, invalid, unavailable) mean the channel was not
// reached; everything else, including every transport failure, is
// OutcomeUnknown.
func FromStatus(op string, err error) (c.Outcome, error) {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			e := &c.Error{Code: info.GetReason(), Message: op + ": " + st.Message()}
			switch e.Code {
			case c.EUNSUPPORTED, c.EINVALID, c.EUNAVAILABLE:
				return c.OutcomeError, e
			}
			e.Code = c.EUNKNOWN
			return c.OutcomeUnknown, e
		}
	}
	msg := op + ": outcome unknown"
	switch st.Code() {
	case codes.DeadlineExceeded:
		msg = op + ": deadline exceeded, outcome unknown"
	case codes.ResourceExhausted:
		msg = op + ": message over the size limit, outcome unknown"
	case codes.Unavailable, codes.Canceled:
		msg = op + ": connection to the connector lost, outcome unknown"
	}
	return c.OutcomeUnknown, &c.Error{Code: c.EUNKNOWN, Message: msg, Err: err}
}
