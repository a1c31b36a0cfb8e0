package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

func TestMintedTokenVerifiesAsTheSameViewer(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		in   viewer.Viewer
		want viewer.Viewer
	}{
		{
			name: "operator",
			in:   viewer.Viewer{Kind: viewer.Operator, Subject: "ops@strait.example"},
		},
		{
			name: "merchant admin",
			in:   viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: "mer_1", Role: viewer.RoleAdmin},
		},
		{
			name: "merchant developer",
			in:   viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_2", MerchantID: "mer_1", Role: viewer.RoleDeveloper},
		},
		{
			name: "merchant analyst",
			in:   viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_3", MerchantID: "mer_2", Role: viewer.RoleAnalyst},
		},
		{
			name: "cashier, subject defaults to the session",
			in:   viewer.Viewer{Kind: viewer.Cashier, MerchantID: "mer_1", SessionID: "cs_1"},
			want: viewer.Viewer{Kind: viewer.Cashier, Subject: "cs_1", MerchantID: "mer_1", SessionID: "cs_1"},
		},
		{
			name: "cashier with explicit subject",
			in:   viewer.Viewer{Kind: viewer.Cashier, Subject: "cs_2", MerchantID: "mer_1", SessionID: "cs_2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == (viewer.Viewer{}) {
				want = tt.in
			}
			tok := e.mint(t, tt.in, 10*time.Minute)
			if len(tok) > 1024 {
				t.Errorf("token is %d bytes; expected a few hundred", len(tok))
			}
			got, err := e.ks.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != want {
				t.Errorf("Verify = %+v, want %+v", got, want)
			}
		})
	}
}

func TestMintWritesTheDocumentedHeaderAndClaims(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(t, viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: "mer_1", Role: viewer.RoleAdmin}, time.Hour)

	var c claims
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &c)
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	wantHeader := map[string]any{"alg": "EdDSA", "typ": TokenType, "kid": e.kid}
	if len(parsed.Header) != len(wantHeader) {
		t.Errorf("header = %v, want %v", parsed.Header, wantHeader)
	}
	for k, v := range wantHeader {
		if parsed.Header[k] != v {
			t.Errorf("header %s = %v, want %v", k, parsed.Header[k], v)
		}
	}
	switch {
	case c.Issuer != Issuer:
		t.Errorf("iss = %q", c.Issuer)
	case len(c.Audience) != 1 || c.Audience[0] != Audience:
		t.Errorf("aud = %v", c.Audience)
	case !c.IssuedAt.Equal(t0) || !c.NotBefore.Equal(t0):
		t.Errorf("iat = %v, nbf = %v, want %v", c.IssuedAt, c.NotBefore, t0)
	case !c.ExpiresAt.Equal(t0.Add(time.Hour)):
		t.Errorf("exp = %v, want %v", c.ExpiresAt, t0.Add(time.Hour))
	case c.Kind != viewer.MerchantUser || c.Role != viewer.RoleAdmin || c.Merchant != "mer_1" || c.Session != "":
		t.Errorf("custom claims = %+v", c)
	case len(c.ID) < 16:
		t.Errorf("jti = %q, want a random ID", c.ID)
	}
}

