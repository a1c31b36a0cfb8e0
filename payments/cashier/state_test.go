package cashier

import (
	"strings"
	"testing"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// The tables themselves are walked, every allowed and refused pair, in
// vocab/paymentstatus and vocab/attemptstatus. These tests pin the coded
// errors the core answers with.

func TestConfirmingTwiceAndCapturingCanceledConflict(t *testing.T) {
	s, err := nextPayment(paymentstatus.RequiresPaymentMethod, paymentstatus.Confirm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nextPayment(s, paymentstatus.Confirm); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatalf("second confirm: %v", err)
	}
	if _, err := nextPayment(paymentstatus.Canceled, paymentstatus.Capture); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatalf("capture after cancel: %v", err)
	}
	if _, err := nextPayment(paymentstatus.Processing, paymentstatus.Cancel); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatal("a payment in flight was canceled")
	}
	if _, err := nextPayment("paid", paymentstatus.Confirm); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("unknown state: %v", err)
	}
	_, err = nextPayment(paymentstatus.Processing, paymentstatus.Confirm)
	if want := "a payment that is processing cannot confirm"; err == nil || err.Error() != want && !strings.Contains(err.Error(), want) {
		t.Errorf("message %v, want %q", err, want)
	}
}

func TestAttemptRefusalsConflict(t *testing.T) {
	for _, s := range attemptstatus.All {
		for _, o := range attemptstatus.Outcomes {
			_, ok := attemptstatus.Next(s, o)
			_, err := nextAttempt(s, o)
			if ok != (err == nil) || (!ok && payments.ErrorCode(err) != payments.ECONFLICT) {
				t.Errorf("%s + %s: %v", s, o, err)
			}
		}
	}
	if _, err := nextAttempt("lost", attemptstatus.OutcomeApproved); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("unknown attempt state: %v", err)
	}
	_, err := nextAttempt(attemptstatus.Errored, attemptstatus.OutcomeCaptured)
	if want := "an attempt that is errored cannot become captured"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("message %v, want %q", err, want)
	}
}
