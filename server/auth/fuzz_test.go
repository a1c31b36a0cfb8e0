package auth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// FuzzVerify feeds arbitrary strings to Verify. It must never panic, must fail
// only with EUNAUTHORIZED, and anything it accepts must be a principal Mint
// would have minted.
func FuzzVerify(f *testing.F) {
	e := newEnv(f)
	valid := e.mint(f, viewer.Viewer{Kind: viewer.Cashier, MerchantID: "mer_1", SessionID: "cs_1"}, time.Minute)
	for _, seed := range []string{
		"", ".", "..", "a.b.c", valid, valid + "x", strings.ToUpper(valid),
		valid[:len(valid)/2], strings.Replace(valid, ".", "..", 1),
		"eyJhbGciOiJub25lIn0.e30.", "eyJ9.eyJ9.eyJ9",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		v, err := e.ks.Verify(token)
		checkVerifyResult(t, e, v, err)
	})
}

// FuzzVerifySignedPayload signs arbitrary header and payload JSON with the real
// key, so the fuzzer gets past the signature and exercises header and claim
// checks: whatever Verify accepts must carry Strait's typ, iss, aud, exp and a
// valid principal.
func FuzzVerifySignedPayload(f *testing.F) {
	e := newEnv(f)
	head := `{"alg":"EdDSA","typ":"` + TokenType + `","kid":"` + e.kid + `"}`
	f.Add(head, `{"kind":"operator","sub":"ops","iss":"strait","aud":"strait-api","exp":1906632000,"iat":1906545600}`)
	f.Add(head, `{"kind":"cashier","sub":"cs_1","sid":"cs_1","mer":"m","iss":"strait","aud":["strait-api"],"exp":1906632000,"iat":1906545600,"nbf":1906545600}`)
	f.Add(head, `{"kind":"merchant_user","role":"admin","mer":"m","sub":"u","iss":"strait","aud":"strait-api","exp":1.91e9,"iat":1e9}`)
	f.Add(`{"alg":"none"}`, `{}`)
	f.Add(head, `{"exp":null,"iat":[],"aud":{}}`)
	f.Fuzz(func(t *testing.T, header, payload string) {
		tok := rawToken(e.priv, []byte(header), []byte(payload))
		v, err := e.ks.Verify(tok)
		checkVerifyResult(t, e, v, err)
		if err != nil {
			return
		}
		var c claims
		parsed, _, perr := jwt.NewParser().ParseUnverified(tok, &c)
		if perr != nil {
			t.Fatalf("Verify accepted a token the parser cannot read: %v", perr)
		}
		now := e.clock.Now()
		switch {
		case parsed.Header["typ"] != TokenType:
			t.Errorf("accepted typ %v", parsed.Header["typ"])
		case c.Issuer != Issuer:
			t.Errorf("accepted iss %q", c.Issuer)
		case !slices.Contains(c.Audience, Audience):
			t.Errorf("accepted aud %v", c.Audience)
		case c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Add(Leeway)):
			t.Errorf("accepted exp %v at %v", c.ExpiresAt, now)
		case c.IssuedAt == nil:
			t.Error("accepted a token without iat")
		}
	})
}

func checkVerifyResult(t *testing.T, e *env, v viewer.Viewer, err error) {
	t.Helper()
	if err != nil {
		if code := payments.ErrorCode(err); code != payments.EUNAUTHORIZED {
			t.Fatalf("Verify error code %q (%v), want %q", code, err, payments.EUNAUTHORIZED)
		}
		if v != (viewer.Viewer{}) {
			t.Fatalf("Verify returned %+v with its error", v)
		}
		return
	}
	if perr := checkPrincipal(v); perr != nil {
		t.Fatalf("Verify accepted %+v: %v", v, perr)
	}
	if v.Kind == viewer.System || v.Kind == viewer.APIKey {
		t.Fatalf("Verify accepted kind %q", v.Kind)
	}
}
