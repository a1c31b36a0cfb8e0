package fx

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/fxrate"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Service stores rates, issues quotes and converts merchant balances.
type Service struct {
	client *ent.Client
	ledger *ledger.Ledger
	source RateSource
	policy Policy
	pairs  []Pair
	now    func() time.Time
}

// Config configures a Service.
type Config struct {
	// Source supplies market rates.
	Source RateSource
	// Pairs are the pairs RefreshRates asks the source for.
	Pairs []Pair
	// Policy holds the margin, lock and staleness terms; zero means
	// DefaultPolicy.
	Policy Policy
	// Now is the clock; it defaults to time.Now.
	Now func() time.Time
}

// NewService returns a Service storing through client and posting
// conversions to l. It panics on an invalid policy, a wiring bug.
func NewService(client *ent.Client, l *ledger.Ledger, cfg Config) *Service {
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultPolicy
	}
	if err := cfg.Policy.Validate(); err != nil {
		panic(fmt.Sprintf("fx: %v", err))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{
		client: client, ledger: l, source: cfg.Source, policy: cfg.Policy, pairs: cfg.Pairs,
		now: func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) },
	}
}

// RefreshRates fetches the configured pairs from the source and stores every
// rate it returns, with the source's name and observation time (the fetch time
// if the source gives none). It returns how many rates were stored, and
// EUNAVAILABLE if the source fails.
func (s *Service) RefreshRates(ctx context.Context) (int, error) {
	if s.source == nil {
		return 0, payments.Errorf(payments.EUNAVAILABLE, "no rate source configured")
	}
	rates, err := s.source.GetRates(ctx, s.pairs)
	if err != nil {
		return 0, fmt.Errorf("fx: %w: %w", payments.Errorf(payments.EUNAVAILABLE, "rate source %s is unavailable", s.source.Name()), err)
	}
	now := s.now()
	sys := viewer.SystemContext(ctx)
	creates := make([]*ent.FxRateCreate, 0, len(rates))
	for _, r := range rates {
		if r.Pair.Validate() != nil || r.Rate.IsZero() {
			continue // a source's bad row must not block the good ones
		}
		at := r.At
		if at.IsZero() || at.After(now) {
			at = now
		}
		creates = append(creates, s.client.FxRate.Create().
			SetBase(r.Pair.Base.Code()).SetQuote(r.Pair.Quote.Code()).
			SetRate(r.Rate.String()).SetSource(s.source.Name()).
			SetFetchedAt(at.UTC().Truncate(time.Microsecond)).SetCreatedAt(now))
	}
	if len(creates) == 0 {
		return 0, nil
	}
	if err := s.client.FxRate.CreateBulk(creates...).Exec(sys); err != nil {
		return 0, fmt.Errorf("fx: store rates: %w", err)
	}
	return len(creates), nil
}

// RunRefresher calls RefreshRates now and then every interval until ctx ends,
// passing each failure to onError (which may be nil).
func (s *Service) RunRefresher(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.RefreshRates(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// latest returns the newest stored rate of pair, or ok=false if none.
func (s *Service) latest(ctx context.Context, pair Pair) (ObservedRate, bool, error) {
	row, err := s.client.FxRate.Query().
		Where(fxrate.BaseEQ(pair.Base.Code()), fxrate.QuoteEQ(pair.Quote.Code())).
		Order(ent.Desc(fxrate.FieldFetchedAt), ent.Desc(fxrate.FieldID)).
		First(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return ObservedRate{}, false, nil
	}
	if err != nil {
		return ObservedRate{}, false, fmt.Errorf("fx: latest %s rate: %w", pair, err)
	}
	r, err := money.ParseRate(row.Rate)
	if err != nil {
		return ObservedRate{}, false, fmt.Errorf("fx: stored rate %s: %w", row.ID, err)
	}
	return ObservedRate{Pair: pair, Rate: r, Source: row.Source, At: row.FetchedAt}, true, nil
}

// Rate returns the mid rate Strait would quote pair at: the newest stored rate
// of the pair, or the inverse of the newest of its reverse when only that is
// stored (see Resolve). Returns EINVALID for an invalid pair and EUNAVAILABLE
// if no rate is stored.
func (s *Service) Rate(ctx context.Context, pair Pair) (ObservedRate, error) {
	if err := pair.Validate(); err != nil {
		return ObservedRate{}, err
	}
	var found []ObservedRate
	for _, p := range []Pair{pair, pair.Inverse()} {
		r, ok, err := s.latest(ctx, p)
		if err != nil {
			return ObservedRate{}, err
		}
		if ok {
			found = append(found, r)
		}
	}
	return Resolve(pair, found)
}

// CreateQuote locks the current rate of base→quote, less the platform margin,
// for merchantID until the policy's lock runs out, and stores the quote. It
// returns EINVALID for an invalid pair and EUNAVAILABLE if no fresh rate is
// stored.
func (s *Service) CreateQuote(ctx context.Context, merchantID string, base, quote money.Currency) (Quote, error) {
	pair := Pair{Base: base, Quote: quote}
	if err := pair.Validate(); err != nil {
		return Quote{}, err
	}
	mid, err := s.Rate(ctx, pair)
	if err != nil {
		return Quote{}, err
	}
	q, err := NewQuote(merchantID, pair, mid, s.policy, s.now())
	if err != nil {
		return Quote{}, err
	}
	row, err := s.client.FxQuote.Create().
		SetMerchantID(merchantID).
		SetBaseCurrency(base.Code()).SetQuoteCurrency(quote.Code()).
		SetBaseRate(q.BaseRate.String()).SetMarginBps(q.MarginBps).SetRate(q.Rate.String()).
		SetRateSource(q.RateSource).SetRateFetchedAt(q.RateFetchedAt.UTC().Truncate(time.Microsecond)).
		SetExpiresAt(q.ExpiresAt).SetCreatedAt(q.CreatedAt).
		Save(viewer.SystemContext(ctx))
	if err != nil {
		return Quote{}, fmt.Errorf("fx: store quote: %w", err)
	}
	q.ID = row.ID
	return q, nil
}

// Quote returns the quote with id as the viewer in ctx may see it. Returns
// ENOTFOUND if it does not exist or belongs to another merchant.
func (s *Service) Quote(ctx context.Context, id string) (Quote, error) {
	row, err := s.client.FxQuote.Get(ctx, id)
	if ent.IsNotFound(err) || ent.IsNotSingular(err) {
		return Quote{}, payments.Errorf(payments.ENOTFOUND, "quote not found")
	}
	if err != nil {
		return Quote{}, fmt.Errorf("fx: load quote %s: %w", id, err)
	}
	return quoteFromRow(row)
}

func quoteFromRow(row *ent.FxQuote) (Quote, error) {
	base, err1 := money.ParseCurrency(row.BaseCurrency)
	quote, err2 := money.ParseCurrency(row.QuoteCurrency)
	baseRate, err3 := money.ParseRate(row.BaseRate)
	rate, err4 := money.ParseRate(row.Rate)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return Quote{}, fmt.Errorf("fx: stored quote %s: %w", row.ID, err)
		}
	}
	return Quote{
		ID: row.ID, MerchantID: row.MerchantID, Pair: Pair{Base: base, Quote: quote},
		BaseRate: baseRate, RateSource: row.RateSource, RateFetchedAt: row.RateFetchedAt,
		MarginBps: row.MarginBps, Rate: rate, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt,
	}, nil
}

