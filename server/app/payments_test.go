package app_test

import (
	"context"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"log/slog"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

// acquirer is an in-process connector that approves everything.
type acquirer struct{ connectors.Unimplemented }

func (acquirer) Authorize(_ context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	return connectors.AuthorizeResponse{Result: connectors.Approved(), PaymentID: "ch_" + r.Reference, Amount: r.Amount}, nil
}

func (acquirer) Capture(_ context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "cap_" + r.PaymentID, Amount: r.Amount}, nil
}

func (acquirer) Void(_ context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	return connectors.OperationResponse{Result: connectors.Approved()}, nil
}

func (acquirer) Refund(_ context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "re_" + r.Reference, Amount: r.Amount}, nil
}

type oneConnector struct{ c connectors.Connector }

func (o oneConnector) Get(name string) (connectors.Connector, bool) { return o.c, name == "acq" }

// TestMerchantOperationsOverGraphQL captures, refunds and cancels through the
// real HTTP handler, with the coded refusals of the bad input.
func TestMerchantOperationsOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		usd := money.MustCurrency("USD")
		op := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.Operator, Subject: "ops"})
		ten := tenancy.New(db.Client, time.Now)
		ma, err := ten.CreateMerchant(op, tenancy.MerchantInput{LegalName: "A", Country: "US", SettlementCurrency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		mb, err := ten.CreateMerchant(op, tenancy.MerchantInput{LegalName: "B", Country: "US", SettlementCurrency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		tokens := fixedTokens{
			"op":      {Kind: viewer.Operator, Subject: "ops"},
			"key_a":   {Kind: viewer.APIKey, Subject: "key_a", MerchantID: ma.ID},
			"analyst": {Kind: viewer.MerchantUser, Subject: "usr_an", MerchantID: ma.ID, Role: viewer.RoleAnalyst},
			"key_b":   {Kind: viewer.APIKey, Subject: "key_b", MerchantID: mb.ID},
		}
		catalog := routing.NewMemCatalog(routing.Connector{Name: "acq", Methods: []routing.Method{routing.Card},
			Currencies: []money.Currency{usd}, Fees: []routing.Fee{{FixedMinor: 30, BasisPoints: 290}}, Enabled: true, Preauth: true})
		a := app.New(app.Config{}, db, tokens, app.Options{Log: slog.New(slog.DiscardHandler),
			Connectors: oneConnector{acquirer{}}, Catalog: catalog})
		h := a.Handler()
		asA := viewer.NewContext(context.Background(), tokens["key_a"])
		authorized := func() string {
			t.Helper()
			p, err := a.Cashier.CreatePayment(asA, cashier.PaymentInput{Amount: money.Amount{Minor: 1_000, Currency: usd},
				CaptureMethod: payment.CaptureMethodMANUAL})
			if err != nil {
				t.Fatal(err)
			}
			p, err = confirmStored(asA, a.Cashier, p.ID, cashier.PaymentMethod{Type: routing.Card,
				Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2031}}, "")
			if err != nil || p.Status != paymentstatus.RequiresCapture {
				t.Fatalf("authorize: %v %v", p, err)
			}
			return p.ID
		}
		id := authorized()

		capture := `mutation($id: ID!, $amount: Int64!, $cur: String!, $key: String!) {
		  capturePayment(input: {id: $id, amount: {amount: $amount, currency: $cur}, idempotencyKey: $key}) {
		    status amountCaptured { amount } amountCapturable { amount } fee { amount decimal } } }`
		refund := `mutation($id: ID!, $amount: Int64!, $key: String!) {
		  refundPayment(input: {id: $id, amount: {amount: $amount, currency: "USD"}, reason: "returned", idempotencyKey: $key}) {
		    id status amount { amount } feeReversed { amount } } }`
		for _, tt := range []struct {
			name, token, query, code string
			vars                     map[string]any
		}{
			{"capture above the authorization", "key_a", capture, "BAD_USER_INPUT", map[string]any{"id": id, "amount": "1001", "cur": "USD", "key": "cap-1"}},
			{"capture in another currency", "key_a", capture, "BAD_USER_INPUT", map[string]any{"id": id, "amount": "100", "cur": "EUR", "key": "cap-2"}},
			{"capture of zero", "key_a", capture, "BAD_USER_INPUT", map[string]any{"id": id, "amount": "0", "cur": "USD", "key": "cap-3"}},
			{"refund before capture", "key_a", refund, "CONFLICT", map[string]any{"id": id, "amount": "10", "key": "r0"}},
			{"another merchant's capture", "key_b", capture, "NOT_FOUND", map[string]any{"id": id, "amount": "10", "cur": "USD", "key": "cap-4"}},
			{"an analyst's capture", "analyst", capture, "FORBIDDEN", map[string]any{"id": id, "amount": "10", "cur": "USD", "key": "cap-5"}},
		} {
			if r := gql(t, h, tt.token, tt.query, tt.vars); code(r) != tt.code {
				t.Errorf("%s: %+v, want %s", tt.name, r, tt.code)
			}
		}

		r := gql(t, h, "key_a", capture, map[string]any{"id": id, "amount": "600", "cur": "USD", "key": "cap-6"})
		// 30 + ⌈600 × 2.9 %⌉ = 48.
		if code(r) != "" || dig(t, r.Data, "capturePayment", "status") != "SUCCEEDED" ||
			dig(t, r.Data, "capturePayment", "amountCaptured", "amount") != "600" || dig(t, r.Data, "capturePayment", "fee", "decimal") != "0.48" {
			t.Fatalf("capture: %+v", r)
		}
		// A retry with the same key replays; the key with another request conflicts.
		if again := gql(t, h, "key_a", capture, map[string]any{"id": id, "amount": "600", "cur": "USD", "key": "cap-6"}); code(again) != "" ||
			dig(t, again.Data, "capturePayment", "amountCaptured", "amount") != "600" {
			t.Fatalf("replayed capture: %+v", again)
		}
		if again := gql(t, h, "key_a", capture, map[string]any{"id": id, "amount": "601", "cur": "USD", "key": "cap-6"}); code(again) != "CONFLICT" {
			t.Fatalf("capture key reused: %+v", again)
		}
		if r := gql(t, h, "key_a", refund, map[string]any{"id": id, "amount": "601", "key": "r1"}); code(r) != "BAD_USER_INPUT" {
			t.Fatalf("refund above captured: %+v", r)
		}
		r = gql(t, h, "key_a", refund, map[string]any{"id": id, "amount": "300", "key": "r2"})
		if code(r) != "" || dig(t, r.Data, "refundPayment", "status") != "SUCCEEDED" || dig(t, r.Data, "refundPayment", "feeReversed", "amount") != "24" {
			t.Fatalf("refund: %+v", r)
		}
		if r := gql(t, h, "key_a", `mutation($id: ID!) { cancelPayment(input: {id: $id, idempotencyKey: "c1"}) { status } }`, map[string]any{"id": id}); code(r) != "CONFLICT" {
			t.Fatalf("cancel succeeded: %+v", r)
		}
		r = gql(t, h, "key_a", `query($id: ID!) { payment(id: $id) { status nextAction { type } amountRefunded { amount }
		  refunds(first: 5) { edges { node { amount { amount } } } } attempts(first: 5) { edges { node { status connector } } } } }`,
			map[string]any{"id": id})
		if code(r) != "" || dig(t, r.Data, "payment", "amountRefunded", "amount") != "300" || dig(t, r.Data, "payment", "nextAction") != nil ||
			dig(t, r.Data, "payment", "attempts", "edges", 0, "node", "status") != "CAPTURED" {
			t.Fatalf("payment: %+v", r)
		}

		other := authorized()
		r = gql(t, h, "key_a", `mutation($id: ID!) { cancelPayment(input: {id: $id, idempotencyKey: "c2"}) { status canceledAt } }`, map[string]any{"id": other})
		if code(r) != "" || dig(t, r.Data, "cancelPayment", "status") != "CANCELED" {
			t.Fatalf("cancel: %+v", r)
		}
		r = gql(t, h, "op", `{ trialBalance { currency net { amount } } }`, nil)
		for _, line := range dig(t, r.Data, "trialBalance").([]any) {
			if dig(t, line, "net", "amount") != "0" {
				t.Errorf("unbalanced line %v", line)
			}
		}
	})
}

