package coupons_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/coupon"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/coupons"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/viewer"
)

func ptr[T any](v T) *T { return &v }

func TestDiscountRoundsOnceHalfAwayFromZero(t *testing.T) {
	pct := func(bps int) *ent.Coupon {
		return &ent.Coupon{Code: "P", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(bps)}
	}
	fixed := func(minor int64, cur string) *ent.Coupon {
		return &ent.Coupon{Code: "F", Kind: coupon.KindFIXED, AmountOff: ptr(minor), Currency: cur}
	}
	for _, tt := range []struct {
		name     string
		c        *ent.Coupon
		subtotal money.Amount
		want     int64
	}{
		{"10 % of 0.05 USD is 0.005: rounds up to 0.01", pct(1000), money.Must(5, "USD"), 1},
		{"10 % of 0.04 USD is 0.004: rounds down to 0", pct(1000), money.Must(4, "USD"), 0},
		{"15 % of 999 JPY is 149.85", pct(1500), money.Must(999, "JPY"), 150},
		{"12.5 % of 1.000 KWD", pct(1250), money.Must(1000, "KWD"), 125},
		{"100 % takes everything", pct(10000), money.Must(12345, "EUR"), 12345},
		{"a percentage of a huge amount does not overflow", pct(3333), money.Must(9_000_000_000_000_000_000, "IDR"), 2_999_700_000_000_000_000},
		{"fixed off", fixed(500, "SGD"), money.Must(10000, "SGD"), 500},
		{"fixed never below zero", fixed(50000, "SGD"), money.Must(10000, "SGD"), 10000},
	} {
		d, err := coupons.Discount(tt.c, tt.subtotal)
		if err != nil || d.Minor != tt.want || d.Currency != tt.subtotal.Currency {
			t.Errorf("%s: %v %v, want %d", tt.name, d, err, tt.want)
		}
	}
	if _, err := coupons.Discount(fixed(500, "SGD"), money.Must(10000, "USD")); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("another currency: %v, want EINVALID", err)
	}
}

type fixture struct {
	db       *store.DB
	svc      *coupons.Service
	merchant string
	ctx      context.Context // as the merchant's admin
	now      time.Time
}

