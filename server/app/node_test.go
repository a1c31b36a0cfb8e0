package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/coupon"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/ent/migrate"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestNodeResolvesEveryKind makes a row of every GraphQL Node type (for both
// merchants where the type belongs to one), then asks node(id:) for each
// through GraphQL: the operator gets every one back with its own __typename,
// merchant A's admin gets its own rows and null (NOT_FOUND) for B's rows and
// for platform rows, exactly as for an ID that never existed. A new Node type
// without a row here fails the test, so it cannot go unchecked.
func TestNodeResolvesEveryKind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for _, m := range []string{e.a.ID, e.b.ID} {
			e.seedNodeKinds(m)
		}
		e.seedPlatformNodeKinds()

		tenantTables := map[string]bool{}
		for _, tbl := range migrate.Tables {
			for _, c := range tbl.Columns {
				if c.Name == "merchant_id" {
					tenantTables[tbl.Name] = true
				}
			}
		}
		type row struct{ id, merchantID, typ string }
		var rows []row
		for _, nt := range ent.NodeTypes {
			col := "''"
			switch {
			case nt.Table == "merchants":
				col = "id"
			case tenantTables[nt.Table]:
				col = "COALESCE(merchant_id, '')"
			case nt.Table == "journal_entries":
				// An entry is the merchant's its postings are (docs/money.md);
				// one without a merchant's posting is the platform's.
				col = "COALESCE((SELECT MIN(p.merchant_id) FROM postings p WHERE p.entry_id = journal_entries.id), '')"
			}
			found := 0
			q := fmt.Sprintf("SELECT id, %s FROM %s", col, nt.Table)
			sqlRows, err := db.SQL.QueryContext(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for sqlRows.Next() {
				r := row{typ: nt.GraphQLType}
				if err := sqlRows.Scan(&r.id, &r.merchantID); err != nil {
					t.Fatal(err)
				}
				rows = append(rows, r)
				found++
			}
			if err := sqlRows.Close(); err != nil {
				t.Fatal(err)
			}
			if found == 0 {
				t.Errorf("no %s made for node(id:) to resolve: add one to seedNodeKinds", nt.GraphQLType)
			}
		}
		seen := map[string]bool{}
		for _, r := range rows {
			seen[r.typ] = true
			// typename asks node(id:) as principal: the __typename, or "" for null.
			typename := func(principal string) (string, gqlResponse) {
				res := e.do(principal, `query($id: ID!) { node(id: $id) { __typename id } }`, map[string]any{"id": r.id})
				var n *struct {
					Typename string `json:"__typename"`
					ID       string `json:"id"`
				}
				if err := json.Unmarshal(res.Data["node"], &n); err != nil || n == nil {
					return "", res
				}
				if n.ID != r.id {
					t.Fatalf("node(%s) answered %s", r.id, n.ID)
				}
				return n.Typename, res
			}
			if got, res := typename("OPERATOR"); got != r.typ {
				t.Errorf("operator node(%s) = %q, want %s: %s", r.id, got, r.typ, res.Raw)
			}
			got, res := typename("MERCHANT_ADMIN")
			switch {
			case r.merchantID == e.a.ID && got != r.typ:
				t.Errorf("A's admin, own %s %s: got %q: %s", r.typ, r.id, got, res.Raw)
			case r.merchantID != e.a.ID && (got != "" || res.code() != "NOT_FOUND"):
				t.Errorf("A's admin reached %s %s of %q: %s", r.typ, r.id, r.merchantID, res.Raw)
			}
		}
		if len(seen) != len(ent.NodeTypes) {
			t.Fatalf("resolved %d kinds of %d", len(seen), len(ent.NodeTypes))
		}
		// Every kind A owns was checked from both sides.
		for _, typ := range []string{"Merchant", "MerchantUser", "APIKey", "Customer", "CheckoutSession", "Coupon", "Payment",
			"PaymentAttempt", "Refund", "Agreement", "AuditLog", "Event", "LedgerAccount", "Posting", "JournalEntry", "WebhookEndpoint", "WebhookDelivery"} {
			if !slices.ContainsFunc(rows, func(r row) bool { return r.typ == typ && r.merchantID == e.b.ID }) {
				t.Errorf("no %s of merchant B to look for", typ)
			}
		}
	})
}