func TestMintGivesEachTokenItsOwnJTI(t *testing.T) {
	e := newEnv(t)
	v := viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}
	seen := map[string]bool{}
	for range 50 {
		var c claims
		if _, _, err := jwt.NewParser().ParseUnverified(e.mint(t, v, time.Minute), &c); err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("jti %q repeated", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestMintRefusesPrincipalsThatCannotHoldAToken(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		v    viewer.Viewer
		ttl  time.Duration
	}{
		{"system", viewer.Viewer{Kind: viewer.System, Subject: "strait"}, time.Minute},
		{"api key", viewer.Viewer{Kind: viewer.APIKey, Subject: "key_1", MerchantID: "mer_1"}, time.Minute},
		{"unknown kind", viewer.Viewer{Kind: "root", Subject: "x"}, time.Minute},
		{"empty kind", viewer.Viewer{Subject: "x"}, time.Minute},
		{"operator without subject", viewer.Viewer{Kind: viewer.Operator}, time.Minute},
		{"operator with merchant", viewer.Viewer{Kind: viewer.Operator, Subject: "ops", MerchantID: "mer_1"}, time.Minute},
		{"operator with role", viewer.Viewer{Kind: viewer.Operator, Subject: "ops", Role: viewer.RoleAdmin}, time.Minute},
		{"merchant user without merchant", viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", Role: viewer.RoleAdmin}, time.Minute},
		{"merchant user without role", viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: "mer_1"}, time.Minute},
		{"merchant user with unknown role", viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: "mer_1", Role: "owner"}, time.Minute},
		{"merchant user with session", viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: "mer_1", Role: viewer.RoleAdmin, SessionID: "cs_1"}, time.Minute},
		{"cashier without session", viewer.Viewer{Kind: viewer.Cashier, Subject: "cs_1", MerchantID: "mer_1"}, time.Minute},
		{"cashier without merchant", viewer.Viewer{Kind: viewer.Cashier, SessionID: "cs_1"}, time.Minute},
		{"cashier with role", viewer.Viewer{Kind: viewer.Cashier, MerchantID: "mer_1", SessionID: "cs_1", Role: viewer.RoleAdmin}, time.Minute},
		{"cashier whose subject is not its session", viewer.Viewer{Kind: viewer.Cashier, Subject: "cs_2", MerchantID: "mer_1", SessionID: "cs_1"}, time.Minute},
		{"zero ttl", viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, 0},
		{"negative ttl", viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, -time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := e.ks.Mint(tt.v, tt.ttl)
			if err == nil {
				t.Fatalf("Mint = %q, want an error", tok)
			}
			if code := payments.ErrorCode(err); code != payments.EINVALID {
				t.Errorf("code = %q (%v), want %q", code, err, payments.EINVALID)
			}
			if tok != "" {
				t.Errorf("Mint returned a token with its error")
			}
		})
	}
}

func TestMintCapsCashierTTL(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(t, viewer.Viewer{Kind: viewer.Cashier, MerchantID: "mer_1", SessionID: "cs_1"}, 24*time.Hour)

	var c claims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(MaxCashierTTL); !c.ExpiresAt.Equal(want) {
		t.Errorf("exp = %v, want %v", c.ExpiresAt.Time, want)
	}
	e.clock.Advance(MaxCashierTTL - time.Second)
	if _, err := e.ks.Verify(tok); err != nil {
		t.Errorf("just before the cap: %v", err)
	}
	e.clock.Advance(time.Second + Leeway)
	_, err := e.ks.Verify(tok)
	wantUnauthorized(t, err, tok, "token expired")
}

func TestMintRefusesATokenThatWouldOutliveItsKey(t *testing.T) {
	e := newEnv(t)
	if err := RetireKey(e.dir, e.kid, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	v := viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}
	if _, err := e.ks.Mint(v, 2*time.Hour); err == nil {
		t.Error("Mint for 2h with a key retiring in 1h succeeded")
	}
	e.mint(t, v, 30*time.Minute)
}

