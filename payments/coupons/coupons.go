// Package coupons is merchants' discount codes: creating them, checking one
// against a checkout session, computing the discount with one rounding rule,
// and counting redemptions so usage limits hold under concurrency.
//
// The discount reaches the ledger as a smaller charge: a session with a coupon
// has amount = subtotal − discount, and the pipeline charges and posts amount,
// like any other payment. The discount itself never posts (no money moves for
// it); it is kept on the session (amount_discount, coupon_id) and on the
// redemption row, for reporting.
package coupons

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/coupon"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
)

// Service creates, checks and redeems coupons.
type Service struct {
	client  *ent.Client
	dialect string
	now     func() time.Time
}

// Config configures a Service.
type Config struct {
	// Dialect is the database's (dialect.MySQL takes locking reads).
	Dialect string
	// Now defaults to time.Now.
	Now func() time.Time
}

// New returns a Service over client.
func New(client *ent.Client, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{client: client, dialect: cfg.Dialect, now: func() time.Time { return cfg.Now().UTC() }}
}

var codePattern = regexp.MustCompile(`^[A-Z0-9_-]{3,64}$`)

// NormalizeCode returns code as stored: trimmed and upper-case.
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// CreateInput describes a new coupon.
type CreateInput struct {
	Code string
	Name string
	Kind coupon.Kind
	// AmountOff is required for FIXED coupons and refused for PERCENTAGE ones.
	AmountOff *money.Input
	// PercentOffBps is required for PERCENTAGE coupons: 1 to 10000.
	PercentOffBps *int
	// Currency restricts the coupon to sessions in it; a FIXED coupon's amount
	// and a minimum amount set it too (and must agree with it).
	Currency                  string
	MinimumAmount             *money.Input
	MaxRedemptions            *int
	MaxRedemptionsPerCustomer *int
	ValidFrom, ValidUntil     *time.Time
	Public                    bool
}

// maxBps is 100 %: a coupon can take off the whole price, never more.
const maxBps = 10000

// Create creates a coupon for the merchant in ctx (audited). Returns EINVALID
// with the field at fault, and ECONFLICT (field "code") if the merchant already
// has the code.
func (s *Service) Create(ctx context.Context, merchantID string, in CreateInput) (*ent.Coupon, error) {
	code := NormalizeCode(in.Code)
	if !codePattern.MatchString(code) {
		return nil, payments.FieldErrorf("code", "code must be 3 to 64 letters, digits, - or _")
	}
	if len(in.Name) > 200 {
		return nil, payments.FieldErrorf("name", "name must be at most 200 characters")
	}
	var cur money.Currency
	setCurrency := func(c money.Currency, field string) error {
		if !cur.IsZero() && c != cur {
			return payments.FieldErrorf(field, "%s does not match the coupon currency %s", c, cur)
		}
		cur = c
		return nil
	}
	if in.Currency != "" {
		c, err := money.ParseCurrency(in.Currency)
		if err != nil {
			return nil, payments.FieldErrorf("currency", "unknown currency %q", in.Currency)
		}
		cur = c
	}
	var amountOff, minimum *int64
	var percentOff *int
	switch in.Kind {
	case coupon.KindFIXED:
		if in.AmountOff == nil || in.PercentOffBps != nil {
			return nil, payments.FieldErrorf("amountOff", "a FIXED coupon takes amountOff and no percentOffBps")
		}
		a, err := in.AmountOff.Positive("amountOff")
		if err != nil {
			return nil, err
		}
		if err := setCurrency(a.Currency, "amountOff.currency"); err != nil {
			return nil, err
		}
		amountOff = &a.Minor
	case coupon.KindPERCENTAGE:
		if in.PercentOffBps == nil || in.AmountOff != nil {
			return nil, payments.FieldErrorf("percentOffBps", "a PERCENTAGE coupon takes percentOffBps and no amountOff")
		}
		if *in.PercentOffBps < 1 || *in.PercentOffBps > maxBps {
			return nil, payments.FieldErrorf("percentOffBps", "percentOffBps must be 1 to %d", maxBps)
		}
		percentOff = in.PercentOffBps
	default:
		return nil, payments.FieldErrorf("kind", "kind must be FIXED or PERCENTAGE")
	}
	if in.MinimumAmount != nil {
		a, err := in.MinimumAmount.Positive("minimumAmount")
		if err != nil {
			return nil, err
		}
		if err := setCurrency(a.Currency, "minimumAmount.currency"); err != nil {
			return nil, err
		}
		minimum = &a.Minor
	}
	if n := in.MaxRedemptions; n != nil && *n < 1 {
		return nil, payments.FieldErrorf("maxRedemptions", "maxRedemptions must be at least 1")
	}
	if n := in.MaxRedemptionsPerCustomer; n != nil && *n < 1 {
		return nil, payments.FieldErrorf("maxRedemptionsPerCustomer", "maxRedemptionsPerCustomer must be at least 1")
	}
	if in.ValidFrom != nil && in.ValidUntil != nil && !in.ValidUntil.After(*in.ValidFrom) {
		return nil, payments.FieldErrorf("validUntil", "validUntil must be after validFrom")
	}
	if in.ValidUntil != nil && !in.ValidUntil.After(s.now()) {
		return nil, payments.FieldErrorf("validUntil", "validUntil must be in the future")
	}
	return store.WithTx(ctx, s.client, func(tx *ent.Tx) (*ent.Coupon, error) {
		row, err := tx.Coupon.Create().SetMerchantID(merchantID).SetCode(code).
			SetName(strings.TrimSpace(in.Name)).SetKind(in.Kind).SetPublic(in.Public).SetCurrency(cur.Code()).
			SetNillableAmountOff(amountOff).SetNillablePercentOffBps(percentOff).SetNillableMinimumAmount(minimum).
			SetNillableMaxRedemptions(in.MaxRedemptions).SetNillableMaxRedemptionsPerCustomer(in.MaxRedemptionsPerCustomer).
			SetNillableValidFrom(utcMicro(in.ValidFrom)).SetNillableValidUntil(utcMicro(in.ValidUntil)).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return nil, payments.Errorf(payments.ECONFLICT, "coupon code %s already exists", code)
		}
		if err != nil {
			return nil, fmt.Errorf("create coupon: %w", err)
		}
		return row, audit.Record(ctx, tx, audit.Entry{
			MerchantID: merchantID, Action: "coupon.create", TargetType: "coupon", TargetID: row.ID,
			Details: map[string]string{"code": code},
		})
	})
}

func utcMicro(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}
