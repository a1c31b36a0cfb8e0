package vault

import "testing"

// TestSandboxTestCardsParse keeps the BIN table in step with the sandbox's test
// cards (sandbox/API.md) and the cross-border numbers docs/cashier.md lists:
// each parses with the scheme, funding and country the docs promise.
func TestSandboxTestCardsParse(t *testing.T) {
	cases := []struct {
		number  string
		scheme  Scheme
		funding Funding
		country string
	}{
		{"4242424242424242", Visa, Credit, "US"},
		{"5555555555554444", Mastercard, Credit, "US"},
		{"2223003122003222", Mastercard, Credit, "US"},
		{"6200000000000005", UnionPay, Debit, "CN"},
		{"3566002020360505", JCB, Credit, "JP"},
		{"378282246310005", Amex, Credit, "US"},
		{"4000000000000002", Visa, Credit, "US"},
		{"4000000000000010", Visa, Credit, "US"},
		{"4000000000000028", Visa, Credit, "US"},
		{"4000000000000036", Visa, Credit, "US"},
		{"4000000000000044", Visa, Credit, "US"},
		{"4000000000000051", Visa, Credit, "US"},
		{"4000000000000069", Visa, Credit, "US"},
		{"4000000000000077", Visa, Credit, "US"},
		{"4000000000000085", Visa, Credit, "US"},
		{"4000000000000093", Visa, Credit, "US"},
		{"4000056655665556", Visa, Debit, "US"},
		{"4000122222222220", Visa, Credit, "CA"},
		{"5200828282828210", Mastercard, Debit, "US"},
		{"5105105105105100", Mastercard, Prepaid, "US"},
	}
	for _, c := range cases {
		_, info, err := ParsePAN(c.number, DefaultBINTable)
		if err != nil {
			t.Errorf("%s: %v", c.number[:6], err)
			continue
		}
		if info.Scheme != c.scheme || info.Funding != c.funding || info.Country != c.country {
			t.Errorf("%s: %+v, want %s %s %s", c.number[:6], info, c.scheme, c.funding, c.country)
		}
	}
}
