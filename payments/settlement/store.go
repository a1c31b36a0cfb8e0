package settlement

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/feeplan"
	"github.com/straitpay/strait/ent/settlementschedule"
	"github.com/straitpay/strait/ent/splitrule"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Service keeps fee plans, split rules and settlement schedules, and runs
// settlements.
type Service struct {
	client *ent.Client
	ledger *ledger.Ledger
	fx     *fx.Service
	now    func() time.Time
}

// Config holds the service's dependencies. FX converts settled funds when a
// merchant settles in another currency; Now defaults to time.Now.
type Config struct {
	FX  *fx.Service
	Now func() time.Time
}

// NewService returns a settlement service over client and l.
func NewService(client *ent.Client, l *ledger.Ledger, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{client: client, ledger: l, fx: cfg.FX, now: cfg.Now}
}

// UpsertFeePlan writes the merchant's fee plan line for p's method, scheme
// and region, replacing the one there. Returns EINVALID for an invalid plan.
func (s *Service) UpsertFeePlan(ctx context.Context, p FeePlan) (FeePlan, error) {
	if err := p.Validate(); err != nil {
		return FeePlan{}, err
	}
	if p.MerchantID == "" {
		return FeePlan{}, payments.FieldErrorf("merchantId", "a fee plan belongs to a merchant")
	}
	sys := viewer.SystemContext(ctx)
	fixedCur := ""
	if p.Fixed.Minor > 0 {
		fixedCur = p.Fixed.Currency.Code()
	}
	old, err := s.client.FeePlan.Query().Where(feeplan.MerchantID(p.MerchantID), feeplan.PaymentMethodType(p.PaymentMethodType),
		feeplan.Scheme(p.Scheme), feeplan.Region(p.Region)).Only(sys)
	var row *ent.FeePlan
	switch {
	case ent.IsNotFound(err):
		row, err = s.client.FeePlan.Create().SetMerchantID(p.MerchantID).SetPaymentMethodType(p.PaymentMethodType).
			SetScheme(p.Scheme).SetRegion(p.Region).SetPercentBps(p.PercentBps).SetFixedAmount(p.Fixed.Minor).
			SetFixedCurrency(fixedCur).SetCrossBorderBps(p.CrossBorderBps).Save(sys)
	case err == nil:
		row, err = old.Update().SetPercentBps(p.PercentBps).SetFixedAmount(p.Fixed.Minor).
			SetFixedCurrency(fixedCur).SetCrossBorderBps(p.CrossBorderBps).Save(sys)
	}
	if err != nil {
		return FeePlan{}, fmt.Errorf("settlement: save fee plan: %w", err)
	}
	return feePlanOf(row), nil
}

