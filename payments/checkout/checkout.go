// Package checkout is the merchant's checkout session and what the buyer's
// checkout (the cashier) does with it before paying: read the price (also in
// the buyer's currency, at a locked FX quote), see the methods that will work,
// apply a coupon, and vault a card. Confirming the session is the payment
// pipeline's (payments/cashier); it finds here what it needs: Confirmable,
// CardForSession, Complete, and coupons.Service.Redeem.
package checkout

import (
	"context"
	"errors"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/coupons"
	"github.com/straitpay/strait/payments/executor"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// CashierTokens mints the short-lived bearer token of a cashier principal
// (server/auth.KeySet in production).
type CashierTokens interface {
	Mint(v viewer.Viewer, ttl time.Duration) (string, error)
}

// Session lifetimes.
const (
	// DefaultExpiry is how long a session stays open when the merchant does not
	// say: long enough to type a card and pass 3-D Secure, short enough that an
	// abandoned cart does not hold a coupon or a quote for hours.
	DefaultExpiry = 30 * time.Minute
	// MinExpiry is the shortest session a person could complete.
	MinExpiry = time.Minute
	// MaxExpiry bounds a session: a buyer's intent and an FX quote both go stale.
	MaxExpiry = 24 * time.Hour
	// MaxCashierTokenTTL bounds a cashier token (server/auth refuses longer):
	// a stolen token is worth minutes. Merchants mint a new one with
	// NewCashierToken for longer sessions.
	MaxCashierTokenTTL = 30 * time.Minute
)

// QuotePolicy is the FX policy of buyer prices: the platform margin of balance
// conversions, and a 10-minute lock, so a price stays put while a buyer types
// a card; an open session past it gets a new quote on its next read.
var QuotePolicy = fx.Policy{MarginBps: fx.DefaultPolicy.MarginBps, Lock: 10 * time.Minute, MaxRateAge: fx.DefaultPolicy.MaxRateAge}

// Config is what a Service needs. Client, Tokens and Coupons are required.
type Config struct {
	Client *ent.Client
	Tokens CashierTokens
	// Vault tokenizes cards; nil answers EUNAVAILABLE (no vault keys).
	Vault *vault.Vault
	// FX prices sessions in the buyer's currency (use QuotePolicy); nil shows
	// no buyer price.
	FX *fx.Service
	// Router previews methods; nil previews none.
	Router  *routing.Router
	Coupons *coupons.Service
	// Payments is the payment core that confirms sessions; nil answers a
	// confirm EUNAVAILABLE.
	Payments *cashier.Service
	// Dialect is the database's (dialect.MySQL or dialect.SQLite): sessions
	// are locked FOR UPDATE on MySQL only.
	Dialect string
	// Dev allows http return URLs on localhost.
	Dev bool
	// Now defaults to time.Now.
	Now func() time.Time
	// BatchTimeout bounds one batch of confirms decided together (and of
	// their reads); zero means batch.DefaultTimeout.
	BatchTimeout time.Duration
}

// Service opens checkout sessions and serves their cashier.
type Service struct {
	client   *ent.Client
	tokens   CashierTokens
	vault    *vault.Vault
	fx       *fx.Service
	router   *routing.Router
	coupons  *coupons.Service
	dev      bool
	payments *cashier.Service
	dialect  string
	now      func() time.Time
	// confirms decides and writes the payments of concurrent cashiers'
	// confirms in one transaction (the confirm step: applyConfirms).
	confirms *executor.Executor[*confirmReq, confirmed]
}

// New returns a Service. It returns an error if a required field is missing.
func New(c Config) (*Service, error) {
	if c.Client == nil || c.Tokens == nil || c.Coupons == nil {
		return nil, errors.New("checkout: Client, Tokens and Coupons are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	s := &Service{
		client: c.Client, tokens: c.Tokens, vault: c.Vault, fx: c.FX, router: c.Router, coupons: c.Coupons, dev: c.Dev,
		payments: c.Payments, dialect: c.Dialect,
		now: func() time.Time { return c.Now().UTC().Truncate(time.Microsecond) },
	}
	s.confirms = executor.New(executor.Config{Client: c.Client, Timeout: c.BatchTimeout},
		executor.Step[*confirmReq, confirmed]{Name: "confirm", Max: maxConfirmBatch,
			Key: func(r *confirmReq) string { return r.sessionID }, Apply: s.applyConfirms})
	return s, nil
}

// BatchStats reports the confirms decided and written together (confirm).
func (s *Service) BatchStats() map[string]batch.Stats {
	return map[string]batch.Stats{"confirm": s.confirms.Stats()}
}

// Vault returns the card vault, nil when it is not configured.
func (s *Service) Vault() *vault.Vault { return s.vault }

// cashierSession returns the session a cashier viewer is scoped to. Returns
// EFORBIDDEN for any other viewer.
func cashierSession(ctx context.Context) (viewer.Viewer, error) {
	v, ok := viewer.FromContext(ctx)
	if !ok || v.Kind != viewer.Cashier || v.SessionID == "" {
		return viewer.Viewer{}, payments.Errorf(payments.EFORBIDDEN, "only a cashier token may do this")
	}
	return v, nil
}

func notFound(id string) error {
	return payments.Errorf(payments.ENOTFOUND, "checkout session %q not found", truncate(id, 64))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
