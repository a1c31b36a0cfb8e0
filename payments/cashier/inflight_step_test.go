package cashier

import (
	"errors"
	"testing"

	"github.com/straitpay/strait/connectors"
)

// TestInFlightStep: what the janitor does about an operation in flight,
// for each answer of QueryPayment.
func TestInFlightStep(t *testing.T) {
	usdMoney := func(minor int64) connectors.Money { return connectors.Money{Minor: minor, Currency: "USD"} }
	for _, c := range []struct {
		name string
		st   connectors.PaymentStatus
		err  error
		want inFlightAction
	}{
		{"no answer", connectors.PaymentStatus{}, errors.New("deadline exceeded"), inFlightWait},
		{"captured", connectors.PaymentStatus{Result: connectors.Approved(), Captured: usdMoney(2_000)}, nil, inFlightCaptured},
		{"voided", connectors.PaymentStatus{Result: connectors.Approved(), Voided: true}, nil, inFlightVoided},
		{"still authorized", connectors.PaymentStatus{Result: connectors.Approved(), Amount: usdMoney(3_400)}, nil, inFlightResend},
		{"pending", connectors.PaymentStatus{Result: connectors.Pending()}, nil, inFlightWait},
		{"unknown", connectors.PaymentStatus{Result: connectors.Unknown("?")}, nil, inFlightWait},
		{"declined", connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "")}, nil, inFlightWait},
	} {
		if got := inFlightStep(c.st, c.err); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
