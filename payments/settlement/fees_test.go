package settlement

import (
	"math"
	"testing"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

var (
	usd = money.MustCurrency("USD")
	jpy = money.MustCurrency("JPY")
)

func TestFeeRoundsHalfAwayFromZeroAndCaps(t *testing.T) {
	plan := FeePlan{PercentBps: 290, Fixed: money.Amount{Minor: 30, Currency: usd}, CrossBorderBps: 100}
	cases := []struct {
		name string
		pay  Payment
		want Fee
	}{
		// 10.00 USD × 2.9 % = 29 exactly, + 30 fixed.
		{"exact", Payment{Gross: money.Amount{Minor: 1000, Currency: usd}}, Fee{Percent: 29, Fixed: 30, Total: 59}},
		// 0.50 USD × 2.9 % = 1.45 → 1; cross-border 1 % = 0.5 → 1 (half away from zero).
		{"half up", Payment{Gross: money.Amount{Minor: 50, Currency: usd}, CrossBorder: true}, Fee{Percent: 1, CrossBorder: 1, Fixed: 30, Total: 32}},
		// 0.20 USD: 0.58 → 1, + 30 fixed > 20 gross: capped at the gross.
		{"capped", Payment{Gross: money.Amount{Minor: 20, Currency: usd}}, Fee{Percent: 1, Fixed: 30, Total: 20}},
		// The fixed part is in USD: a JPY payment has none. 1,234 × 2.9 % = 35.786 → 36.
		{"other currency", Payment{Gross: money.Amount{Minor: 1234, Currency: jpy}}, Fee{Percent: 36, Total: 36}},
		// (2^63−1) × 2.9 % = 267477789068788498.4: the 128-bit product stays exact.
		{"huge", Payment{Gross: money.Amount{Minor: math.MaxInt64, Currency: jpy}}, Fee{Percent: 267477789068788498, Total: 267477789068788498}},
	}
	for _, c := range cases {
		if got := plan.Fee(c.pay); got != c.want {
			t.Errorf("%s: Fee = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestRefundFeeReturnsTheFeeExactly(t *testing.T) {
	// A fee of 59 on 1000, refunded in three parts: the parts sum to 59.
	var sum, before int64
	for _, r := range []int64{333, 333, 334} {
		f := RefundFee(59, 1000, before, r)
		if f < 0 || f > r {
			t.Fatalf("RefundFee part %d out of range", f)
		}
		sum += f
		before += r
	}
	if sum != 59 {
		t.Fatalf("refund fees sum to %d, want 59", sum)
	}
	if got := RefundFee(59, 1000, 0, 500); got != 29 {
		t.Fatalf("half refund returns %d, want ⌊59/2⌋ = 29", got)
	}
}

func TestSelectPrefersTheMostSpecificPlan(t *testing.T) {
	plans := []FeePlan{
		{ID: "any", PercentBps: 300},
		{ID: "card", PaymentMethodType: "card", PercentBps: 250},
		{ID: "card-visa", PaymentMethodType: "card", Scheme: "visa", PercentBps: 200},
		{ID: "wallet", PaymentMethodType: "wallet", PercentBps: 150},
	}
	for _, c := range []struct{ method, scheme, want string }{
		{"card", "visa", "card-visa"}, {"card", "mastercard", "card"}, {"wallet", "", "wallet"}, {"bank_transfer", "", "any"},
	} {
		got, ok := Select(plans, Payment{PaymentMethodType: c.method, Scheme: c.scheme})
		if !ok || got.ID != c.want {
			t.Errorf("Select(%s/%s) = %s, want %s", c.method, c.scheme, got.ID, c.want)
		}
	}
	if _, ok := Select(plans[1:2], Payment{PaymentMethodType: "wallet"}); ok {
		t.Error("Select matched a card plan for a wallet payment")
	}
}

func TestFeePlanValidate(t *testing.T) {
	for _, p := range []FeePlan{{PercentBps: -1}, {PercentBps: 10001}, {CrossBorderBps: 10001}, {Fixed: money.Amount{Minor: -1, Currency: usd}}} {
		if payments.ErrorCode(p.Validate()) != payments.EINVALID {
			t.Errorf("Validate(%+v) accepted", p)
		}
	}
}

func TestSplitAllocatesExactlyWithResidue(t *testing.T) {
	r := SplitRule{Name: "referral", Basis: BasisFee, Shares: map[string]int64{"ptr_a": 3333, "ptr_b": 3333, "ptr_c": 1000}, ResiduePartner: "ptr_house"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	// 100 × 76.66 % = 76.66 → 76 shared; a and b get 33 each, c 10: 76 − 76 = 0 residue.
	// 1000 × 76.66 % = 766.6 → 766; a, b 333 each (333.3), c 100: residue 0.
	// 7 × 76.66 % = 5.36 → 5; a, b 2 (2.33), c 0 (0.7): residue 1 to the house.
	parts, shared := r.Allocate(7)
	want := []Part{{"ptr_a", 2}, {"ptr_b", 2}, {"ptr_house", 1}}
	if shared != 5 || len(parts) != len(want) {
		t.Fatalf("Allocate(7) = %v, %d", parts, shared)
	}
	var sum int64
	for i, p := range parts {
		if p != want[i] {
			t.Fatalf("Allocate(7) = %v, want %v", parts, want)
		}
		sum += p.Amount
	}
	if sum != shared {
		t.Fatalf("parts sum to %d, shared %d", sum, shared)
	}
	for amount := int64(0); amount < 5000; amount++ {
		parts, shared := r.Allocate(amount)
		var sum int64
		for _, p := range parts {
			sum += p.Amount
		}
		if sum != shared || shared != amount*7666/10000 {
			t.Fatalf("Allocate(%d): parts %d, shared %d", amount, sum, shared)
		}
	}
}

func TestSplitRuleAbove100PercentIsRefused(t *testing.T) {
	r := SplitRule{Name: "x", Basis: BasisGross, Shares: map[string]int64{"ptr_a": 6000, "ptr_b": 4001}, ResiduePartner: "ptr_a"}
	err := r.Validate()
	if payments.ErrorCode(err) != payments.EINVALID {
		t.Fatalf("Validate = %v, want EINVALID", err)
	}
	r.Shares["ptr_b"] = 4000
	if err := r.Validate(); err != nil {
		t.Fatalf("exactly 100%% refused: %v", err)
	}
}