// FeePlans returns the merchant's fee plan lines, as the viewer may see
// them.
func (s *Service) FeePlans(ctx context.Context, merchantID string) ([]FeePlan, error) {
	rows, err := s.client.FeePlan.Query().Where(feeplan.MerchantID(merchantID)).Order(ent.Asc(feeplan.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlement: fee plans: %w", err)
	}
	out := make([]FeePlan, len(rows))
	for i, r := range rows {
		out[i] = feePlanOf(r)
	}
	return out, nil
}

func feePlanOf(r *ent.FeePlan) FeePlan {
	p := FeePlan{ID: r.ID, MerchantID: r.MerchantID, PaymentMethodType: r.PaymentMethodType, Scheme: r.Scheme, Region: r.Region,
		PercentBps: r.PercentBps, CrossBorderBps: r.CrossBorderBps}
	if c, err := money.ParseCurrency(r.FixedCurrency); err == nil {
		p.Fixed = money.Amount{Minor: r.FixedAmount, Currency: c}
	}
	return p
}

// UpsertSplitRule writes the merchant's split rule named r.Name. Returns
// EINVALID for an invalid rule (shares above 100 % among them).
func (s *Service) UpsertSplitRule(ctx context.Context, r SplitRule) (SplitRule, error) {
	if err := r.Validate(); err != nil {
		return SplitRule{}, err
	}
	if r.MerchantID == "" {
		return SplitRule{}, payments.FieldErrorf("merchantId", "a split rule belongs to a merchant")
	}
	sys := viewer.SystemContext(ctx)
	old, err := s.client.SplitRule.Query().Where(splitrule.MerchantID(r.MerchantID), splitrule.Name(r.Name)).Only(sys)
	var row *ent.SplitRule
	switch {
	case ent.IsNotFound(err):
		row, err = s.client.SplitRule.Create().SetMerchantID(r.MerchantID).SetName(r.Name).
			SetBasis(splitrule.Basis(r.Basis)).SetShares(r.Shares).SetResiduePartner(r.ResiduePartner).Save(sys)
	case err == nil:
		row, err = old.Update().SetBasis(splitrule.Basis(r.Basis)).SetShares(r.Shares).SetResiduePartner(r.ResiduePartner).Save(sys)
	}
	if err != nil {
		return SplitRule{}, fmt.Errorf("settlement: save split rule: %w", err)
	}
	return splitRuleOf(row), nil
}

// SplitRules returns the merchant's split rules in name order.
func (s *Service) SplitRules(ctx context.Context, merchantID string) ([]SplitRule, error) {
	rows, err := s.client.SplitRule.Query().Where(splitrule.MerchantID(merchantID)).Order(ent.Asc(splitrule.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlement: split rules: %w", err)
	}
	out := make([]SplitRule, len(rows))
	for i, r := range rows {
		out[i] = splitRuleOf(r)
	}
	return out, nil
}

func splitRuleOf(r *ent.SplitRule) SplitRule {
	return SplitRule{ID: r.ID, MerchantID: r.MerchantID, Name: r.Name, Basis: Basis(r.Basis), Shares: r.Shares, ResiduePartner: r.ResiduePartner}
}

// Schedule is a merchant's settlement terms.
type Schedule struct {
	MerchantID string
	// DelayDays is N in T+N: business days (Monday to Friday) in Timezone
	// after the capture's day.
	DelayDays int
	Timezone  string
	// Currency is the merchant's settlement currency (Merchant.settlement_currency),
	// set by Schedule; SetSchedule ignores it.
	Currency money.Currency
	// ReserveBps is the rolling reserve: the share (basis points) of each
	// day's positive net per capture currency held in the merchant's
	// reserve account for ReserveDays calendar days, then released to
	// available by the first run of a day on or after that.
	ReserveBps  int
	ReserveDays int
}

// DefaultSchedule is T+2 in UTC, in the capture currency.
func DefaultSchedule(merchantID string) Schedule {
	return Schedule{MerchantID: merchantID, DelayDays: 2, Timezone: "UTC"}
}

// ScheduleChange is new settlement terms for a merchant in which the
// reserve may be left out (nil): a reserve left out keeps the merchant's
// current one.
type ScheduleChange struct {
	MerchantID              string
	DelayDays               int
	Timezone                string
	ReserveBps, ReserveDays *int
}

// ChangeSchedule writes c as SetSchedule does, the merchant's current
// reserve standing for what c leaves out. Errors as SetSchedule's.
func (s *Service) ChangeSchedule(ctx context.Context, c ScheduleChange) (Schedule, error) {
	cur, err := s.Schedule(ctx, c.MerchantID)
	if err != nil {
		return Schedule{}, err
	}
	sc := Schedule{MerchantID: c.MerchantID, DelayDays: c.DelayDays, Timezone: c.Timezone,
		ReserveBps: cur.ReserveBps, ReserveDays: cur.ReserveDays}
	if c.ReserveBps != nil {
		sc.ReserveBps = *c.ReserveBps
	}
	if c.ReserveDays != nil {
		sc.ReserveDays = *c.ReserveDays
	}
	return s.SetSchedule(ctx, sc)
}

// SetSchedule writes the merchant's settlement terms (its rolling reserve
// among them), puts the merchant on the scheduler (RunDue), and returns the
// terms with the settlement currency. Returns EINVALID for a negative
// delay, a delay above 30 days, an unknown timezone, a reserve outside
// 0–10000 bp or 0–365 days, and ENOTFOUND for an unknown merchant.
func (s *Service) SetSchedule(ctx context.Context, sc Schedule) (Schedule, error) {
	if sc.DelayDays < 0 || sc.DelayDays > 30 {
		return Schedule{}, payments.FieldErrorf("delayDays", "must be between 0 and 30 business days")
	}
	if sc.ReserveBps < 0 || sc.ReserveBps > 10000 {
		return Schedule{}, payments.FieldErrorf("reserveBps", "must be between 0 and 10000 basis points")
	}
	if sc.ReserveDays < 0 || sc.ReserveDays > 365 {
		return Schedule{}, payments.FieldErrorf("reserveDays", "must be between 0 and 365 days")
	}
	if _, err := time.LoadLocation(sc.Timezone); err != nil || sc.Timezone == "" {
		return Schedule{}, payments.FieldErrorf("timezone", "unknown timezone %q", sc.Timezone)
	}
	if _, err := s.Schedule(ctx, sc.MerchantID); err != nil {
		return Schedule{}, err // an unknown merchant
	}
	sys := viewer.SystemContext(ctx)
	old, err := s.client.SettlementSchedule.Query().Where(settlementschedule.MerchantID(sc.MerchantID)).Only(sys)
	switch {
	case ent.IsNotFound(err):
		_, err = s.client.SettlementSchedule.Create().SetMerchantID(sc.MerchantID).SetDelayDays(sc.DelayDays).
			SetTimezone(sc.Timezone).SetNextRunAt(s.now().UTC().Truncate(time.Microsecond)).
			SetReserveBps(int64(sc.ReserveBps)).SetReserveDays(sc.ReserveDays).Save(sys)
	case err == nil:
		_, err = old.Update().SetDelayDays(sc.DelayDays).SetTimezone(sc.Timezone).
			SetReserveBps(int64(sc.ReserveBps)).SetReserveDays(sc.ReserveDays).Save(sys)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("settlement: save schedule: %w", err)
	}
	return s.Schedule(ctx, sc.MerchantID)
}

// Schedule returns the merchant's settlement terms (DefaultSchedule's when
// none were set) with its settlement currency. Returns ENOTFOUND for an
// unknown merchant.
func (s *Service) Schedule(ctx context.Context, merchantID string) (Schedule, error) {
	sys := viewer.SystemContext(ctx)
	m, err := s.client.Merchant.Get(sys, merchantID)
	if ent.IsNotFound(err) {
		return Schedule{}, payments.Errorf(payments.ENOTFOUND, "merchant not found")
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("settlement: merchant: %w", err)
	}
	cur, err := money.ParseCurrency(m.SettlementCurrency)
	if err != nil {
		return Schedule{}, fmt.Errorf("settlement: merchant %s: %w", merchantID, err)
	}
	sc := DefaultSchedule(merchantID)
	row, err := s.client.SettlementSchedule.Query().Where(settlementschedule.MerchantID(merchantID)).Only(sys)
	switch {
	case err == nil:
		sc.DelayDays, sc.Timezone = row.DelayDays, row.Timezone
		sc.ReserveBps, sc.ReserveDays = int(row.ReserveBps), row.ReserveDays
	case !ent.IsNotFound(err):
		return Schedule{}, fmt.Errorf("settlement: schedule: %w", err)
	}
	sc.Currency = cur
	return sc, nil
}

// Matures returns the business day a capture of day d (a date in the
// schedule's timezone) settles: DelayDays business days (Monday to Friday)
// later.
func Matures(d time.Time, delayDays int) time.Time {
	for range delayDays {
		d = d.AddDate(0, 0, 1)
		for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			d = d.AddDate(0, 0, 1)
		}
	}
	return d
}
