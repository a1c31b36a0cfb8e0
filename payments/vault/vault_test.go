package vault

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
)

func TestTokenizeValidatesTheCard(t *testing.T) {
	// The fixture clock is 2026-11-23.
	cases := []struct {
		name  string
		edit  func(*CardInput)
		field string // "" for success
	}{
		{"valid", func(*CardInput) {}, ""},
		{"expires this month", func(in *CardInput) { in.ExpMonth, in.ExpYear = 11, 2026 }, ""},
		{"two-digit year", func(in *CardInput) { in.ExpYear = 30 }, ""},
		{"no CVC", func(in *CardInput) { in.CVC = "" }, ""},
		{"expired last month", func(in *CardInput) { in.ExpMonth, in.ExpYear = 10, 2026 }, "exp_year"},
		{"month 13", func(in *CardInput) { in.ExpMonth = 13 }, "exp_month"},
		{"month 0", func(in *CardInput) { in.ExpMonth = 0 }, "exp_month"},
		{"three-digit year", func(in *CardInput) { in.ExpYear = 203 }, "exp_year"},
		{"far future", func(in *CardInput) { in.ExpYear = 2060 }, "exp_year"},
		{"bad Luhn", func(in *CardInput) { in.Number = "4242424242424241" }, "number"},
		{"amex CVC on visa", func(in *CardInput) { in.CVC = "1234" }, "cvc"},
		{"no merchant", func(in *CardInput) { in.MerchantID = "" }, "merchant_id"},
		{"save without customer", func(in *CardInput) { in.Save = true }, "customer_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "k1:"+testKey(1))
			in := visaInput()
			c.edit(&in)
			tok, info, err := f.vault.Tokenize(context.Background(), in)
			if c.field != "" {
				if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != c.field {
					t.Fatalf("err = %v, want EINVALID on %s", err, c.field)
				}
				if f.store.Dump() != "" {
					t.Fatal("a rejected card was stored")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Token != tok || info.Scheme != Visa || info.Funding != Credit || info.Country != "US" || info.BIN != "424242" || info.Last4 != "4242" {
				t.Fatalf("info = %+v", info)
			}
			if info.Masked() != "424242******4242" {
				t.Fatalf("Masked = %s", info.Masked())
			}
		})
	}
}

func TestTokensAreRandomLettersAndNeverLuhnValid(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	seen := map[Token]bool{}
	for i := 0; i < 200; i++ {
		in := visaInput()
		in.Save = i%2 == 0
		in.CustomerID = "cus_" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		tok, info, err := f.vault.Tokenize(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		prefix := OneTimePrefix
		if in.Save {
			prefix = SavedPrefix
		}
		if !strings.HasPrefix(string(tok), prefix) || tok.IsSaved() != in.Save {
			t.Fatalf("token %s, want prefix %s", tok, prefix)
		}
		if strings.ContainsAny(string(tok), "0123456789") || strings.ContainsAny(info.Fingerprint, "0123456789") {
			t.Fatalf("token %s or fingerprint %s has digits", tok, info.Fingerprint)
		}
		if _, err := ParseToken(string(tok)); err != nil {
			t.Fatalf("ParseToken(%s): %v", tok, err)
		}
		if seen[tok] {
			t.Fatalf("token %s issued twice", tok)
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "tok_", "tok_abc", "pay_abcdefghijklmnopqrstuvwx", "tok_abcdefghijklmnopqrstuvw1", "tok_ABCDEFGHIJKLMNOPQRSTUVWX"} {
		if _, err := ParseToken(bad); payments.ErrorField(err) != "token" {
			t.Errorf("ParseToken(%q) = %v, want a token error", bad, err)
		}
	}
}

func TestFingerprintIsStablePerPANAndKey(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	_, a, _ := f.vault.Tokenize(ctx, visaInput())
	_, b, _ := f.vault.Tokenize(ctx, visaInput())
	in := visaInput()
	in.Number = "4000056655665556"
	_, c, _ := f.vault.Tokenize(ctx, in)
	if a.Fingerprint != b.Fingerprint || a.Fingerprint == c.Fingerprint || a.Token == b.Token {
		t.Fatalf("fingerprints %s %s %s", a.Fingerprint, b.Fingerprint, c.Fingerprint)
	}
	other, _ := NewFingerprinter([]byte(strings.Repeat("x", 32)))
	pan, _, _ := ParsePAN("4242424242424242", DefaultBINTable)
	if other.Fingerprint(pan) == a.Fingerprint {
		t.Fatal("fingerprint does not depend on the key")
	}
	if _, err := NewFingerprinter([]byte("short")); err == nil {
		t.Fatal("short fingerprint key accepted")
	}
}

func TestAnotherMerchantsTokenIsNotFound(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	tok, _, err := f.vault.Tokenize(ctx, visaInput())
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Detokenize": func() error { _, err := f.vault.Detokenize(ctx, "mer_b", tok); return err },
		"Info":       func() error { _, err := f.vault.Info(ctx, "mer_b", tok); return err },
		"Card":       func() error { _, err := f.vault.Card(ctx, "mer_b", tok); return err },
		"DeleteCard": func() error { return f.vault.DeleteCard(ctx, "mer_b", tok) },
	}
	for name, call := range calls {
		if err := call(); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("%s by another merchant = %v, want ENOTFOUND", name, err)
		}
	}
	if pan, err := f.vault.Detokenize(ctx, "mer_a", tok); err != nil || pan.Reveal() != "4242424242424242" {
		t.Fatalf("owner Detokenize = %v", err)
	}
	if _, ok := f.vault.TakeCVC(tok); !ok {
		t.Fatal("a failed cross-merchant Card call consumed the CVC")
	}
}

func TestCVCServesOneAuthorizationWithinItsTTL(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	tok, _, err := f.vault.Tokenize(ctx, visaInput())
	if err != nil {
		t.Fatal(err)
	}
	card, err := f.vault.Card(ctx, "mer_a", tok)
	if err != nil || card.CVC.Reveal() != "123" || card.PAN.Reveal() != "4242424242424242" {
		t.Fatalf("Card = %v, %v", card, err)
	}
	again, err := f.vault.Card(ctx, "mer_a", tok)
	if err != nil || !again.CVC.IsZero() {
		t.Fatalf("second Card: CVC still held (%v)", err)
	}
	card.Wipe()
	if card.CVC.Reveal() != "" {
		t.Fatal("Wipe left the CVC readable")
	}

	tok2, _, _ := f.vault.Tokenize(ctx, visaInput())
	f.clock.Advance(DefaultCVCTTL)
	if _, ok := f.vault.TakeCVC(tok2); ok {
		t.Fatal("CVC outlived its TTL")
	}
}

func TestCVCStoreSweepsExpiredEntries(t *testing.T) {
	c := newClock()
	s := NewCVCStore(time.Minute, c.Now)
	cvc, _ := ParseCVC("123", Visa)
	s.Put("tok_a", cvc)
	c.Advance(time.Minute)
	cvc2, _ := ParseCVC("456", Visa)
	s.Put("tok_b", cvc2)
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want the expired entry swept", s.Len())
	}
	if cvc.Reveal() != "" {
		t.Fatal("expired CVC not wiped")
	}
}

