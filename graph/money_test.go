package graph

import (
	"testing"

	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

func TestWithAmountRefusesAWrongExponentBeforeCalling(t *testing.T) {
	two, zero := 2, 0
	tests := []struct {
		name   string
		in     *model.MoneyInput
		called bool
		field  string // of the EINVALID error; "" for none
		want   *money.Amount
	}{
		{name: "no exponent", in: &model.MoneyInput{Amount: 1050, Currency: "USD"}, called: true, want: &money.Amount{Minor: 1050, Currency: money.MustCurrency("USD")}},
		{name: "right exponent", in: &model.MoneyInput{Amount: 1050, Currency: "USD", Exponent: &two}, called: true, want: &money.Amount{Minor: 1050, Currency: money.MustCurrency("USD")}},
		{name: "wrong exponent", in: &model.MoneyInput{Amount: 1050, Currency: "USD", Exponent: &zero}, field: "amount.exponent"},
		{name: "unknown currency, left to the domain", in: &model.MoneyInput{Amount: 1, Currency: "XXY", Exponent: &two}, called: true, want: &money.Amount{Minor: 1}},
		{name: "no amount", called: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			_, err := withOptionalAmount("amount", tt.in, func(a *money.Amount) (*int, error) {
				called = true
				if (a == nil) != (tt.want == nil) || a != nil && *a != *tt.want {
					t.Errorf("call got %v, want %v", a, tt.want)
				}
				return nil, nil
			})
			if called != tt.called {
				t.Errorf("called = %v, want %v", called, tt.called)
			}
			if tt.field == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != tt.field {
				t.Fatalf("err = %v, want EINVALID on %s", err, tt.field)
			}
			if got, want := payments.ErrorMessage(err), "USD has 2 decimal places, not 0"; got != want {
				t.Errorf("message = %q, want %q", got, want)
			}
		})
	}
}