// TestVerifyRefuses walks the "Tokens" list of bad input, and more: each token
// gets EUNAUTHORIZED and a message that does not echo it.
func TestVerifyRefuses(t *testing.T) {
	e := newEnv(t)
	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := e.priv.Public().(ed25519.PublicKey)
	valid := e.mint(t, viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, time.Hour)

	// with returns e.claims() changed by f.
	with := func(f func(c *claims)) claims {
		c := e.claims()
		f(&c)
		return c
	}
	// header returns e.header() changed by f.
	header := func(f func(h map[string]any)) map[string]any {
		h := e.header()
		f(h)
		return h
	}
	ed := jwt.SigningMethodEdDSA

	tests := []struct {
		name    string
		token   func() string
		advance time.Duration // moves the clock before Verify
		msg     string
	}{
		{name: "missing", token: func() string { return "" }, msg: "missing token"},
		{name: "garbage", token: func() string { return "not a token" }, msg: "invalid token"},
		{name: "three garbage segments", token: func() string { return "a.b.c" }, msg: "invalid token"},
		{name: "two segments", token: func() string { return valid[:strings.LastIndex(valid, ".")] }, msg: "invalid token"},
		{name: "bearer prefix left on", token: func() string { return "Bearer " + valid }, msg: "invalid token"},
		{name: "1 MB", token: func() string { return valid + strings.Repeat("A", 1<<20) }, msg: "token too large"},
		{name: "just over the cap", token: func() string { return strings.Repeat("A", MaxTokenSize+1) }, msg: "token too large"},

		{name: "expired", token: func() string { return valid }, advance: time.Hour + Leeway, msg: "token expired"},
		{name: "not yet valid", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.NotBefore = jwt.NewNumericDate(t0.Add(Leeway + time.Second)) }))
		}, msg: "token not valid yet"},
		{name: "issued in the future", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.IssuedAt = jwt.NewNumericDate(t0.Add(time.Minute)) }))
		}, msg: "token not valid yet"},
		{name: "missing exp", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.ExpiresAt = nil }))
		}, msg: "invalid token"},
		{name: "missing iat", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.IssuedAt = nil }))
		}, msg: "invalid token"},

		{name: "forged: another key under our kid", token: func() string {
			return sign(t, ed, otherPriv, e.header(), e.claims())
		}, msg: "invalid token"},
		{name: "forged: payload swapped under a valid signature", token: func() string {
			parts := strings.Split(valid, ".")
			payload := base64.RawURLEncoding.EncodeToString([]byte(`{"kind":"merchant_user","role":"admin","mer":"mer_victim","sub":"usr_x","iss":"strait","aud":["strait-api"],"exp":4102444800,"iat":1900000000}`))
			return parts[0] + "." + payload + "." + parts[2]
		}, msg: "invalid token"},
		{name: "signature stripped", token: func() string { return valid[:strings.LastIndex(valid, ".")+1] }, msg: "invalid token"},
		{name: "alg none", token: func() string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, e.header(), e.claims())
		}, msg: "invalid token"},
		{name: "alg none with our signature kept", token: func() string {
			parts := strings.Split(valid, ".")
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"` + TokenType + `","kid":"` + e.kid + `"}`))
			return h + "." + parts[1] + "." + parts[2]
		}, msg: "invalid token"},
		{name: "HS256 with the public key as secret", token: func() string {
			return sign(t, jwt.SigningMethodHS256, []byte(pub), e.header(), e.claims())
		}, msg: "invalid token"},
		{name: "RS256", token: func() string {
			return sign(t, jwt.SigningMethodRS256, rsaKey, e.header(), e.claims())
		}, msg: "invalid token"},

		{name: "unknown kid", token: func() string {
			return sign(t, ed, e.priv, header(func(h map[string]any) { h["kid"] = "nosuchkid" }), e.claims())
		}, msg: "invalid token"},
		{name: "missing kid", token: func() string {
			return sign(t, ed, e.priv, header(func(h map[string]any) { delete(h, "kid") }), e.claims())
		}, msg: "invalid token"},
		{name: "kid not a string", token: func() string {
			return sign(t, ed, e.priv, header(func(h map[string]any) { h["kid"] = 7 }), e.claims())
		}, msg: "invalid token"},
		{name: "kid as a path", token: func() string {
			return sign(t, ed, e.priv, header(func(h map[string]any) { h["kid"] = "../" + e.kid }), e.claims())
		}, msg: "invalid token"},
		{name: "typ JWT", token: func() string {
			return sign(t, ed, e.priv, header(func(h map[string]any) { h["typ"] = "JWT" }), e.claims())
		}, msg: "invalid token"},
		{name: "missing typ", token: func() string {
			return sign(t, ed, e.priv, header(func(h map[string]any) { delete(h, "typ") }), e.claims())
		}, msg: "invalid token"},
		{name: "crit header", token: func() string {
			return sign(t, ed, e.priv, header(func(h map[string]any) { h["crit"] = []string{"exp"} }), e.claims())
		}, msg: "invalid token"},

		{name: "wrong aud", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Audience = jwt.ClaimStrings{"strait-dashboard"} }))
		}, msg: "invalid token"},
		{name: "missing aud", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Audience = nil }))
		}, msg: "invalid token"},
		{name: "wrong iss", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Issuer = "evil" }))
		}, msg: "invalid token"},
		{name: "missing iss", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Issuer = "" }))
		}, msg: "invalid token"},

		{name: "kind system", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = viewer.System }))
		}, msg: "invalid token"},
		{name: "kind api_key", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = viewer.APIKey; c.Merchant = "mer_1" }))
		}, msg: "invalid token"},
		{name: "unknown kind", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = "superuser" }))
		}, msg: "invalid token"},
		{name: "missing kind", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = "" }))
		}, msg: "invalid token"},
		{name: "missing sub", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Subject = "" }))
		}, msg: "invalid token"},
		{name: "operator scoped to a merchant", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Merchant = "mer_1" }))
		}, msg: "invalid token"},
		{name: "merchant user without mer", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = viewer.MerchantUser; c.Role = viewer.RoleAdmin }))
		}, msg: "invalid token"},
		{name: "merchant user without role", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = viewer.MerchantUser; c.Merchant = "mer_1" }))
		}, msg: "invalid token"},
		{name: "merchant user with unknown role", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = viewer.MerchantUser; c.Merchant = "mer_1"; c.Role = "owner" }))
		}, msg: "invalid token"},
		{name: "cashier without sid", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = viewer.Cashier; c.Merchant = "mer_1" }))
		}, msg: "invalid token"},
		{name: "cashier without mer", token: func() string {
			return sign(t, ed, e.priv, e.header(), with(func(c *claims) { c.Kind = viewer.Cashier; c.Subject = "cs_1"; c.Session = "cs_1" }))
		}, msg: "invalid token"},
		{name: "claims of the wrong JSON type", token: func() string {
			return rawToken(e.priv, []byte(`{"alg":"EdDSA","typ":"`+TokenType+`","kid":"`+e.kid+`"}`),
				[]byte(`{"kind":["operator"],"sub":"ops","iss":"strait","aud":"strait-api","exp":"tomorrow","iat":1}`))
		}, msg: "invalid token"},
		{name: "payload not JSON", token: func() string {
			return rawToken(e.priv, []byte(`{"alg":"EdDSA","typ":"`+TokenType+`","kid":"`+e.kid+`"}`), []byte("operator"))
		}, msg: "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.now = t0.Add(tt.advance)
			tok := tt.token()
			got, err := e.ks.Verify(tok)
			if err == nil {
				t.Fatalf("Verify = %+v, want an error", got)
			}
			if got != (viewer.Viewer{}) {
				t.Errorf("Verify returned %+v with its error", got)
			}
			wantUnauthorized(t, err, tok, tt.msg)
		})
	}
}

func TestVerifyAllowsLeewayForClockSkew(t *testing.T) {
	e := newEnv(t)
	skew := Leeway - time.Second
	tests := []struct {
		name    string
		c       func() claims
		advance time.Duration
	}{
		{name: "expired within the leeway", c: e.claims, advance: time.Hour + skew},
		{name: "nbf within the leeway", c: func() claims {
			c := e.claims()
			c.NotBefore = jwt.NewNumericDate(t0.Add(skew))
			return c
		}},
		{name: "iat within the leeway", c: func() claims {
			c := e.claims()
			c.IssuedAt = jwt.NewNumericDate(t0.Add(skew))
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.now = t0
			tok := sign(t, jwt.SigningMethodEdDSA, e.priv, e.header(), tt.c())
			e.clock.Advance(tt.advance)
			if _, err := e.ks.Verify(tok); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyAcceptsAnAudienceListContainingStrait(t *testing.T) {
	e := newEnv(t)
	c := e.claims()
	c.Audience = jwt.ClaimStrings{"strait-dashboard", Audience}
	if _, err := e.ks.Verify(sign(t, jwt.SigningMethodEdDSA, e.priv, e.header(), c)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}