func TestSavedCardsPerCustomerWithDedupe(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	save := func(number string, month int) Token {
		t.Helper()
		in := visaInput()
		in.Number, in.ExpMonth, in.Save, in.CustomerID = number, month, true, "cus_1"
		tok, _, err := f.vault.Tokenize(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a := save("4242424242424242", 12)
	if again := save("4242 4242 4242 4242", 12); again != a {
		t.Fatalf("saving the same card twice gave %s and %s", a, again)
	}
	b := save("4242424242424242", 11) // re-issued with a new expiry
	c := save("5555555555554444", 12)
	// A one-time token for the same customer is not a saved card.
	in := visaInput()
	in.CustomerID = "cus_1"
	if _, _, err := f.vault.Tokenize(ctx, in); err != nil {
		t.Fatal(err)
	}

	cards, err := f.vault.SavedCards(ctx, "mer_a", "cus_1")
	if err != nil {
		t.Fatal(err)
	}
	var got []Token
	for _, c := range cards {
		got = append(got, c.Token)
	}
	if want := []Token{a, b, c}; strings.Join(toStrings(got), ",") != strings.Join(toStrings(want), ",") {
		t.Fatalf("saved cards %v, want %v", got, want)
	}
	if other, _ := f.vault.SavedCards(ctx, "mer_b", "cus_1"); len(other) != 0 {
		t.Fatal("another merchant sees the customer's cards")
	}
	if err := f.vault.DeleteCard(ctx, "mer_a", b); err != nil {
		t.Fatal(err)
	}
	if cards, _ := f.vault.SavedCards(ctx, "mer_a", "cus_1"); len(cards) != 2 {
		t.Fatalf("after delete: %d cards", len(cards))
	}
}

func TestCardRefusesACardThatExpiredAfterVaulting(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	in := visaInput()
	in.ExpMonth, in.ExpYear = 11, 2026
	tok, _, err := f.vault.Tokenize(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(8 * 24 * time.Hour) // into December
	if _, err := f.vault.Card(ctx, "mer_a", tok); payments.ErrorField(err) != "exp_year" {
		t.Fatalf("Card = %v, want expired", err)
	}
}

func toStrings(ts []Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

func TestCardInfoMaskMatchesThePANLength(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	unionpay19 := withCheckDigit("620000000000000123")
	cases := []struct{ number, cvc, want string }{
		{"378282246310005", "1234", "378282*****0005"},
		{unionpay19, "123", "620000*********" + unionpay19[15:]},
		{"30569309025904", "123", "****5904"},
	}
	for _, c := range cases {
		in := visaInput()
		in.Number, in.CVC = c.number, c.cvc
		_, info, err := f.vault.Tokenize(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Masked(); got != c.want {
			t.Errorf("Masked = %q, want %q", got, c.want)
		}
	}
}