// seedNodeKinds makes, for merchantID, a row of each Node type the harness's
// seed does not: a customer, a coupon, an agreement, an event, a settlement
// batch with a line, a dispute with a timeline line and a file, and ledger
// accounts with a journal entry and its postings.
func (e *env) seedNodeKinds(merchantID string) {
	t := e.t
	t.Helper()
	sys := viewer.SystemContext(context.Background())
	c := e.db.Client
	if _, err := c.Customer.Create().SetMerchantID(merchantID).SetEmail("node@" + merchantID + ".test").Save(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Coupon.Create().SetMerchantID(merchantID).SetCode("NODE10").SetKind(coupon.KindPERCENTAGE).
		SetPercentOffBps(1000).Save(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Agreement.Create().SetMerchantID(merchantID).SetConnector("bank").SetCurrency("EUR").
		SetIdempotencyKey("node-" + merchantID).Save(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Event.Create().SetMerchantID(merchantID).SetType("node.test").SetData(map[string]any{}).Save(sys); err != nil {
		t.Fatal(err)
	}
	batch, err := c.SettlementBatch.Create().SetMerchantID(merchantID).SetBusinessDate("2026-03-02").SetCurrency("USD").
		SetLineCount(1).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SettlementLine.Create().SetMerchantID(merchantID).SetBatchID(batch.ID).SetSourceKey("capture:node-" + merchantID).
		SetPaymentID("pay_node").SetCurrency("USD").SetGross(100).SetChannelFee(0).SetMdrFee(3).SetSplitAmount(0).SetNet(97).
		SetCapturedAt(time.Now()).Save(sys); err != nil {
		t.Fatal(err)
	}
	pay, err := c.Payment.Query().Where(payment.MerchantID(merchantID)).First(sys)
	if err != nil {
		t.Fatal(err)
	}
	dsp, err := c.Dispute.Create().SetMerchantID(merchantID).SetPaymentID(pay.ID).SetConnector("cardnet").
		SetNetworkDisputeID("dp-node-" + merchantID).SetState(dispute.StateNEEDS_RESPONSE).SetStage(dispute.StageCHARGEBACK).
		SetReason(dispute.ReasonFRAUD).SetAmount(pay.Amount).SetCurrency(pay.Currency).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisputeEvent.Create().SetMerchantID(merchantID).SetDisputeID(dsp.ID).SetKind("channel_event").Save(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisputeFile.Create().SetMerchantID(merchantID).SetDisputeID(dsp.ID).SetName("r.png").SetContentType("image/png").
		SetSize(1).SetSha256("00").SetStorageKey("k").Save(sys); err != nil {
		t.Fatal(err)
	}
	ep, err := c.WebhookEndpoint.Create().SetMerchantID(merchantID).SetURL("https://hooks.example/" + merchantID).
		SetSecret("whsec_bm9kZQ==").Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WebhookDelivery.Create().SetMerchantID(merchantID).SetEndpointID(ep.ID).SetEventID("evt_node").
		SetEventType("node.test").SetNextAttemptAt(time.Now()).Save(sys); err != nil {
		t.Fatal(err)
	}
	usd := money.MustCurrency("USD")
	if _, err := e.app.Ledger.Post(sys, ledger.Entry{
		Source: ledger.Source{Type: ledger.SourceAdjustment, ID: "node-" + merchantID}, EffectiveAt: time.Now(),
		Postings: []ledger.Posting{
			{Account: ledger.PlatformAccount(ledger.KindSuspense, usd), Amount: money.Must(-100, "USD")},
			{Account: ledger.MerchantAccount(merchantID, ledger.KindAvailable, usd), Amount: money.Must(100, "USD")},
		},
	}); err != nil {
		t.Fatal(err)
	}
}

// seedPlatformNodeKinds makes the Node types that belong to no merchant: a
// channel event, connector settings, a risk rule and a routing rule.
func (e *env) seedPlatformNodeKinds() {
	t := e.t
	t.Helper()
	sys := viewer.SystemContext(context.Background())
	c := e.db.Client
	now := time.Now()
	if _, err := c.ChannelEvent.Create().SetConnector("cardnet").SetEventID("evt-node").SetType("payment_result").
		SetPayload(json.RawMessage(`{}`)).SetReceivedAt(now).SetNextAttemptAt(now).Save(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConnectorSetting.Create().SetName("cardnet").Save(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RiskRule.Create().SetKey("node-rule").SetKind("amount_limit").SetAction("deny").Save(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RoutingRule.Create().SetKey("node-route").Save(sys); err != nil {
		t.Fatal(err)
	}
}
