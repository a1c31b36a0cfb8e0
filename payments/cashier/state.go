// Package cashier is the payment pipeline: checkout sessions, payments and their
// attempts. This file turns the vocabulary's state machines (vocab/paymentstatus,
// vocab/attemptstatus: one table each) into the coded errors the API answers.
package cashier

import (
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// nextPayment returns the payment state after e. Returns ECONFLICT if e is not
// allowed in s (confirming twice, capturing a canceled payment), EINVALID for
// an unknown state.
func nextPayment(s paymentstatus.Status, e paymentstatus.Event) (paymentstatus.Status, error) {
	if !s.Valid() {
		return "", payments.Errorf(payments.EINVALID, "unknown payment state %q", s)
	}
	to, ok := paymentstatus.Next(s, e)
	if !ok {
		return "", payments.Errorf(payments.ECONFLICT, "a payment that is %s cannot %s", s.Name(), e)
	}
	return to, nil
}

// nextAttempt returns the attempt state after o. Returns ECONFLICT if o is
// not allowed in s (a late callback for a voided attempt, a capture of a
// declined one), EINVALID for an unknown state. Callers deduplicate channel
// events by id before calling, so ECONFLICT here means a real disagreement
// worth an alert.
func nextAttempt(s attemptstatus.Status, o attemptstatus.Outcome) (attemptstatus.Status, error) {
	if !s.Valid() {
		return "", payments.Errorf(payments.EINVALID, "unknown attempt state %q", s)
	}
	to, ok := attemptstatus.Next(s, o)
	if !ok {
		return "", payments.Errorf(payments.ECONFLICT, "an attempt that is %s cannot become %s", s.Name(), o)
	}
	return to, nil
}
