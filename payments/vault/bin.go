package vault

import (
	"fmt"
	"slices"
	"strings"
)

// Scheme is a card network.
type Scheme string

// The schemes the vault accepts.
const (
	Visa       Scheme = "visa"
	Mastercard Scheme = "mastercard"
	Amex       Scheme = "amex"
	UnionPay   Scheme = "unionpay"
	JCB        Scheme = "jcb"
	Discover   Scheme = "discover"
	Diners     Scheme = "diners"
)

// schemeLengths lists the PAN lengths each scheme issues.
var schemeLengths = map[Scheme][]int{
	Visa:       {13, 16, 19},
	Mastercard: {16},
	Amex:       {15},
	UnionPay:   {16, 17, 18, 19},
	JCB:        {16, 17, 18, 19},
	Discover:   {16, 17, 18, 19},
	Diners:     {14, 15, 16, 17, 18, 19},
}

// AllowsLength reports whether the scheme issues PANs of n digits.
func (s Scheme) AllowsLength(n int) bool { return slices.Contains(schemeLengths[s], n) }

// CVCLength returns the length of the scheme's security code: 4 for amex, 3 for
// the others.
func (s Scheme) CVCLength() int {
	if s == Amex {
		return 4
	}
	return 3
}

// Funding is how a card is funded.
type Funding string

// Funding types. FundingUnknown is for BINs the table knows only by scheme.
const (
	Credit         Funding = "credit"
	Debit          Funding = "debit"
	Prepaid        Funding = "prepaid"
	FundingUnknown Funding = "unknown"
)

// BINInfo is what the BIN table says about a card number.
type BINInfo struct {
	Scheme  Scheme
	Funding Funding
	// Country is the issuing country (ISO 3166-1 alpha-2), or "" when the table
	// knows the BIN only by its scheme range.
	Country string
	// Issuer is a display name for the issuing bank, if known.
	Issuer string
}

// BINRange maps the card numbers whose leading digits fall in [Low, High] to
// their BIN information. Low and High are digit prefixes of equal length (e.g.
// "2221" to "2720" for the newer Mastercard range, "424242" to "424242" for one
// issuer BIN).
type BINRange struct {
	Low, High string
	Info      BINInfo
}

// BINTable answers BIN lookups. Lookups prefer the most specific range: the one
// with the longest prefix, so an issuer BIN wins over its scheme's range.
type BINTable struct {
	ranges []BINRange // sorted by prefix length, longest first
}

// NewBINTable builds a table. It returns an error if a range's bounds are not
// digit strings of the same length with Low ≤ High, or if a range has no scheme.
func NewBINTable(ranges []BINRange) (*BINTable, error) {
	t := &BINTable{ranges: slices.Clone(ranges)}
	for _, r := range t.ranges {
		if len(r.Low) == 0 || len(r.Low) != len(r.High) || !allDigits(r.Low) || !allDigits(r.High) || r.Low > r.High {
			return nil, fmt.Errorf("vault: bad BIN range %q-%q", r.Low, r.High)
		}
		if _, ok := schemeLengths[r.Info.Scheme]; !ok {
			return nil, fmt.Errorf("vault: BIN range %q-%q has unknown scheme %q", r.Low, r.High, r.Info.Scheme)
		}
	}
	slices.SortStableFunc(t.ranges, func(a, b BINRange) int { return len(b.Low) - len(a.Low) })
	return t, nil
}

