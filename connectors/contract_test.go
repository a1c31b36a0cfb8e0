package connectors_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/straitpay/strait/connectors"
)

func TestCardNeverPrintsItsNumberOrCVC(t *testing.T) {
	card := &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "987"}
	req := connectors.AuthorizeRequest{Reference: "pay_1", Card: card}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("authorize", "card", *card, "req", req)
	for _, out := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%#v", *card), fmt.Sprint(card), logged.String()} {
		if strings.Contains(out, "4242424242424242") || strings.Contains(out, "987") {
			t.Errorf("card data printed: %s", out)
		}
	}
	if got := card.Masked(); got != "424242******4242" {
		t.Errorf("Masked() = %q", got)
	}
}

func TestValidationRefusesMalformedRequests(t *testing.T) {
	good := connectors.AuthorizeRequest{IdempotencyKey: "k", Reference: "r", Amount: connectors.Money{Minor: 100, Currency: "JPY"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good request refused: %v", err)
	}
	cases := map[string]func(*connectors.AuthorizeRequest){
		"zero amount":      func(r *connectors.AuthorizeRequest) { r.Amount.Minor = 0 },
		"negative amount":  func(r *connectors.AuthorizeRequest) { r.Amount.Minor = -1 },
		"unknown currency": func(r *connectors.AuthorizeRequest) { r.Amount.Currency = "ZZZ" },
		"no currency":      func(r *connectors.AuthorizeRequest) { r.Amount.Currency = "XXX" },
		"lower case":       func(r *connectors.AuthorizeRequest) { r.Amount.Currency = "jpy" },
		"empty key":        func(r *connectors.AuthorizeRequest) { r.IdempotencyKey = "" },
		"long reference":   func(r *connectors.AuthorizeRequest) { r.Reference = strings.Repeat("x", 256) },
		"bad card":         func(r *connectors.AuthorizeRequest) { r.Card = &connectors.Card{Number: "42", ExpMonth: 1} },
		"bad month": func(r *connectors.AuthorizeRequest) {
			r.Card = &connectors.Card{Number: "4242424242424242", ExpMonth: 13}
		},
	}
	for name, mutate := range cases {
		r := good
		mutate(&r)
		if err := r.Validate(); connectors.ErrorCode(err) != connectors.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", name, err)
		}
	}
}

func TestUnimplementedAnswersUnsupported(t *testing.T) {
	var c connectors.Connector = connectors.Unimplemented{}
	resp, err := c.Refund(t.Context(), connectors.RefundRequest{})
	if connectors.ErrorCode(err) != connectors.EUNSUPPORTED || resp.Result.Outcome != connectors.OutcomeError {
		t.Fatalf("refund: %+v, %v", resp.Result, err)
	}
}

func TestZeroOutcomeIsUnknown(t *testing.T) {
	var r connectors.Result
	if r.Outcome != connectors.OutcomeUnknown || r.Outcome.String() != "unknown" {
		t.Fatalf("zero outcome = %v", r.Outcome)
	}
}
