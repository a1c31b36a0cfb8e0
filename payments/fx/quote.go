package fx

import (
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
)

// Policy holds the platform's FX terms.
type Policy struct {
	// MarginBps is the platform's margin in basis points, taken off the mid
	// rate: the merchant gets rate × (10000 − MarginBps) / 10000.
	MarginBps int64
	// Lock is how long a quote's rate holds.
	Lock time.Duration
	// MaxRateAge is how old a stored rate may be and still be quoted; past it,
	// quoting is EUNAVAILABLE until the next refresh.
	MaxRateAge time.Duration
}

// DefaultPolicy is 50 bps (0.5 %), a 30-second lock, and rates no older than 15
// minutes: a lock long enough for a person to read and confirm a quote on a
// dashboard, short enough that the platform's exposure to the market moving is
// small next to the margin.
var DefaultPolicy = Policy{MarginBps: 50, Lock: 30 * time.Second, MaxRateAge: 15 * time.Minute}

// Validate returns EINVALID unless 0 <= MarginBps < 10000 and both durations
// are positive.
func (p Policy) Validate() error {
	if p.MarginBps < 0 || p.MarginBps >= 10000 {
		return payments.FieldErrorf("marginBps", "margin must be between 0 and 9999 basis points")
	}
	if p.Lock <= 0 || p.MaxRateAge <= 0 {
		return payments.Errorf(payments.EINVALID, "quote lock and maximum rate age must be positive")
	}
	return nil
}

// Quote is a locked price for converting a merchant's Base into Quote. Once
// issued it never changes.
type Quote struct {
	ID         string
	MerchantID string
	Pair       Pair
	// BaseRate is the mid rate the quote was priced from, with its source and
	// observation time.
	BaseRate      money.Rate
	RateSource    string
	RateFetchedAt time.Time
	MarginBps     int64
	// Rate is the all-in rate the merchant gets: BaseRate less MarginBps.
	Rate      money.Rate
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NewQuote prices a quote for merchantID on pair from the observed mid rate
// under policy p, issued at now and expiring p.Lock later. The id is left for
// the store to assign. Returns EINVALID for an invalid pair or policy, and
// EUNAVAILABLE if the rate is not for pair or is older than p.MaxRateAge.
func NewQuote(merchantID string, pair Pair, mid ObservedRate, p Policy, now time.Time) (Quote, error) {
	if err := pair.Validate(); err != nil {
		return Quote{}, err
	}
	if err := p.Validate(); err != nil {
		return Quote{}, err
	}
	if mid.Pair != pair || mid.Rate.IsZero() {
		return Quote{}, payments.Errorf(payments.EUNAVAILABLE, "no rate for %s", pair)
	}
	if now.Sub(mid.At) > p.MaxRateAge {
		return Quote{}, payments.Errorf(payments.EUNAVAILABLE, "the %s rate is stale (observed %s)", pair, mid.At.UTC().Format(time.RFC3339))
	}
	allIn, err := mid.Rate.WithMarginBps(p.MarginBps)
	if err != nil {
		return Quote{}, err
	}
	return Quote{
		MerchantID:    merchantID,
		Pair:          pair,
		BaseRate:      mid.Rate,
		RateSource:    mid.Source,
		RateFetchedAt: mid.At,
		MarginBps:     p.MarginBps,
		Rate:          allIn,
		CreatedAt:     now,
		ExpiresAt:     now.Add(p.Lock),
	}, nil
}

// Price converts amount, which must be in the quote's base currency, at the
// all-in rate (rounded by money.RoundingRule). It does not check expiry; see
// CheckUsable. Returns EINVALID for a currency mismatch, a non-positive amount,
// or an amount too small to buy one minor unit of the quote currency, and on
// overflow.
func (q Quote) Price(amount money.Amount) (money.Amount, error) {
	if amount.Currency != q.Pair.Base {
		return money.Amount{}, payments.FieldErrorf("amount", "quote %s converts %s, not %s", q.ID, q.Pair.Base, amount.Currency)
	}
	if !amount.IsPositive() {
		return money.Amount{}, payments.FieldErrorf("amount", "amount must be positive")
	}
	out, err := amount.Convert(q.Rate, q.Pair.Quote)
	if err != nil {
		return money.Amount{}, err
	}
	if !out.IsPositive() {
		return money.Amount{}, payments.FieldErrorf("amount", "%s buys less than one minor unit of %s", amount, q.Pair.Quote)
	}
	return out, nil
}

// CheckUsable returns ENOTFOUND if the quote belongs to another merchant (it is
// not theirs to see), and EINVALID (field "quoteId") if it has expired at now:
// an expired quote is refused and a new one must be taken. A quote is usable up
// to, but not at, ExpiresAt.
func (q Quote) CheckUsable(merchantID string, now time.Time) error {
	if q.MerchantID != merchantID {
		return payments.Errorf(payments.ENOTFOUND, "quote not found")
	}
	if !now.Before(q.ExpiresAt) {
		return payments.FieldErrorf("quoteId", "quote %s expired at %s; take a new quote", q.ID, q.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// ConversionEntry returns the journal entry converting from (the merchant's
// available funds in the quote's base currency) into to (quote currency). Each
// currency moves through the platform's FX account, so each balances on its
// own: merchant −from, FX +from; FX −to, merchant +to. The source is the
// conversion's id; the reference is the quote.
func ConversionEntry(q Quote, sourceID string, from, to money.Amount, at time.Time) ledger.Entry {
	negFrom := money.Amount{Minor: -from.Minor, Currency: from.Currency}
	negTo := money.Amount{Minor: -to.Minor, Currency: to.Currency}
	return ledger.Entry{
		Source:      ledger.Source{Type: ledger.SourceConversion, ID: sourceID},
		Description: "convert " + from.String() + " to " + to.String() + " at " + q.Rate.String() + " (quote " + q.ID + ")",
		Reference:   q.ID,
		EffectiveAt: at,
		Postings: []ledger.Posting{
			{Account: ledger.MerchantAccount(q.MerchantID, ledger.KindAvailable, from.Currency), Amount: negFrom},
			{Account: ledger.PlatformAccount(ledger.KindFX, from.Currency), Amount: from},
			{Account: ledger.PlatformAccount(ledger.KindFX, to.Currency), Amount: negTo},
			{Account: ledger.MerchantAccount(q.MerchantID, ledger.KindAvailable, to.Currency), Amount: to},
		},
	}
}
