// Package scalar holds Strait's custom GraphQL scalars.
package scalar

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/straitpay/strait/payments"
)

// Int64 is a signed 64-bit integer. It is written as a JSON string of decimal
// digits so JavaScript clients, whose numbers lose precision above 2^53, keep
// every minor unit; input accepts the string or a JSON integer.
type Int64 int64

// MarshalGQL implements graphql.Marshaler.
func (i Int64) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(strconv.FormatInt(int64(i), 10)))
}

// UnmarshalGQL implements graphql.Unmarshaler. It refuses fractions, exponents
// and values outside int64.
func (i *Int64) UnmarshalGQL(v any) error {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = t.String()
	case int64:
		*i = Int64(t)
		return nil
	case int:
		*i = Int64(t)
		return nil
	default:
		return payments.Errorf(payments.EINVALID, "Int64 must be a string of digits or an integer")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Coded, so the caller sees BAD_USER_INPUT rather than INTERNAL; the
		// value is not repeated (it could be anything a client mistyped).
		return payments.Errorf(payments.EINVALID, "Int64 value is not a 64-bit integer")
	}
	*i = Int64(n)
	return nil
}
