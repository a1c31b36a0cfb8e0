package app_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"

	"context"
	"encoding/json"
	"github.com/golang-jwt/jwt/v5"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/auditlog"
	"github.com/straitpay/strait/ent/merchant"
	"github.com/straitpay/strait/ent/merchantuser"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
	"github.com/straitpay/strait/server/auth"
)

// env is one Strait server under test with two merchants, A and B, and a
// credential for every principal.
type env struct {
	t       *testing.T
	app     *app.App
	db      *store.DB
	keys    *auth.KeySet
	keysDir string
	tokens  map[string]string // principal name -> Authorization credential
	a, b    *ent.Merchant
	payA    []*ent.Payment
	payB    []*ent.Payment
	idsOfB  []string // every object ID that belongs to B
	session *ent.CheckoutSession
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	return newEnvWith(t, db, nil)
}

// newEnvWith is newEnv with a hook to change the configuration and options
// (vault keys, a connector catalog, a clock, a log) before the app is built.
func newEnvWith(t *testing.T, db *store.DB, configure func(*app.Config, *app.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	if _, err := auth.GenerateKey(dir, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	ks, err := auth.LoadKeySet(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := app.ParseConfig("test", nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	e := &env{t: t, db: db, keys: ks, keysDir: dir, tokens: map[string]string{}}
	opts := app.Options{Log: log}
	if configure != nil {
		configure(&cfg, &opts)
	}
	e.app = app.New(cfg, db, ks, opts)
	e.seed()
	return e
}

func (e *env) mint(v viewer.Viewer) string {
	e.t.Helper()
	tok, err := e.keys.Mint(v, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// seed creates merchants A and B, a user of each role, an API key and a
// checkout session for A, and payments with attempts and refunds for both.
func (e *env) seed() {
	t := e.t
	t.Helper()
	ctx := context.Background()
	op := viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.Operator, Subject: "test-op"})
	svc := tenancy.New(e.db.Client, time.Now)
	var err error
	if e.a, err = svc.CreateMerchant(op, tenancy.MerchantInput{LegalName: "Alpha Ltd", Country: "SG", SettlementCurrency: "SGD"}); err != nil {
		t.Fatal(err)
	}
	if e.b, err = svc.CreateMerchant(op, tenancy.MerchantInput{LegalName: "Beta GmbH", Country: "DE", SettlementCurrency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	e.tokens["OPERATOR"] = e.mint(viewer.Viewer{Kind: viewer.Operator, Subject: "test-op"})
	for _, role := range []merchantuser.Role{merchantuser.RoleADMIN, merchantuser.RoleDEVELOPER, merchantuser.RoleANALYST} {
		u, err := svc.CreateUser(op, tenancy.UserInput{MerchantID: e.a.ID, Email: strings.ToLower(string(role)) + "@alpha.test", Role: role})
		if err != nil {
			t.Fatal(err)
		}
		r := viewer.Role(strings.ToLower(string(role)))
		e.tokens["MERCHANT_"+string(role)] = e.mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: u.ID, MerchantID: e.a.ID, Role: r})
	}
	_, secret, err := svc.CreateAPIKey(op, tenancy.APIKeyInput{MerchantID: e.a.ID, Name: "server"})
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["API_KEY"] = secret
	sys := viewer.SystemContext(ctx)
	e.session, err = e.db.Client.CheckoutSession.Create().SetMerchantID(e.a.ID).SetAmount(1999).SetCurrency("SGD").
		SetExpiresAt(time.Now().Add(time.Hour)).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["CASHIER"] = e.mint(viewer.Viewer{Kind: viewer.Cashier, Subject: e.session.ID, MerchantID: e.a.ID, SessionID: e.session.ID})
	e.payA = e.makePayments(sys, e.a.ID, 3)
	e.payB = e.makePayments(sys, e.b.ID, 3)
	for _, p := range e.payB {
		e.idsOfB = append(e.idsOfB, p.ID)
		for _, a := range p.Edges.Attempts {
			e.idsOfB = append(e.idsOfB, a.ID)
		}
		for _, r := range p.Edges.Refunds {
			e.idsOfB = append(e.idsOfB, r.ID)
		}
	}
	e.idsOfB = append(e.idsOfB, e.b.ID)
	bUser, err := svc.CreateUser(op, tenancy.UserInput{MerchantID: e.b.ID, Email: "admin@beta.test", Role: merchantuser.RoleADMIN})
	if err != nil {
		t.Fatal(err)
	}
	bKey, _, err := svc.CreateAPIKey(op, tenancy.APIKeyInput{MerchantID: e.b.ID, Name: "beta server"})
	if err != nil {
		t.Fatal(err)
	}
	bCus, err := e.db.Client.Customer.Create().SetMerchantID(e.b.ID).SetEmail("buyer@beta.test").Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	bSession, err := e.db.Client.CheckoutSession.Create().SetMerchantID(e.b.ID).SetAmount(500).SetCurrency("EUR").
		SetExpiresAt(time.Now().Add(time.Hour)).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	bAudit, err := e.db.Client.AuditLog.Query().Where(auditlog.MerchantID(e.b.ID)).First(sys)
	if err != nil {
		t.Fatal(err)
	}
	e.idsOfB = append(e.idsOfB, bUser.ID, bKey.ID, bCus.ID, bSession.ID, bAudit.ID)
}

// makePayments creates n payments for merchant, each with one attempt and one
// refund, amounts above 2^31 minor units included.
func (e *env) makePayments(ctx context.Context, merchantID string, n int) []*ent.Payment {
	e.t.Helper()
	var out []*ent.Payment
	for i := range n {
		amount := int64(1000 + i)
		if i == 0 {
			amount = 5_000_000_000_00 // 500 billion cents: far above 2^31
		}
		p, err := e.db.Client.Payment.Create().SetMerchantID(merchantID).SetAmount(amount).SetCurrency("USD").
			SetAmountCaptured(amount).SetStatus("SUCCEEDED").Save(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		att, err := e.db.Client.PaymentAttempt.Create().SetMerchantID(merchantID).SetPaymentID(p.ID).SetConnector("cardnet").
			SetAmount(amount).SetCurrency("USD").SetStatus("CAPTURED").SetChannelIdempotencyKey(p.ID + "-1").Save(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		ref, err := e.db.Client.Refund.Create().SetMerchantID(merchantID).SetPaymentID(p.ID).SetAmount(1).SetCurrency("USD").Save(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		p.Edges.Attempts = []*ent.PaymentAttempt{att}
		p.Edges.Refunds = []*ent.Refund{ref}
		out = append(out, p)
	}
	return out
}

// gqlResponse is a decoded GraphQL response.
type gqlResponse struct {
	Status int
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Raw string
}

// code returns the first error's extensions.code, or "".
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do POSTs a GraphQL request with the credential of principal ("" for none).
func (e *env) do(principal, query string, vars map[string]any) gqlResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return e.raw(http.MethodPost, "/graphql", principal, "application/json", body)
}

func (e *env) raw(method, path, principal, contentType string, body []byte) gqlResponse {
	e.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if principal != "" {
		cred, ok := e.tokens[principal]
		if !ok {
			cred = principal // a raw credential
		}
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	return e.serve(req)
}

func (e *env) serve(req *http.Request) gqlResponse {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.app.Handler().ServeHTTP(rec, req)
	out := gqlResponse{Status: rec.Code, Raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		e.t.Fatalf("%s %s: status %d, body is not JSON: %q", req.Method, req.URL.Path, rec.Code, truncate(rec.Body.String(), 300))
	}
	out.Status = rec.Code
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func tenancyKeyInput(merchantID string) tenancy.APIKeyInput {
	return tenancy.APIKeyInput{MerchantID: merchantID, Name: "fixture"}
}

// storeDB shortens the storetest callback signature.
type storeDB = store.DB

// serverKey returns the server's Ed25519 signing key, read from its key file
// the way an attacker who stole it would.
func serverKey(t *testing.T, e *env) ed25519.PrivateKey {
	t.Helper()
	kid := e.keys.Keys()[0].Kid
	b, err := os.ReadFile(filepath.Join(e.keysDir, kid+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(ed25519.PrivateKey)
}

// publicKeyPEMish returns the server's public key bytes, which an attacker
// could learn, for the HS256 key-confusion attack.
func publicKeyPEMish(t *testing.T, e *env) []byte {
	t.Helper()
	return serverKey(t, e).Public().(ed25519.PublicKey)
}

// signWithServerKey signs claims with the real server key, so only the claim
// or header under test is wrong.
func signWithServerKey(t *testing.T, e *env, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = e.keys.Keys()[0].Kid
	tok.Header["typ"] = auth.TokenType
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(serverKey(t, e))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// revokedKeySecret creates and revokes an API key of A and returns its secret.
func (e *env) revokedKeySecret() string {
	return e.keySecretThen(func(ctx context.Context, k *ent.APIKey) error {
		_, err := e.app.Tenancy.RevokeAPIKey(ctx, k.ID)
		return err
	})
}

// expiredKeySecret creates an API key of A whose expiry has passed and
// returns its secret.
func (e *env) expiredKeySecret() string {
	return e.keySecretThen(func(ctx context.Context, k *ent.APIKey) error {
		return e.db.Client.APIKey.UpdateOneID(k.ID).SetExpiresAt(time.Now().Add(-time.Second)).Exec(ctx)
	})
}

// keySecretThen creates an API key of A, applies change to it and returns
// its secret.
func (e *env) keySecretThen(change func(context.Context, *ent.APIKey) error) string {
	e.t.Helper()
	ctx := viewer.SystemContext(e.t.Context())
	k, secret, err := e.app.Tenancy.CreateAPIKey(ctx, tenancyKeyInput(e.a.ID))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := change(ctx, k); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// suspendedMerchantKeySecret creates a merchant with an API key, suspends the
// merchant and returns the key's secret.
func (e *env) suspendedMerchantKeySecret() string {
	e.t.Helper()
	ctx := viewer.SystemContext(e.t.Context())
	op := viewer.NewContext(e.t.Context(), viewer.Viewer{Kind: viewer.Operator, Subject: "test"})
	m, err := e.app.Tenancy.CreateMerchant(op, tenancy.MerchantInput{LegalName: "Gamma Suspended", Country: "SG", SettlementCurrency: "SGD"})
	if err != nil {
		e.t.Fatal(err)
	}
	_, secret, err := e.app.Tenancy.CreateAPIKey(ctx, tenancyKeyInput(m.ID))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.Client.Merchant.UpdateOneID(m.ID).SetStatus(merchant.StatusSUSPENDED).Exec(ctx); err != nil {
		e.t.Fatal(err)
	}
	return secret
}
