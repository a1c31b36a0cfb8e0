package app_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

const runSettlement = `mutation($in: RunSettlementInput!) { runSettlement(input: $in) {
	id businessDate currency lineCount } }`

// TestSettlementFullCycleOverGraphQL: a card payment and a wallet payment
// through the real plugins and sandbox, a partial refund, then the operator's
// fee plan and split rule, a settlement run a week later, and every balance
// against figures computed by hand from docs/settlement.md's rules:
//
//	card 100.00 SGD: MDR 2.9 % + 0.30 = 3.20, split 20 % = 0.64, net 96.80
//	wallet 50.00 SGD: MDR 2 % = 1.00, split 0.20, net 49.00
//	refund 25.00 SGD of the card payment: MDR back ⌊320·2500/10000⌋ = 0.80, net −24.20,
//	  split clawed back ⌊64·2500/10000⌋ = 0.16
func TestSettlementFullCycleOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "wallet", "fx"}})
		merchant := x.a.ID

		schedule := func(days int, tz string) gqlResponse {
			return x.gql("OPERATOR", `mutation($in: SettlementScheduleInput!) { setSettlementSchedule(input: $in) { delayDays timezone currency } }`,
				map[string]any{"in": map[string]any{"merchantID": merchant, "delayDays": days, "timezone": tz}})
		}
		if r := schedule(1, "Mars/Olympus_Mons"); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("an unknown timezone: %s", r.Raw)
		}
		x.ok(t, schedule(1, "Asia/Singapore"), "setSettlementSchedule", &struct{}{})
		var terms struct {
			DelayDays          int
			Timezone, Currency string
		}
		x.ok(t, x.gql("API_KEY", `{ settlementSchedule { delayDays timezone currency } }`, nil), "settlementSchedule", &terms)
		if terms.DelayDays != 1 || terms.Timezone != "Asia/Singapore" || terms.Currency != "SGD" {
			t.Fatalf("the merchant's terms: %+v", terms)
		}
		sgt, err := time.LoadLocation("Asia/Singapore")
		if err != nil {
			t.Fatal(err)
		}

		x.ok(t, x.gql("OPERATOR", `mutation($in: FeePlanInput!) { upsertFeePlan(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"merchantID": merchant, "paymentMethodType": "card", "percentBps": 290, "fixed": amountOf(30, "SGD"), "crossBorderBps": 100}}),
			"upsertFeePlan", &struct{}{})
		x.ok(t, x.gql("OPERATOR", `mutation($in: FeePlanInput!) { upsertFeePlan(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"merchantID": merchant, "percentBps": 200}}), "upsertFeePlan", &struct{}{})
		split := func(bps int) gqlResponse {
			return x.gql("OPERATOR", `mutation($in: SplitRuleInput!) { upsertSplitRule(input: $in) { id shares { partner bps } } }`,
				map[string]any{"in": map[string]any{"merchantID": merchant, "name": "referral", "basis": "FEE",
					"shares": []map[string]any{{"partner": "ptr_ref", "bps": bps}}, "residuePartner": "ptr_ref"}})
		}
		if r := split(10001); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("a split above 100%%: %s", r.Raw)
		}
		x.ok(t, split(2000), "upsertSplitRule", &struct{}{})
		var plan []struct {
			PaymentMethodType string
			PercentBps        int
			Fixed             *struct{ Amount string }
		}
		x.ok(t, x.gql("API_KEY", `{ feePlan { paymentMethodType percentBps fixed { amount } } }`, nil), "feePlan", &plan)
		if len(plan) != 2 || plan[0].Fixed == nil || plan[0].Fixed.Amount != "30" || plan[1].Fixed != nil {
			t.Fatalf("the merchant's fee plan: %+v", plan)
		}

		card := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(10000, "SGD"), "allowedMethods": []string{"CARD"}}), "4242424242424242", cvc3)
		if card.Status != "SUCCEEDED" {
			t.Fatalf("card payment %+v", card)
		}
		ws := x.open(t, map[string]any{"amount": amountOf(5000, "SGD"), "allowedMethods": []string{"WALLET"}})
		w := x.confirm(t, ws, map[string]any{"method": "WALLET", "walletFlow": "REDIRECT", "idempotencyKey": "settle-wallet"})
		buyer(t, w.NextAction.URL, url.Values{"action": {"approve"}})
		w = x.waitStatus(t, w.ID, "SUCCEEDED")
		var ref struct {
			Status      string
			FeeReversed struct{ Amount string }
		}
		x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": card.ID, "amount": amountOf(2500, "SGD"), "idempotencyKey": "settle-refund"}}), "refundPayment", &ref)
		if ref.Status != "SUCCEEDED" {
			t.Fatalf("refund %+v", ref)
		}
		if x.accountBalance(t, "MERCHANT", merchant, "PENDING", "SGD") == "0" {
			t.Fatal("nothing pending before the run")
		}
		// What the channels' costs took from pending, net of the refund's share.
		channelFees := atoi(t, x.payment(t, card.ID).Fee.Amount) + atoi(t, x.payment(t, w.ID).Fee.Amount) - atoi(t, ref.FeeReversed.Amount)
		feesBefore := atoi(t, x.accountBalance(t, "PLATFORM", "", "FEES", "SGD"))

		// A day in the future is refused …
		today := x.clock.Now().In(sgt).Format(time.DateOnly)
		future := x.clock.Now().In(sgt).AddDate(0, 0, 1).Format(time.DateOnly)
		if r := x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": merchant, "day": future}}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("a run for %s (the future): %s", future, r.Raw)
		}
		// … and a week later (T+1 business day, weekends included) they are.
		x.clock.Advance(7 * 24 * time.Hour)
		day := x.clock.Now().In(sgt).Format(time.DateOnly)
		var batch struct {
			ID, BusinessDate, Currency string
			LineCount                  int
		}
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": merchant, "day": day}}), "runSettlement", &batch)
		if batch.LineCount != 3 || batch.Currency != "SGD" || batch.BusinessDate != day || day == today {
			t.Fatalf("batch %+v", batch)
		}
		want := map[[3]string]int64{
			{"MERCHANT", merchant, "PENDING"}:   0,
			{"MERCHANT", merchant, "AVAILABLE"}: 9680 + 4900 - 2420,
			{"PARTNER", "ptr_ref", "AVAILABLE"}: 64 + 20 - 16,
		}
		check := func() {
			t.Helper()
			for k, v := range want {
				if got := x.accountBalance(t, k[0], k[1], k[2], "SGD"); got != strconv.FormatInt(v, 10) {
					t.Errorf("%v = %s, want %d", k, got, v)
				}
			}
			// The platform's fees: the channels' costs already there become
			// the MDR (320 + 100 − 80) less the splits (84), plus the
			// refund's clawback (16).
			if got := atoi(t, x.accountBalance(t, "PLATFORM", "", "FEES", "SGD")) - feesBefore; got != 320+100-80-84+16-channelFees {
				t.Errorf("platform fees moved by %d", got)
			}
			x.balanced(t)
		}
		check()

		// Running the day again changes nothing.
		var again struct{ ID string }
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": merchant, "day": day}}), "runSettlement", &again)
		if again.ID != batch.ID {
			t.Fatalf("re-run made batch %s, first %s", again.ID, batch.ID)
		}
		check()

		// The merchant reads its settlement, its lines and the CSV.
		var page struct {
			Edges []struct{ Node struct{ ID string } }
		}
		x.ok(t, x.gql("API_KEY", `{ settlements(first: 10) { edges { node { id } } } }`, nil), "settlements", &page)
		if len(page.Edges) != 1 || page.Edges[0].Node.ID != batch.ID {
			t.Fatalf("settlements %+v", page)
		}
		var one struct {
			CSV   string
			Lines struct {
				Edges []struct {
					Node struct {
						SourceKey          string
						Gross, MdrFee, Net struct{ Amount string }
						ChannelFee, Split  struct{ Amount string }
					}
				}
			}
		}
		x.ok(t, x.gql("API_KEY", `query($id: ID!) { settlement(id: $id) { csv lines(first: 10) { edges { node {
			sourceKey gross { amount } channelFee { amount } mdrFee { amount } split { amount } net { amount } } } } } }`,
			map[string]any{"id": batch.ID}), "settlement", &one)
		nets := map[string]string{}
		for _, e := range one.Lines.Edges {
			nets[strings.SplitN(e.Node.SourceKey, ":", 2)[1]+"/"+e.Node.Gross.Amount] = e.Node.Net.Amount + "/" + e.Node.MdrFee.Amount
		}
		if nets[card.ID+"/10000"] != "9680/320" || nets[w.ID+"/5000"] != "4900/100" || len(nets) != 3 {
			t.Fatalf("lines %+v", one.Lines)
		}
		if rows := strings.Split(strings.TrimSpace(one.CSV), "\n"); len(rows) != 4 || !strings.HasPrefix(rows[0], "line_id,source,") {
			t.Fatalf("csv %q", one.CSV)
		}

		// After the settlement, convertBalance works on the available
		// balance (at today's rates: the clock comes back).
		x.clock.Advance(-7 * 24 * time.Hour)
		var quote struct{ ID string }
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := x.gql("API_KEY", `mutation { createFxQuote(input: {baseCurrency: "SGD", quoteCurrency: "USD"}) { id } }`, nil)
			if len(r.Errors) == 0 {
				x.ok(t, r, "createFxQuote", &quote)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("createFxQuote: %s", r.Raw)
			}
			time.Sleep(100 * time.Millisecond) // the refresher's first pass
		}
		var conv struct {
			To struct{ Amount, Currency string }
		}
		x.ok(t, x.gql("API_KEY", `mutation($in: ConvertBalanceInput!) { convertBalance(input: $in) { to { amount currency } } }`,
			map[string]any{"in": map[string]any{"quoteID": quote.ID, "amount": amountOf(10000, "SGD"), "idempotencyKey": "after-settlement"}}),
			"convertBalance", &conv)
		if conv.To.Currency != "USD" || conv.To.Amount == "" || conv.To.Amount == "0" {
			t.Fatalf("conversion %+v", conv)
		}
		if got := x.accountBalance(t, "MERCHANT", merchant, "AVAILABLE", "SGD"); got != strconv.FormatInt(12160-10000, 10) {
			t.Fatalf("available SGD after converting 100.00: %s", got)
		}
	})
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	if s == "" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