// TestOperatorRulesOverGraphQL edits risk and routing rules as an operator:
// validated with the domain's Validate, audit-logged, and read by the
// pipeline on the next payment.
func TestOperatorRulesOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		usd := money.MustCurrency("USD")
		op := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.Operator, Subject: "ops"})
		ma, err := tenancy.New(db.Client, time.Now).CreateMerchant(op, tenancy.MerchantInput{LegalName: "A", Country: "US", SettlementCurrency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		tokens := fixedTokens{"op": {Kind: viewer.Operator, Subject: "ops"}, "key_a": {Kind: viewer.APIKey, Subject: "key_a", MerchantID: ma.ID}}
		catalog := routing.NewMemCatalog(routing.Connector{Name: "acq", Methods: []routing.Method{routing.Card},
			Currencies: []money.Currency{usd}, Enabled: true, Preauth: true})
		a := app.New(app.Config{}, db, tokens, app.Options{Log: slog.New(slog.DiscardHandler), Connectors: oneConnector{acquirer{}}, Catalog: catalog})
		h := a.Handler()

		upsert := `mutation($in: RiskRuleInput!) { upsertRiskRule(input: $in) { id key kind action enabled score params { currency maxMinor countries } } }`
		rule := map[string]any{"key": "usd-cap", "kind": "amount_limit", "action": "deny", "enabled": true, "score": 80,
			"params": map[string]any{"currency": "USD", "maxMinor": "100000"}}
		if r := gql(t, h, "key_a", upsert, map[string]any{"in": rule}); code(r) != "FORBIDDEN" {
			t.Fatalf("merchant upsert: %+v", r)
		}
		bad := map[string]any{"key": "bad", "kind": "velocity", "action": "deny", "enabled": true, "score": 10,
			"params": map[string]any{"dimension": "merchant", "windowSeconds": 60, "maxCount": 3}}
		if r := gql(t, h, "op", upsert, map[string]any{"in": bad}); code(r) != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "params.dimension" {
			t.Fatalf("invalid rule: %+v", r)
		}
		r := gql(t, h, "op", upsert, map[string]any{"in": rule})
		if code(r) != "" || dig(t, r.Data, "upsertRiskRule", "params", "maxMinor") != "100000" {
			t.Fatalf("upsert: %+v", r)
		}
		rule["score"] = 90 // replace by key
		if r = gql(t, h, "op", upsert, map[string]any{"in": rule}); code(r) != "" || dig(t, r.Data, "upsertRiskRule", "score") != float64(90) {
			t.Fatalf("replace: %+v", r)
		}
		r = gql(t, h, "op", `{ riskRules(first: 10) { totalCount edges { node { key score } } } }`, nil)
		if code(r) != "" || dig(t, r.Data, "riskRules", "totalCount") != float64(1) {
			t.Fatalf("riskRules: %+v", r)
		}
		r = gql(t, h, "op", `{ auditLogs(first: 10) { edges { node { action } } } }`, nil)
		if code(r) != "" || dig(t, r.Data, "auditLogs", "edges", 0, "node", "action") != "risk_rule.upsert" {
			t.Fatalf("audit: %+v", r)
		}

		route := `mutation($in: RoutingRuleInput!) { upsertRoutingRule(input: $in) { key priority match { currencies methods } prefer split { connector percent } } }`
		if r = gql(t, h, "op", route, map[string]any{"in": map[string]any{"key": "split", "priority": 1, "enabled": true,
			"split": []any{map[string]any{"connector": "acq", "percent": 60}}}}); code(r) != "BAD_USER_INPUT" {
			t.Fatalf("split not summing to 100: %+v", r)
		}
		r = gql(t, h, "op", route, map[string]any{"in": map[string]any{"key": "prefer-acq", "priority": 1, "enabled": true,
			"match": map[string]any{"currencies": []any{"USD"}, "methods": []any{"card"}}, "prefer": []any{"acq"}}})
		if code(r) != "" || dig(t, r.Data, "upsertRoutingRule", "match", "currencies", 0) != "USD" {
			t.Fatalf("routing rule: %+v", r)
		}
		if r = gql(t, h, "op", `{ routingRules(first: 5) { edges { node { key prefer } } } }`, nil); code(r) != "" {
			t.Fatalf("routingRules: %+v", r)
		}

		// The pipeline reads the stored rules: above the cap is denied, with the reason on the attempt.
		asA := viewer.NewContext(context.Background(), tokens["key_a"])
		p, err := a.Cashier.CreatePayment(asA, cashier.PaymentInput{Amount: money.Amount{Minor: 200_000, Currency: usd}})
		if err != nil {
			t.Fatal(err)
		}
		p, err = confirmStored(asA, a.Cashier, p.ID, cashier.PaymentMethod{Type: routing.Card,
			Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2031}}, "")
		if err != nil || p.FailureCode != "risk_deny" {
			t.Fatalf("denied payment: %v %v", p, err)
		}
		p, err = a.Cashier.CreatePayment(asA, cashier.PaymentInput{Amount: money.Amount{Minor: 2_000, Currency: usd}})
		if err != nil {
			t.Fatal(err)
		}
		if p, err = confirmStored(asA, a.Cashier, p.ID, cashier.PaymentMethod{Type: routing.Card,
			Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2031}}, ""); err != nil || p.Status != paymentstatus.Succeeded {
			t.Fatalf("allowed payment: %v %v", p, err)
		}
	})
}

// confirmStored confirms stored payment id as the viewer in ctx, as the
// cashier's one way in does: read, prepared, then begun and run.
func confirmStored(ctx context.Context, svc *cashier.Service, id string, pm cashier.PaymentMethod, key string) (*ent.Payment, error) {
	p, err := svc.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	prep, err := svc.Prepare(ctx, p, pm, key)
	if err != nil {
		return nil, err
	}
	return svc.Confirm(ctx, prep)
}
