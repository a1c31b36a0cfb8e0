package vault

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/straitpay/strait/payments"
)

// maxExpiryYears bounds how far in the future an expiry may be; issuers stay
// well inside it, and a larger value is a typo or a probe.
const maxExpiryYears = 20

// CardInput is a card as a buyer types it, plus who it is for. It carries the
// raw number and CVC only between the transport and Vault.Tokenize; its String,
// GoString, Format, LogValue and MarshalJSON show at most the last four digits,
// and never the CVC.
type CardInput struct {
	MerchantID string
	// CustomerID is the merchant's customer the card belongs to; required when
	// Save is set.
	CustomerID string
	Number     string
	CVC        string
	ExpMonth   int
	// ExpYear is four digits; two digits mean 20xx.
	ExpYear    int
	HolderName string
	// Save asks for a reusable "card_" token attached to CustomerID instead of a
	// one-time "tok_" token.
	Save bool
	// SessionID is the checkout session a one-time token is made for: it
	// pays that session only (Record.SessionID).
	SessionID string
}

func (in CardInput) mask() string {
	d := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, in.Number)
	last4 := ""
	if len(d) >= 4 {
		last4 = d[len(d)-4:]
	}
	return fmt.Sprintf("card ****%s exp %02d/%d", last4, in.ExpMonth, in.ExpYear)
}

// String returns a masked description: last four and expiry.
func (in CardInput) String() string { return in.mask() }

// GoString returns the masked description for %#v.
func (in CardInput) GoString() string { return fmt.Sprintf("vault.CardInput(%q)", in.mask()) }

// Format prints the masked description for every verb.
func (in CardInput) Format(f fmt.State, _ rune) { fmt.Fprint(f, in.mask()) }

// LogValue implements slog.LogValuer without the number or CVC.
func (in CardInput) LogValue() slog.Value {
	return slog.GroupValue(slog.String("merchant", in.MerchantID), slog.String("customer", in.CustomerID), slog.String("card", in.mask()))
}

// MarshalJSON writes the masked description only.
func (in CardInput) MarshalJSON() ([]byte, error) { return json.Marshal(in.mask()) }

// Expiry is a card's expiry month. A card is valid through the last instant of
// that month, taken in UTC.
type Expiry struct {
	Month int // 1-12
	Year  int // four digits
}

// ParseExpiry checks month and year and widens a two-digit year to 20xx. Returns
// EINVALID (field "exp_month" or "exp_year").
func ParseExpiry(month, year int) (Expiry, error) {
	if month < 1 || month > 12 {
		return Expiry{}, payments.FieldErrorf("exp_month", "expiry month must be 1 to 12")
	}
	if year >= 0 && year < 100 {
		year += 2000
	}
	if year < 2000 || year > 9999 {
		return Expiry{}, payments.FieldErrorf("exp_year", "expiry year must have four digits")
	}
	return Expiry{Month: month, Year: year}, nil
}

// end returns the first instant after the expiry month.
func (e Expiry) end() time.Time {
	return time.Date(e.Year, time.Month(e.Month)+1, 1, 0, 0, 0, 0, time.UTC)
}

// Expired reports whether the card has expired at now.
func (e Expiry) Expired(now time.Time) bool { return !now.Before(e.end()) }

// Check returns EINVALID (field "exp_year") if the card has expired at now or
// expires implausibly far (more than 20 years) after now.
func (e Expiry) Check(now time.Time) error {
	if e.Expired(now) {
		return payments.FieldErrorf("exp_year", "card has expired")
	}
	if e.end().After(now.AddDate(maxExpiryYears, 1, 0)) {
		return payments.FieldErrorf("exp_year", "expiry is more than %d years away", maxExpiryYears)
	}
	return nil
}

// String formats the expiry as MM/YYYY.
func (e Expiry) String() string { return fmt.Sprintf("%02d/%04d", e.Month, e.Year) }

// Card is a card with its secrets, as the vault hands it to the connector call:
// the PAN from its envelope, the CVC from the in-memory store (zero if it was
// already used or expired), and the details a scheme wants with them. Its
// String, GoString, Format, LogValue and MarshalJSON show the masked PAN and
// expiry only.
type Card struct {
	Token      Token
	PAN        PAN
	CVC        CVC
	Expiry     Expiry
	HolderName string
	Scheme     Scheme
	// Info is the card's clear details (BIN, country, fingerprint), read
	// with it, for risk and routing.
	Info CardInfo
}

func (c Card) mask() string {
	return fmt.Sprintf("%s %s exp %s", c.Scheme, c.PAN.Masked(), c.Expiry)
}

// String returns the scheme, masked PAN and expiry.
func (c Card) String() string { return c.mask() }

// GoString returns the masked description for %#v.
func (c Card) GoString() string { return fmt.Sprintf("vault.Card(%q)", c.mask()) }

// Format prints the masked description for every verb.
func (c Card) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.mask()) }

// LogValue implements slog.LogValuer with the token and masked description.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token", string(c.Token)), slog.String("card", c.mask()))
}

// MarshalJSON writes the non-secret fields and the masked PAN.
func (c Card) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Token  Token  `json:"token"`
		Masked string `json:"masked"`
		Scheme Scheme `json:"scheme"`
		Expiry string `json:"expiry"`
	}{c.Token, c.PAN.Masked(), c.Scheme, c.Expiry.String()})
}

// Wipe wipes the CVC; call it once the authorization request is sent.
func (c Card) Wipe() { c.CVC.Wipe() }

// CardInfo is everything about a vaulted card that is safe to store in clear,
// show to the buyer and the merchant, and log.
type CardInfo struct {
	Token      Token   `json:"token"`
	MerchantID string  `json:"merchant_id"`
	CustomerID string  `json:"customer_id,omitempty"`
	Saved      bool    `json:"saved"`
	Scheme     Scheme  `json:"scheme"`
	Funding    Funding `json:"funding"`
	Country    string  `json:"country,omitempty"`
	Issuer     string  `json:"issuer,omitempty"`
	BIN        string  `json:"bin,omitempty"`
	Last4      string  `json:"last4"`
	// Length is the number of digits in the PAN, for the display mask.
	Length     int    `json:"length"`
	Expiry     Expiry `json:"expiry"`
	HolderName string `json:"holder_name,omitempty"`
	// Fingerprint is the same for every token of the same PAN (see Fingerprinter).
	Fingerprint string    `json:"fingerprint"`
	CreatedAt   time.Time `json:"created_at"`
}

// Masked returns the display form, e.g. "424242******4242" or "****4242" when
// the BIN is not shown.
func (i CardInfo) Masked() string {
	if i.BIN == "" || i.Length < len(i.BIN)+len(i.Last4) {
		return "****" + i.Last4
	}
	return i.BIN + strings.Repeat("*", i.Length-len(i.BIN)-len(i.Last4)) + i.Last4
}