// Lookup returns the information of the most specific range containing the
// leading digits of number, and false if no range does. Ranges defined by a
// scheme only report FundingUnknown and no country.
func (t *BINTable) Lookup(number string) (BINInfo, bool) {
	for _, r := range t.ranges {
		if len(number) < len(r.Low) {
			continue
		}
		p := number[:len(r.Low)]
		if p >= r.Low && p <= r.High {
			info := r.Info
			if info.Funding == "" {
				info.Funding = FundingUnknown
			}
			return info, true
		}
	}
	return BINInfo{}, false
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// DefaultBINTable is the table the vault ships with. It has two layers:
//
//   - the schemes' IIN ranges (ISO/IEC 7812 prefixes as the networks publish
//     them), which give the scheme only: Visa 4; Mastercard 51-55 and 2221-2720;
//     Amex 34 and 37; Diners 300-305, 36, 38-39; Discover 6011, 644-649, 65;
//     UnionPay 62 and 81; JCB 3528-3589;
//   - the issuer BINs of the test cards the sandbox's simulated card network
//     accepts, with funding type and country, so tests see real-looking
//     credit/debit/prepaid and cross-border cards. Keep these in step with the
//     test-card list in sandbox/API.md.
//
// Production deployments load a licensed BIN file into NewBINTable instead.
var DefaultBINTable = mustBINTable(defaultRanges)

var defaultRanges = []BINRange{
	// Scheme ranges.
	{"4", "4", BINInfo{Scheme: Visa}},
	{"51", "55", BINInfo{Scheme: Mastercard}},
	{"2221", "2720", BINInfo{Scheme: Mastercard}},
	{"34", "34", BINInfo{Scheme: Amex}},
	{"37", "37", BINInfo{Scheme: Amex}},
	{"300", "305", BINInfo{Scheme: Diners}},
	{"36", "36", BINInfo{Scheme: Diners}},
	{"38", "39", BINInfo{Scheme: Diners}},
	{"6011", "6011", BINInfo{Scheme: Discover}},
	{"644", "649", BINInfo{Scheme: Discover}},
	{"65", "65", BINInfo{Scheme: Discover}},
	{"62", "62", BINInfo{Scheme: UnionPay}},
	{"81", "81", BINInfo{Scheme: UnionPay}},
	{"3528", "3589", BINInfo{Scheme: JCB}},

	// Test-card BINs (sandbox card network).
	{"424242", "424242", BINInfo{Visa, Credit, "US", "Strait Test Bank"}},
	{"400000", "400000", BINInfo{Visa, Credit, "US", "Strait Test Bank"}},
	{"400005", "400005", BINInfo{Visa, Debit, "US", "Strait Test Bank"}},
	{"400012", "400012", BINInfo{Visa, Credit, "CA", "Strait Test Bank Canada"}},
	{"400025", "400025", BINInfo{Visa, Credit, "FR", "Strait Test Bank France"}},
	{"400027", "400027", BINInfo{Visa, Debit, "DE", "Strait Test Bank Germany"}},
	{"400082", "400082", BINInfo{Visa, Credit, "GB", "Strait Test Bank UK"}},
	{"400036", "400036", BINInfo{Visa, Credit, "ID", "Strait Test Bank Indonesia"}},
	{"403200", "403200", BINInfo{Visa, Prepaid, "US", "Strait Test Prepaid"}},
	{"555555", "555555", BINInfo{Mastercard, Credit, "US", "Strait Test Bank"}},
	{"222300", "222300", BINInfo{Mastercard, Credit, "US", "Strait Test Bank"}},
	{"520082", "520082", BINInfo{Mastercard, Debit, "US", "Strait Test Bank"}},
	{"510510", "510510", BINInfo{Mastercard, Prepaid, "US", "Strait Test Prepaid"}},
	{"378282", "378282", BINInfo{Amex, Credit, "US", "Strait Test Amex"}},
	{"371449", "371449", BINInfo{Amex, Credit, "US", "Strait Test Amex"}},
	{"601111", "601111", BINInfo{Discover, Credit, "US", "Strait Test Discover"}},
	{"305693", "305693", BINInfo{Diners, Credit, "US", "Strait Test Diners"}},
	{"356600", "356600", BINInfo{JCB, Credit, "JP", "Strait Test JCB"}},
	{"620000", "620000", BINInfo{UnionPay, Debit, "CN", "Strait Test UnionPay"}},
	{"625094", "625094", BINInfo{UnionPay, Credit, "CN", "Strait Test UnionPay"}},
}

func mustBINTable(r []BINRange) *BINTable {
	t, err := NewBINTable(r)
	if err != nil {
		panic(err)
	}
	return t
}
