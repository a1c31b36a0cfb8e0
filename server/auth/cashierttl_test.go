package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/straitpay/strait/payments/viewer"
)

// TestVerifyRefusesCashierTokensThatOutliveWhatStraitMints: a cashier token
// signed with a trusted key but living longer than MaxCashierTTL (2 hours,
// 30 days) is refused, though it has not expired; one living exactly
// MaxCashierTTL, as Mint makes them, is accepted. Other principals keep
// their own lifetimes.
func TestVerifyRefusesCashierTokensThatOutliveWhatStraitMints(t *testing.T) {
	e := newEnv(t)
	cashier := func(lifetime time.Duration) string {
		c := e.claims()
		c.Kind, c.Merchant, c.Session, c.Subject = viewer.Cashier, "mer_1", "cs_1", "cs_1"
		c.ExpiresAt = jwt.NewNumericDate(e.clock.Now().Add(lifetime))
		return sign(t, jwt.SigningMethodEdDSA, e.priv, e.header(), c)
	}
	for _, lifetime := range []time.Duration{2 * time.Hour, 30 * 24 * time.Hour, MaxCashierTTL + time.Second} {
		tok := cashier(lifetime)
		_, err := e.ks.Verify(tok)
		wantUnauthorized(t, err, tok, "invalid token")
	}
	if _, err := e.ks.Verify(cashier(MaxCashierTTL)); err != nil {
		t.Errorf("a cashier token of %s: %v", MaxCashierTTL, err)
	}
	op := e.claims()
	op.ExpiresAt = jwt.NewNumericDate(e.clock.Now().Add(12 * time.Hour))
	if _, err := e.ks.Verify(sign(t, jwt.SigningMethodEdDSA, e.priv, e.header(), op)); err != nil {
		t.Errorf("an operator token of 12 hours: %v", err)
	}
}
