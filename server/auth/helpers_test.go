package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// t0 is the fixed "now" every test starts from.
var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable time source; tests move it instead of sleeping.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// env is a key directory with one key generated an hour before t0, and a KeySet
// loaded from it.
type env struct {
	dir   string
	clock *clock
	ks    *KeySet
	kid   string
	priv  ed25519.PrivateKey
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: &clock{now: t0}}
	var err error
	if e.kid, err = GenerateKey(e.dir, t0.Add(-time.Hour)); err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if e.priv, err = readPrivateKey(e.dir, e.kid); err != nil {
		t.Fatalf("readPrivateKey: %v", err)
	}
	if e.ks, err = LoadKeySet(e.dir, e.clock.Now); err != nil {
		t.Fatalf("LoadKeySet: %v", err)
	}
	return e
}

func (e *env) mint(t testing.TB, v viewer.Viewer, ttl time.Duration) string {
	t.Helper()
	tok, err := e.ks.Mint(v, ttl)
	if err != nil {
		t.Fatalf("Mint(%+v, %v): %v", v, ttl, err)
	}
	return tok
}

// claims returns what Mint would put in an operator token at the env's now.
func (e *env) claims() claims {
	now := e.clock.Now()
	return claims{
		Kind: viewer.Operator,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   "ops@strait.example",
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        "jti-test",
		},
	}
}

// header returns the headers Mint would set, signed by the env's key.
func (e *env) header() map[string]any {
	return map[string]any{"typ": TokenType, "kid": e.kid}
}

// sign signs c with method and key, with exactly the given headers (plus alg).
// It is how tests build tokens Mint would never produce.
func sign(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	tok.Header = map[string]any{"alg": method.Alg()}
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// rawToken signs arbitrary header and payload bytes with priv as EdDSA, so
// tests can send JSON the jwt library would never write.
func rawToken(priv ed25519.PrivateKey, header, payload []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	return signing + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(signing)))
}

// wantUnauthorized checks that err is the EUNAUTHORIZED *payments.Error Verify
// promises, with message msg, and that it does not echo the token.
func wantUnauthorized(t testing.TB, err error, token, msg string) {
	t.Helper()
	var pe *payments.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *payments.Error", err, err)
	}
	if pe.Code != payments.EUNAUTHORIZED {
		t.Errorf("code = %q, want %q", pe.Code, payments.EUNAUTHORIZED)
	}
	if msg != "" && pe.Message != msg {
		t.Errorf("message = %q, want %q", pe.Message, msg)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 && strings.Contains(err.Error(), part) {
			t.Errorf("error %q echoes part of the token", err)
		}
	}
}
