package app_test

import (
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/reviewstatus"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

var principals = []string{"", "OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY", "CASHIER"}

var (
	everyone    = []string{"OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY", "CASHIER"}
	merchantAPI = []string{"OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY"}
	keyManagers = []string{"OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER"}
	admins      = []string{"OPERATOR", "MERCHANT_ADMIN"}
	operators   = []string{"OPERATOR"}
	merchants   = []string{"MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY"}
	sellers     = []string{"MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "API_KEY"}
	cashiers    = []string{"CASHIER"}
)

// TestAccessMatrix calls every operation as every principal: the allowed ones
// succeed, an anonymous caller is UNAUTHENTICATED (HTTP 401) and everyone else
// is FORBIDDEN, with nothing written.
func TestAccessMatrix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// An in-process acquirer, for the void of a rejected review.
		e := newEnvWith(t, db, func(cfg *app.Config, opts *app.Options) {
			withVaultKeys(cfg, opts)
			opts.Connectors = oneConnector{acquirer{}}
		})
		ops := []struct {
			name    string
			query   string
			vars    func(principal string) map[string]any
			allowed []string
		}{
			{"viewer", `{ viewer { principal subject } }`, nil, everyone},
			{"merchant", `query($id: ID) { merchant(id: $id) { id legalName } }`,
				func(string) map[string]any { return map[string]any{"id": e.a.ID} }, merchantAPI},
			{"merchants", `{ merchants(first: 10) { edges { node { id } } } }`, nil, operators},
			{"apiKeys", `{ apiKeys(first: 10) { edges { node { id prefix } } } }`, nil, keyManagers},
			{"auditLogs", `{ auditLogs(first: 10) { edges { node { id action } } } }`, nil, admins},
			{"payment", `query($id: ID!) { payment(id: $id) { id amount { amount currency } } }`,
				func(string) map[string]any { return map[string]any{"id": e.payA[0].ID} }, merchantAPI},
			{"payments", `{ payments(first: 10) { edges { node { id } } } }`, nil, merchantAPI},
			{"createMerchant", `mutation { createMerchant(input: {legalName: "New Co", country: "JP", settlementCurrency: "JPY"}) { id } }`, nil, operators},
			{"createMerchantUser", `mutation($m: ID, $email: String!) { createMerchantUser(input: {merchantID: $m, email: $email, role: ANALYST}) { id } }`,
				func(p string) map[string]any {
					return map[string]any{"m": e.a.ID, "email": fmt.Sprintf("new-%s@alpha.test", p)}
				}, admins},
			{"createAPIKey", `mutation($m: ID) { createAPIKey(input: {merchantID: $m, name: "ci"}) { secret apiKey { id } } }`,
				func(string) map[string]any { return map[string]any{"m": e.a.ID} }, keyManagers},
			{"revokeAPIKey", `mutation($id: ID!) { revokeAPIKey(id: $id) { id revokedAt } }`,
				func(string) map[string]any { return map[string]any{"id": e.newKey(e.a.ID)} }, keyManagers},
			{"checkoutSession", `query($id: ID) { checkoutSession(id: $id) { id status amount { amount } } }`,
				func(string) map[string]any { return map[string]any{"id": e.session.ID} }, everyone},
			{"coupons", `{ coupons(first: 10) { edges { node { id } } } }`, nil, merchants},
			{"customers", `{ customers(first: 10) { edges { node { id savedCards { token } } } } }`, nil, merchants},
			{"createCheckoutSession", `mutation { createCheckoutSession(input: {amount: {amount: 100, currency: "SGD"}}) { cashierToken checkoutSession { id } } }`, nil, sellers},
			{"createCashierToken", `mutation($id: ID!) { createCashierToken(checkoutSessionID: $id) { token expiresAt } }`,
				func(string) map[string]any { return map[string]any{"id": e.session.ID} }, sellers},
			{"createCustomer", `mutation { createCustomer(input: {name: "Buyer"}) { id } }`, nil, sellers},
			{"createCoupon", `mutation($code: String!) { createCoupon(input: {code: $code, kind: PERCENTAGE, percentOffBps: 100}) { id } }`,
				func(p string) map[string]any { return map[string]any{"code": "C" + p} }, sellers},
			{"tokenizeCard", `mutation { tokenizeCard(input: {number: "4242424242424242", expMonth: 12, expYear: 2034}) { token } }`, nil, cashiers},
			{"removeCoupon", `mutation { removeCoupon { id } }`, nil, cashiers},
			{"paymentReviews", `{ paymentReviews(first: 10) { edges { node { id review { status } } } } }`, nil, merchantAPI},
			{"approvePaymentReview", `mutation($id: ID!, $key: String!) { approvePaymentReview(input: {paymentID: $id, idempotencyKey: $key}) { id review { status } } }`,
				func(p string) map[string]any {
					return map[string]any{"id": e.reviewedPayment(payment.CaptureMethodMANUAL), "key": "approve-" + p}
				}, admins},
			{"rejectPaymentReview", `mutation($id: ID!, $key: String!) { rejectPaymentReview(input: {paymentID: $id, reason: "no", idempotencyKey: $key}) { id status } }`,
				func(p string) map[string]any {
					return map[string]any{"id": e.reviewedPayment(payment.CaptureMethodAUTOMATIC), "key": "reject-" + p}
				}, admins},
		}
		for _, op := range ops {
			for _, p := range principals {
				name := p
				if name == "" {
					name = "ANONYMOUS"
				}
				t.Run(op.name+"/"+name, func(t *testing.T) {
					var vars map[string]any
					if op.vars != nil {
						vars = op.vars(name)
					}
					before := e.countRows()
					r := e.do(p, op.query, vars)
					switch {
					case p == "":
						if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
							t.Fatalf("anonymous: status %d code %q: %s", r.Status, r.code(), r.Raw)
						}
					case slices.Contains(op.allowed, p):
						if len(r.Errors) > 0 {
							t.Fatalf("allowed principal got errors: %s", r.Raw)
						}
					default:
						if r.code() != "FORBIDDEN" {
							t.Fatalf("want FORBIDDEN, got status %d: %s", r.Status, r.Raw)
						}
						if after := e.countRows(); after != before {
							t.Fatalf("a refused call wrote rows: %d before, %d after", before, after)
						}
					}
				})
			}
		}
	})
}

