package settlement

import (
	"testing"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

func TestFactsRecordSchemeAndRegion(t *testing.T) {
	cases := []struct {
		name                                         string
		method, scheme, cardCountry, buyer, merchant string
		wantScheme, wantRegion                       string
	}{
		{"visa domestic", "card", "visa", "US", "", "US", "visa", RegionDomestic},
		{"card country wins over the buyer's", "card", "Visa", "US", "DE", "US", "visa", RegionDomestic},
		{"mastercard international", "card", "mastercard", "JP", "", "US", "mastercard", RegionInternational},
		{"both EEA", "card", "visa", "FR", "", "DE", "visa", RegionIntraRegional},
		{"EEA outside the EU", "card", "visa", "no", "", "de", "visa", RegionIntraRegional},
		{"UK is not EEA", "card", "amex", "GB", "", "FR", "amex", RegionInternational},
		{"card country unknown: the buyer's", "card", "jcb", "", "JP", "JP", "jcb", RegionDomestic},
		{"card with no country at all", "card", "visa", "", "", "US", "visa", ""},
		{"wallet: no scheme, the buyer's country", "wallet", "visa", "US", "FR", "IT", "", RegionIntraRegional},
		{"bank transfer, buyer unknown", "bank_transfer", "", "", "", "US", "", ""},
		{"merchant country unknown", "wallet", "", "", "US", "", "", ""},
	}
	for _, c := range cases {
		s, r := Facts(c.method, c.scheme, c.cardCountry, c.buyer, c.merchant)
		if s != c.wantScheme || r != c.wantRegion {
			t.Errorf("%s: Facts = (%q, %q), want (%q, %q)", c.name, s, r, c.wantScheme, c.wantRegion)
		}
	}
}

func TestSelectMatchesSchemeAndRegion(t *testing.T) {
	plans := []FeePlan{
		{ID: "card", PaymentMethodType: "card", PercentBps: 290},
		{ID: "card-intl", PaymentMethodType: "card", Region: RegionInternational, PercentBps: 390},
		{ID: "visa", PaymentMethodType: "card", Scheme: "VISA", PercentBps: 250},
		{ID: "visa-domestic", PaymentMethodType: "card", Scheme: "visa", Region: RegionDomestic, PercentBps: 150},
		{ID: "any-domestic", Region: RegionDomestic, PercentBps: 100},
	}
	for _, c := range []struct{ method, scheme, region, want string }{
		{"card", "visa", RegionDomestic, "visa-domestic"},        // all three set
		{"card", "visa", RegionInternational, "card-intl"},       // two fields each: the earlier line
		{"card", "mastercard", RegionInternational, "card-intl"}, // method + region
		{"card", "mastercard", RegionDomestic, "card"},           // card (1) vs any-domestic (1): the earlier
		{"card", "mastercard", "", "card"},                       // unknown region: only region-less lines
		{"card", "", RegionIntraRegional, "card"},                // unknown scheme
		{"wallet", "", RegionDomestic, "any-domestic"},           // no wallet line
		{"card", "visa", RegionIntraRegional, "visa"},            // the scheme line, case-insensitive
	} {
		got, ok := Select(plans, Payment{PaymentMethodType: c.method, Scheme: c.scheme, Region: c.region})
		if !ok || got.ID != c.want {
			t.Errorf("Select(%s/%s/%s) = %s, want %s", c.method, c.scheme, c.region, got.ID, c.want)
		}
	}
	if _, ok := Select(plans[:4], Payment{PaymentMethodType: "wallet", Region: RegionDomestic}); ok {
		t.Error("Select matched a card line for a wallet payment")
	}
	// The most specific line prices the payment: 100.00 USD Visa domestic
	// at 1.5 % is 1.50; Mastercard international at 3.9 % is 3.90.
	for _, c := range []struct {
		scheme, region string
		want           int64
	}{{"visa", RegionDomestic, 150}, {"mastercard", RegionInternational, 390}} {
		pay := Payment{Gross: money.Amount{Minor: 10000, Currency: usd}, PaymentMethodType: "card", Scheme: c.scheme, Region: c.region}
		fp, _ := Select(plans, pay)
		if got := fp.Fee(pay).Total; got != c.want {
			t.Errorf("%s %s fee = %d, want %d", c.scheme, c.region, got, c.want)
		}
	}
}

func TestFeePlanValidateRegion(t *testing.T) {
	for _, r := range []string{"", RegionDomestic, RegionIntraRegional, RegionInternational} {
		if err := (FeePlan{Region: r}).Validate(); err != nil {
			t.Errorf("region %q: %v", r, err)
		}
	}
	if err := (FeePlan{Region: "EEA"}).Validate(); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("region EEA: err = %v, want EINVALID", err)
	}
}