func newFixture(t *testing.T, db *store.DB) fixture {
	t.Helper()
	op := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.Operator, Subject: "op"})
	m, err := tenancy.New(db.Client, time.Now).CreateMerchant(op, tenancy.MerchantInput{LegalName: "Shop", Country: "SG", SettlementCurrency: "SGD"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	return fixture{
		db: db, merchant: m.ID, now: now,
		svc: coupons.New(db.Client, coupons.Config{Dialect: db.Dialect, Now: func() time.Time { return now }}),
		ctx: viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr", MerchantID: m.ID, Role: viewer.RoleAdmin}),
	}
}

// session makes an open session with c applied (as checkout.ApplyCoupon
// leaves it) for customer ("" for none).
func (f fixture) session(t *testing.T, c *ent.Coupon, customerID string) string {
	t.Helper()
	sys := viewer.SystemContext(context.Background())
	cr := f.db.Client.CheckoutSession.Create().SetMerchantID(f.merchant).SetAmount(9000).SetAmountDiscount(1000).
		SetCurrency("SGD").SetCouponID(c.ID).SetExpiresAt(f.now.Add(time.Hour))
	if customerID != "" {
		cr.SetCustomerID(customerID)
	}
	s, err := cr.Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// redeem runs Redeem in its own transaction, as the pipeline's attempt step
// does, rolling back on error.
func (f fixture) redeem(ctx context.Context, sessionID string) error {
	tx, err := f.db.Client.Tx(ctx)
	if err != nil {
		return err
	}
	if _, err := f.svc.Redeem(ctx, tx, sessionID, "pay_x"); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// TestRedeemHoldsLimitsUnderConcurrency: 12 sessions confirm at once with a
// coupon allowed 5 times; exactly 5 redeem and the rest are ECONFLICT. Then a
// per-customer limit of 1 holds for 6 concurrent sessions of one customer.
func TestRedeemHoldsLimitsUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		c, err := f.svc.Create(f.ctx, f.merchant, coupons.CreateInput{
			Code: "ten", Kind: coupon.KindFIXED, AmountOff: &money.Input{Minor: 1000, Currency: "SGD"}, MaxRedemptions: ptr(5),
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.Code != "TEN" || c.Currency != "SGD" {
			t.Errorf("created %+v", c)
		}
		ok, conflicts := f.race(t, 12, func(int) string { return f.session(t, c, "") })
		if ok != 5 || conflicts != 7 {
			t.Errorf("%d redeemed, %d conflicts; want 5 and 7", ok, conflicts)
		}
		sys := viewer.SystemContext(context.Background())
		if got := db.Client.Coupon.GetX(sys, c.ID).TimesRedeemed; got != 5 {
			t.Errorf("times_redeemed = %d, want 5", got)
		}
		if n := db.Client.CouponRedemption.Query().CountX(sys); n != 5 {
			t.Errorf("%d redemption rows, want 5", n)
		}

		once, err := f.svc.Create(f.ctx, f.merchant, coupons.CreateInput{
			Code: "WELCOME", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(1000), MaxRedemptionsPerCustomer: ptr(1),
		})
		if err != nil {
			t.Fatal(err)
		}
		cus := db.Client.Customer.Create().SetMerchantID(f.merchant).SetEmail("a@b.test").SaveX(sys)
		ok, conflicts = f.race(t, 6, func(int) string { return f.session(t, once, cus.ID) })
		if ok != 1 || conflicts != 5 {
			t.Errorf("per customer: %d redeemed, %d conflicts; want 1 and 5", ok, conflicts)
		}
	})
}

// race redeems n new sessions concurrently and counts successes and ECONFLICTs.
func (f fixture) race(t *testing.T, n int, newSession func(int) string) (ok, conflicts int) {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newSession(i)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := f.redeem(context.Background(), id)
			mu.Lock()
			defer mu.Unlock()
			switch payments.ErrorCode(err) {
			case "":
				ok++
			case payments.ECONFLICT:
				conflicts++
			default:
				t.Errorf("redeem %s: %v", id, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, conflicts
}

// TestRedeemIsOncePerSessionAndReleases: a session redeems once however often
// the pipeline asks; releasing it (a failed payment) gives the use back.
func TestRedeemIsOncePerSessionAndReleases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		c, err := f.svc.Create(f.ctx, f.merchant, coupons.CreateInput{Code: "ONCE", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(500), MaxRedemptions: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		s1, s2 := f.session(t, c, ""), f.session(t, c, "")
		for range 2 {
			if err := f.redeem(context.Background(), s1); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.redeem(context.Background(), s2); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("second session: %v, want ECONFLICT", err)
		}
		tx, _ := db.Client.Tx(context.Background())
		if err := f.svc.Release(context.Background(), tx, s1); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := f.redeem(context.Background(), s2); err != nil {
			t.Errorf("after release: %v", err)
		}
	})
}

func TestCreateRefusesBadCoupons(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		past := f.now.Add(-time.Hour)
		for _, tt := range []struct {
			name, field string
			in          coupons.CreateInput
		}{
			{"short code", "code", coupons.CreateInput{Code: "A", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(10)}},
			{"over 100 %", "percentOffBps", coupons.CreateInput{Code: "BIG", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(10001)}},
			{"fixed without amount", "amountOff", coupons.CreateInput{Code: "FIX", Kind: coupon.KindFIXED}},
			{"fixed zero", "amountOff.amount", coupons.CreateInput{Code: "FIX", Kind: coupon.KindFIXED, AmountOff: &money.Input{Minor: 0, Currency: "SGD"}}},
			{"wrong exponent", "amountOff.exponent", coupons.CreateInput{Code: "FIX", Kind: coupon.KindFIXED, AmountOff: &money.Input{Minor: 100, Currency: "JPY", Exponent: ptr(2)}}},
			{"currencies disagree", "minimumAmount.currency", coupons.CreateInput{Code: "FIX", Kind: coupon.KindFIXED, AmountOff: &money.Input{Minor: 100, Currency: "SGD"}, MinimumAmount: &money.Input{Minor: 100, Currency: "USD"}}},
			{"zero limit", "maxRedemptions", coupons.CreateInput{Code: "LIM", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(10), MaxRedemptions: ptr(0)}},
			{"ended", "validUntil", coupons.CreateInput{Code: "OLD", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(10), ValidUntil: &past}},
		} {
			_, err := f.svc.Create(f.ctx, f.merchant, tt.in)
			if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != tt.field {
				t.Errorf("%s: %v, want EINVALID on %s", tt.name, err, tt.field)
			}
		}
		in := coupons.CreateInput{Code: "dup", Kind: coupon.KindPERCENTAGE, PercentOffBps: ptr(10)}
		if _, err := f.svc.Create(f.ctx, f.merchant, in); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Create(f.ctx, f.merchant, in); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Errorf("duplicate code: %v, want ECONFLICT", err)
		}
	})
}
