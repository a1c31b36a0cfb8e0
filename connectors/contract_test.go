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
		"exponent above 18":    func(r *connectors.AuthorizeRequest) { r.Amount.Exponent = connectors.Exp(19) },
		"negative exponent":    func(r *connectors.AuthorizeRequest) { r.Amount.Exponent = connectors.Exp(-1) },
		"unknown 3-DS request": func(r *connectors.AuthorizeRequest) { r.ThreeDS = connectors.ThreeDS(7) },
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

func TestMoneyStatesItsUnit(t *testing.T) {
	idr := connectors.NewMoney(5_000_000_000, "IDR")
	if e, ok := idr.Exponent.Get(); !ok || e != 0 {
		t.Fatalf("NewMoney IDR exponent %v", idr.Exponent)
	}
	hundredths := connectors.Money{Minor: 500_000_000_000, Currency: "IDR", Exponent: connectors.Exp(2)}
	for _, c := range []struct {
		a, b connectors.Money
		eq   bool
	}{
		{idr, hundredths, true},
		{idr, connectors.Money{Minor: 5_000_000_000, Currency: "IDR"}, true}, // unstated is Strait's table
		{idr, connectors.Money{Minor: 5_000_000_000, Currency: "IDR", Exponent: connectors.Exp(2)}, false},
		{connectors.NewMoney(1050, "USD"), connectors.NewMoney(1050, "SGD"), false},
	} {
		if c.a.Equal(c.b) != c.eq || c.b.Equal(c.a) != c.eq {
			t.Errorf("%v = %v: %t, want %t", c.a, c.b, c.a.Equal(c.b), c.eq)
		}
	}
	for m, want := range map[connectors.Money]string{
		connectors.NewMoney(1050, "USD"): "10.50 USD",
		connectors.NewMoney(-5, "KWD"):   "-0.005 KWD",
		connectors.NewMoney(1050, "JPY"): "1050 JPY",
		{Minor: 1050, Currency: "USD"}:   "1050 USD",
		hundredths:                       "5000000000.00 IDR",
		{Minor: -9223372036854775808, Currency: "USD", Exponent: connectors.Exp(2)}: "-92233720368547758.08 USD",
	} {
		if got := m.String(); got != want {
			t.Errorf("%#v prints %q, want %q", m, got, want)
		}
	}
}