// Conversion is a posted (or replayed) conversion of a merchant's balance.
type Conversion struct {
	// EntryID is the journal entry that moved the money.
	EntryID string
	Quote   Quote
	From    money.Amount
	To      money.Amount
	// Replayed is true when this idempotency key had already converted.
	Replayed bool
}

// ConversionSource returns the ledger source of a merchant's conversion: the
// merchant and its idempotency key, so a retry posts nothing new.
func ConversionSource(merchantID, idempotencyKey string) ledger.Source {
	return ledger.Source{Type: ledger.SourceConversion, ID: merchantID + ":" + idempotencyKey}
}

// Convert moves amount (in the quote's base currency) out of the merchant's
// available balance and credits the quote currency at the quote's all-in
// rate, through the platform FX accounts, exactly once per idempotency key:
// a retry with the same key, quote and amount returns the first conversion
// with Replayed set, even after the quote expired.
//
// The transport's payments/idempotency record answers ordinary retries
// before Convert runs. The key is also the ledger source, so a conversion run
// again (after a released key, a crash, or a swept record) posts nothing new.
//
// Returns EINVALID for an invalid idempotency key (field "idempotencyKey"), an
// amount in the wrong currency or not positive, or an expired quote (field
// "quoteId"); ENOTFOUND for another merchant's or an unknown quote; ECONFLICT
// if the amount exceeds the available balance, or if the key was already
// used for a different conversion.
func (s *Service) Convert(ctx context.Context, merchantID, quoteID string, amount money.Amount, idempotencyKey string) (Conversion, error) {
	if err := idempotency.ValidateKey(idempotencyKey); err != nil {
		return Conversion{}, err
	}
	q, err := s.Quote(ctx, quoteID)
	if err != nil {
		return Conversion{}, err
	}
	if q.MerchantID != merchantID {
		return Conversion{}, payments.Errorf(payments.ENOTFOUND, "quote not found")
	}
	to, err := q.Price(amount)
	if err != nil {
		return Conversion{}, err
	}
	now := s.now()
	src := ConversionSource(merchantID, idempotencyKey)
	sys := viewer.SystemContext(ctx)
	prior, err := s.ledger.EntriesBySource(sys, src.Type, src.ID)
	if err != nil {
		return Conversion{}, err
	}
	at := now
	if len(prior) == 0 {
		if err := q.CheckUsable(merchantID, now); err != nil {
			return Conversion{}, err
		}
	} else {
		at = prior[0].EffectiveAt // a replay; the hash ignores the time anyway
	}
	posted, err := s.post(sys, ConversionEntry(q, src.ID, amount, to, at), q, amount, to)
	if err != nil {
		return Conversion{}, err
	}
	return Conversion{EntryID: posted.EntryID, Quote: q, From: amount, To: to, Replayed: posted.Replayed}, nil
}
