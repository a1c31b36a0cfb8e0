package app_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/auth"
)

// TestTokensRefused sends every kind of bad credential through the HTTP
// handler: each is UNAUTHENTICATED with HTTP 401, and nothing runs.
func TestTokensRefused(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	keys := e.keys.Keys()
	kid := keys[0].Kid
	now := time.Now()
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": auth.Issuer, "aud": []string{auth.Audience}, "sub": "op", "kind": "operator",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x",
		}
		if mut != nil {
			mut(c)
		}
		return c
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(method jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		tok.Header["typ"] = auth.TokenType
		for k, v := range header {
			if v == nil {
				delete(tok.Header, k)
			} else {
				tok.Header[k] = v
			}
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pubKeyBytes := publicKeyPEMish(t, e)
	cases := map[string]string{
		"missing":          "",
		"garbage":          "not-a-token",
		"expired":          sign(jwt.SigningMethodEdDSA, otherKey, nil, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"forged signature": sign(jwt.SigningMethodEdDSA, otherKey, nil, claims(nil)),
		"alg none":         noneToken(claims(nil), kid),
		"HS256 with public key": func() string {
			return hs256(t, pubKeyBytes, kid, claims(nil))
		}(),
		"unknown kid":                  sign(jwt.SigningMethodEdDSA, otherKey, map[string]any{"kid": "nosuchkid"}, claims(nil)),
		"other type":                   signWithServerKey(t, e, map[string]any{"typ": "JWT"}, claims(nil)),
		"other audience":               signWithServerKey(t, e, nil, claims(func(c jwt.MapClaims) { c["aud"] = []string{"someone-else"} })),
		"other issuer":                 signWithServerKey(t, e, nil, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })),
		"no exp":                       signWithServerKey(t, e, nil, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"1 MB header":                  strings.Repeat("A", 1<<20),
		"revoked api key":              e.revokedKeySecret(),
		"expired api key":              e.expiredKeySecret(),
		"suspended merchant's api key": e.suspendedMerchantKeySecret(),
		"unknown api key":              "sk_ThisKeyDoesNotExist000000000000000000000",
	}
	for name, cred := range cases {
		t.Run(name, func(t *testing.T) {
			body := []byte(`{"query":"{ viewer { subject } }"}`)
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			if cred != "" {
				req.Header.Set("Authorization", "Bearer "+cred)
			}
			r := e.serve(req)
			if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
				t.Fatalf("status %d code %q: %s", r.Status, r.code(), truncate(r.Raw, 300))
			}
			if cred != "" && len(cred) > 20 && strings.Contains(r.Raw, cred[:20]) {
				t.Fatalf("the error echoes the credential: %s", r.Raw)
			}
		})
	}
	t.Run("a good api key works", func(t *testing.T) {
		_, secret, err := e.app.Tenancy.CreateAPIKey(viewer.SystemContext(t.Context()), tenancyKeyInput(e.a.ID))
		if err != nil {
			t.Fatal(err)
		}
		r := e.do(secret, `{ viewer { principal merchant { id } } }`, nil)
		if r.code() != "" || !strings.Contains(r.Raw, e.a.ID) {
			t.Fatalf("%s", r.Raw)
		}
	})
	t.Run("a good server token works", func(t *testing.T) {
		r := e.do(signWithServerKey(t, e, nil, claims(nil)), `{ viewer { subject } }`, nil)
		if r.code() != "" {
			t.Fatalf("%s", r.Raw)
		}
	})
}

// TestAbusiveQueriesRefused sends malformed and abusive requests: each gets a
// coded error, never a 500, and nothing is written.
func TestAbusiveQueriesRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *storeDB) {
		e := newEnv(t, db)
		deep := "{ viewer { merchant { users(first: 1) { edges { node { merchant { users(first: 1) { edges { node { merchant { users(first:1) { edges { node { id } } } } } } } } } } } } } }"
		aliases := func(n int) string {
			var b strings.Builder
			b.WriteString("{")
			for i := range n {
				fmt.Fprintf(&b, " a%d: viewer { subject }", i)
			}
			b.WriteString("}")
			return b.String()
		}
		cases := []struct {
			name, method, contentType, body, wantCode string
		}{
			{"malformed JSON", "POST", "application/json", `{"query": "{ viewer { subject } }"`, "BAD_USER_INPUT"},
			{"unknown field", "POST", "application/json", `{"query":"{ viewer { nosuchfield } }"}`, "BAD_USER_INPUT"},
			{"unknown argument", "POST", "application/json", `{"query":"{ viewer(x: 1) { subject } }"}`, "BAD_USER_INPUT"},
			{"invalid id", "POST", "application/json", `{"query":"{ node(id: \"pay_../../etc\") { id } }"}`, "NOT_FOUND"},
			{"deeply nested", "POST", "application/json", jsonQuery(deep), "BAD_USER_INPUT"},
			{"thousands of aliases", "POST", "application/json", jsonQuery(aliases(3000)), "BAD_USER_INPUT"},
			{"fragment cycle", "POST", "application/json", jsonQuery(`query { viewer { ...A } } fragment A on Viewer { merchant { id } ...B } fragment B on Viewer { ...A }`), "BAD_USER_INPUT"},
			{"page too large", "POST", "application/json", jsonQuery(`{ payments(first: 100000) { edges { node { id } } } }`), "BAD_USER_INPUT"},
			{"unbounded page", "POST", "application/json", jsonQuery(`{ payments { edges { node { id } } } }`), "BAD_USER_INPUT"},
			{"introspection outside dev", "POST", "application/json", jsonQuery(`{ __schema { types { name } } }`), "BAD_USER_INPUT"},
			{"oversized body", "POST", "application/json", jsonQuery("{ viewer { subject } }" + strings.Repeat(" ", 300<<10)), "BAD_USER_INPUT"},
			{"mutation over GET", "GET", "", "", "BAD_USER_INPUT"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.countRows()
				var req *http.Request
				if c.method == "GET" {
					q := url.Values{"query": {`mutation { createMerchant(input: {legalName: "X", country: "US", settlementCurrency: "USD"}) { id } }`}}
					req = httptest.NewRequest("GET", "/graphql?"+q.Encode(), nil)
				} else {
					req = httptest.NewRequest(c.method, "/graphql", strings.NewReader(c.body))
					req.Header.Set("Content-Type", c.contentType)
				}
				req.Header.Set("Authorization", "Bearer "+e.tokens["OPERATOR"])
				r := e.serve(req)
				if r.Status >= 500 {
					t.Fatalf("status %d: %s", r.Status, truncate(r.Raw, 300))
				}
				if r.code() != c.wantCode {
					t.Fatalf("code %q, want %q: %s", r.code(), c.wantCode, truncate(r.Raw, 300))
				}
				if strings.Contains(r.Raw, "goroutine") || strings.Contains(r.Raw, ".go:") {
					t.Fatalf("response leaks internals: %s", truncate(r.Raw, 300))
				}
				if after := e.countRows(); after != before {
					t.Fatalf("rows written: %d -> %d", before, after)
				}
			})
		}
	})
}

func jsonQuery(q string) string {
	b, _ := json.Marshal(map[string]string{"query": q})
	return string(b)
}

func noneToken(c jwt.MapClaims, kid string) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": auth.TokenType, "kid": kid})
	p, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

func hs256(t *testing.T, secret []byte, kid string, c jwt.MapClaims) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": auth.TokenType, "kid": kid})
	p, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}
