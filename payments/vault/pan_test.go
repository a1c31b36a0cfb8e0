package vault

import (
	"strings"
	"testing"

	"github.com/straitpay/strait/payments"
)

func TestLuhn(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"4242424242424242", true},
		{"4242424242424241", false},
		{"378282246310005", true},
		{"79927398713", true},
		{"79927398710", false},
		{"0", true},
		{"", false},
		{"4242-4242", false},
		{"abcd", false},
	}
	for _, c := range cases {
		if got := Luhn(c.in); got != c.want {
			t.Errorf("Luhn(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParsePANChecksCharactersLengthLuhnAndScheme(t *testing.T) {
	cases := []struct {
		name, in string
		scheme   Scheme
		funding  Funding
		country  string
		wantErr  string // substring of the message; "" for success
	}{
		{"visa credit US", "4242424242424242", Visa, Credit, "US", ""},
		{"spaces and dashes", "4242 4242-4242 4242", Visa, Credit, "US", ""},
		{"visa debit", "4000056655665556", Visa, Debit, "US", ""},
		{"mastercard 2-series", "2223003122003222", Mastercard, Credit, "US", ""},
		{"mastercard prepaid", "5105105105105100", Mastercard, Prepaid, "US", ""},
		{"amex 15 digits", "378282246310005", Amex, Credit, "US", ""},
		{"jcb", "3566002020360505", JCB, Credit, "JP", ""},
		{"unionpay", "6200000000000005", UnionPay, Debit, "CN", ""},
		{"discover", "6011111111111117", Discover, Credit, "US", ""},
		{"diners 14 digits", "30569309025904", Diners, Credit, "US", ""},
		{"scheme range only", "4111111111111111", Visa, FundingUnknown, "", ""},
		{"letters", "4242a24242424242", "", "", "", "only digits"},
		{"too short", "42424242424", "", "", "", "12 to 19"},
		{"too long", "42424242424242424242", "", "", "", "12 to 19"},
		{"bad check digit", "4242424242424241", "", "", "", "check digit"},
		{"unknown scheme", "9999999999999995", "", "", "", "not supported"},
		{"amex with 16 digits", withCheckDigit("378282246310005"), "", "", "", "cannot have 16"},
		{"mastercard with 19 digits", withCheckDigit("555555555555555555"), "", "", "", "cannot have 19"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pan, info, err := ParsePAN(c.in, DefaultBINTable)
			if c.wantErr != "" {
				if payments.ErrorField(err) != "number" || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want number error containing %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), c.in) {
					t.Fatalf("error repeats the number: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Scheme != c.scheme || info.Funding != c.funding || info.Country != c.country {
				t.Fatalf("info = %+v, want %s/%s/%s", info, c.scheme, c.funding, c.country)
			}
			if pan.Reveal() != strings.NewReplacer(" ", "", "-", "").Replace(c.in) {
				t.Fatal("Reveal does not give the digits back")
			}
		})
	}
}

func TestBINTablePrefersTheMostSpecificRange(t *testing.T) {
	tbl, err := NewBINTable([]BINRange{
		{"4", "4", BINInfo{Scheme: Visa}},
		{"411111", "411111", BINInfo{Visa, Debit, "SG", "Test"}},
		{"41", "41", BINInfo{Visa, Credit, "", ""}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in      string
		funding Funding
		country string
	}{
		{"4111111111111111", Debit, "SG"},
		{"4122222222222222", Credit, ""},
		{"4222222222222222", FundingUnknown, ""},
	}
	for _, c := range cases {
		info, ok := tbl.Lookup(c.in)
		if !ok || info.Funding != c.funding || info.Country != c.country {
			t.Errorf("Lookup(%s) = %+v %v, want %s %q", c.in[:6], info, ok, c.funding, c.country)
		}
	}
	if _, ok := tbl.Lookup("5555555555554444"); ok {
		t.Error("a range outside the table matched")
	}
}

func TestNewBINTableRejectsBadRanges(t *testing.T) {
	for _, r := range []BINRange{
		{"51", "5", BINInfo{Scheme: Mastercard}},
		{"55", "51", BINInfo{Scheme: Mastercard}},
		{"5a", "55", BINInfo{Scheme: Mastercard}},
		{"", "", BINInfo{Scheme: Mastercard}},
		{"51", "55", BINInfo{Scheme: "maestro"}},
	} {
		if _, err := NewBINTable([]BINRange{r}); err == nil {
			t.Errorf("NewBINTable(%q-%q %s) succeeded", r.Low, r.High, r.Info.Scheme)
		}
	}
}

func TestParseCVCLengthFollowsScheme(t *testing.T) {
	cases := []struct {
		in     string
		scheme Scheme
		ok     bool
	}{
		{"123", Visa, true},
		{"1234", Amex, true},
		{"123", Amex, false},
		{"1234", Visa, false},
		{"12a", Visa, false},
		{"", Visa, false},
	}
	for _, c := range cases {
		_, err := ParseCVC(c.in, c.scheme)
		if (err == nil) != c.ok || (err != nil && payments.ErrorField(err) != "cvc") {
			t.Errorf("ParseCVC(%q, %s) err = %v, want ok=%v", c.in, c.scheme, err, c.ok)
		}
	}
}

func TestMaskingShowsAtMostBINAndLast4(t *testing.T) {
	cases := []struct{ in, want string }{
		{"4242424242424242", "424242******4242"},
		{"378282246310005", "378282*****0005"},
		{"30569309025904", "**********5904"},
		{"4222222222222", "*********2222"},
	}
	for _, c := range cases {
		pan, _, err := ParsePAN(c.in, DefaultBINTable)
		if err != nil {
			t.Fatalf("%s: %v", c.want, err)
		}
		if got := pan.Masked(); got != c.want {
			t.Errorf("Masked = %q, want %q", got, c.want)
		}
	}
}

// FuzzLuhn checks Luhn against a direct restatement of the rule and that one
// changed digit always breaks it.
func FuzzLuhn(f *testing.F) {
	for _, s := range []string{"4242424242424242", "79927398713", "0", "", "12x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Luhn(s)
		if !allDigits(s) {
			if got {
				t.Fatalf("Luhn(%q) accepted a non-digit string", s)
			}
			return
		}
		sum := 0
		for i := 0; i < len(s); i++ {
			n := int(s[len(s)-1-i] - '0')
			if i%2 == 1 {
				n = n*2/10 + n*2%10
			}
			sum += n
		}
		if got != (sum%10 == 0) {
			t.Fatalf("Luhn(%q) = %v, restatement says %v", s, got, sum%10 == 0)
		}
		if got {
			b := []byte(s)
			b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
			if Luhn(string(b)) {
				t.Fatalf("changing the check digit of %q kept it valid", s)
			}
		}
	})
}

// FuzzParsePAN checks that ParsePAN never panics, that whatever it accepts is a
// Luhn-valid number of a length its scheme issues, and that no error message
// carries the digits.
func FuzzParsePAN(f *testing.F) {
	for _, s := range []string{"4242424242424242", "3782 8224 6310 005", "6200000000000005", "9999", "", "4-4-4", "٤٢٤٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pan, info, err := ParsePAN(s, DefaultBINTable)
		if err != nil {
			if payments.ErrorCode(err) != payments.EINVALID {
				t.Fatalf("error code %q", payments.ErrorCode(err))
			}
			if d := strings.NewReplacer(" ", "", "-", "").Replace(s); len(d) >= 12 && strings.Contains(err.Error(), d) {
				t.Fatalf("error repeats the input: %v", err)
			}
			return
		}
		d := pan.Reveal()
		if !Luhn(d) || !info.Scheme.AllowsLength(len(d)) {
			t.Fatalf("accepted %q as %s", s, info.Scheme)
		}
		m := pan.Masked()
		if len(m) != len(d) || strings.Trim(m[6:len(m)-4], "*") != "" || m[len(m)-4:] != d[len(d)-4:] {
			t.Fatalf("mask %q shows more than BIN and last 4", m)
		}
	})
}

// FuzzBINLookup checks the table answers any digit string consistently with a
// linear search for the longest matching range.
func FuzzBINLookup(f *testing.F) {
	for _, s := range []string{"4", "2221", "2720999", "3528", "6011", "62", "", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := DefaultBINTable.Lookup(s)
		best := -1
		var want BINInfo
		for _, r := range defaultRanges {
			if len(s) >= len(r.Low) && s[:len(r.Low)] >= r.Low && s[:len(r.Low)] <= r.High && len(r.Low) > best {
				best, want = len(r.Low), r.Info
			}
		}
		if want.Funding == "" {
			want.Funding = FundingUnknown
		}
		if ok != (best >= 0) || (ok && got != want) {
			t.Fatalf("Lookup(%q) = %+v %v, want %+v %v", s, got, ok, want, best >= 0)
		}
	})
}

// withCheckDigit appends the Luhn check digit to a digit string.
func withCheckDigit(body string) string {
	for c := byte('0'); c <= '9'; c++ {
		if s := body + string(c); Luhn(s) {
			return s
		}
	}
	panic("unreachable")
}
