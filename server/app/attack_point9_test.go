package app_test

// Issue 13, point 9: the other items are proven in http_conformance_test.go
// (suggestions, card literals, websocket ack, cursors, refused transports);
// this one goes through a served request as an attacker's token would.

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/auth"
)

// Strait mints cashier tokens for at most 30 minutes (auth.MaxCashierTTL);
// one signed with the server's key for longer was not minted by its rules
// (a leaked key, or a bug in a minting path) and is refused.
func TestLongLivedCashierTokenRefused(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	now := time.Now()
	for _, ttl := range []time.Duration{2 * time.Hour, 30 * 24 * time.Hour} {
		tok := signWithServerKey(t, e, nil, jwt.MapClaims{
			"iss": auth.Issuer, "aud": []string{auth.Audience}, "sub": e.session.ID, "kind": string(viewer.Cashier),
			"mer": e.a.ID, "sid": e.session.ID, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": "long-" + ttl.String(),
		})
		if r := e.do(tok, `{ viewer { principal } }`, nil); r.code() != "UNAUTHENTICATED" || r.Status != http.StatusUnauthorized {
			t.Errorf("cashier token for %s: %d %s", ttl, r.Status, truncate(r.Raw, 200))
		}
	}
	// A token within the limit still works, so the refusals above are for
	// the lifetime alone.
	tok := signWithServerKey(t, e, nil, jwt.MapClaims{
		"iss": auth.Issuer, "aud": []string{auth.Audience}, "sub": e.session.ID, "kind": string(viewer.Cashier),
		"mer": e.a.ID, "sid": e.session.ID, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(20 * time.Minute).Unix(), "jti": "short",
	})
	if r := e.do(tok, `{ viewer { principal } }`, nil); r.code() != "" {
		t.Errorf("a 20-minute cashier token: %s", truncate(r.Raw, 200))
	}
}