// reviewedPayment stores a payment of merchant A authorized at the
// in-process acquirer ("acq") and held for review, and returns its ID.
func (e *env) reviewedPayment(cm payment.CaptureMethod) string {
	e.t.Helper()
	sys := viewer.SystemContext(e.t.Context())
	now := time.Now()
	p, err := e.db.Client.Payment.Create().SetMerchantID(e.a.ID).SetAmount(10_000).SetCurrency("SGD").
		SetCaptureMethod(cm).SetStatus(paymentstatus.RequiresCapture).SetAmountCapturable(10_000).SetConnector("acq").
		SetReviewStatus(reviewstatus.Open).SetReviewReason("amount reaches the AML threshold").SetReviewOpenedAt(now).
		Save(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.db.Client.PaymentAttempt.Create().SetMerchantID(e.a.ID).SetPaymentID(p.ID).SetConnector("acq").
		SetAmount(10_000).SetCurrency("SGD").SetStatus(attemptstatus.Authorized).
		SetChannelIdempotencyKey(p.ID + "-1").SetConnectorReference("ch_" + p.ID).
		SetRiskDecision(map[string]any{"action": "review"}).Save(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

// newKey creates an API key for merchant and returns its ID.
func (e *env) newKey(merchantID string) string {
	e.t.Helper()
	k, _, err := e.app.Tenancy.CreateAPIKey(viewer.SystemContext(e.t.Context()), tenancyKeyInput(merchantID))
	if err != nil {
		e.t.Fatal(err)
	}
	return k.ID
}

// countRows counts the rows of the tables a refused call might write to.
func (e *env) countRows() int {
	e.t.Helper()
	ctx := viewer.SystemContext(e.t.Context())
	c := e.db.Client
	total := 0
	for _, n := range []func() (int, error){
		func() (int, error) { return c.Merchant.Query().Count(ctx) },
		func() (int, error) { return c.MerchantUser.Query().Count(ctx) },
		func() (int, error) { return c.APIKey.Query().Count(ctx) },
		func() (int, error) { return c.AuditLog.Query().Count(ctx) },
		func() (int, error) { return c.CheckoutSession.Query().Count(ctx) },
		func() (int, error) { return c.Customer.Query().Count(ctx) },
		func() (int, error) { return c.Coupon.Query().Count(ctx) },
		func() (int, error) { return c.VaultCard.Query().Count(ctx) },
	} {
		v, err := n()
		if err != nil {
			e.t.Fatal(err)
		}
		total += v
	}
	return total
}

// withVaultKeys gives the app vault keys, so tokenizeCard works.
func withVaultKeys(cfg *app.Config, _ *app.Options) {
	cfg.VaultKeys = "k1:" + vault.GenerateKey()
	cfg.VaultFingerprintKey = vault.GenerateKey()
}
