package money

import "testing"

// BenchmarkParseCurrency: a code the pipeline has seen before.
func BenchmarkParseCurrency(b *testing.B) {
	for b.Loop() {
		if _, err := ParseCurrency("SGD"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCurrencyCode: the code of a parsed currency.
func BenchmarkCurrencyCode(b *testing.B) {
	c := MustCurrency("SGD")
	for b.Loop() {
		if c.Code() != "SGD" {
			b.Fatal(c.Code())
		}
	}
}
