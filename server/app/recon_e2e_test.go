package app_test

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

const runReconciliation = `mutation($c: String!, $d: String!) { runReconciliation(connector: $c, day: $d) {
	id status businessDate linesRead counts { class count } } }`

const discrepancyFields = `id kind lineNo lineKey ourType ourID status resolution adjustmentEntryID
	expectedGross { amount currency } reportedGross { amount currency } reportedFee { amount }`

type reconRun struct {
	ID, Status, BusinessDate string
	LinesRead                int
	Counts                   []struct {
		Class string
		Count int
	}
}

func (r reconRun) count(class string) int {
	for _, c := range r.Counts {
		if c.Class == class {
			return c.Count
		}
	}
	return -1
}

type discrepancyView struct {
	ID, Kind, LineKey, OurType, OurID, Status, Resolution, AdjustmentEntryID string
	LineNo                                                                   *int
	ExpectedGross, ReportedGross                                             *struct{ Amount, Currency string }
}

// TestReconciliationFindsExactlyTheInjectedFaults: the operator prices
// cardnet as the sandbox does, then six card payments
// through the real cardnet plugin and the sandbox (10.00 to 60.00 SGD, so
// that the channel's 2.9 % + 0.30 fee is exact), a partial refund of the
// last, and a settlement of the day; a bank account verified by its two
// micro-deposits and a payout of 100.00 SGD through the real bank plugin;
// two payments of 70.00 and 80.00 SGD with the chargeback card, both
// charged back (15.00 SGD fee each). The sandbox's report faults are
// switched on for the day for both channels (sandbox/API.md); then
// runReconciliation over GraphQL.
//
// cardnet finds one discrepancy of each kind and nothing else: the first
// payment's gross raised (amount), the second's currency changed
// (currency), the third's fee raised (fee), the fourth listed twice
// (duplicate), the fifth left out (missing on theirs), a capture nobody
// made (missing on ours), a line with a bad net (malformed), and the first
// chargeback left out (missing on theirs: the dispute). The fourth and
// sixth payments, the refund, the chargeback card's captures and the second
// chargeback match, and their net reaches the platform's cash.
//
// bank: the first micro-deposit's amount lowered (amount mismatch against
// the account's first deposit), the payout left out (missing on theirs),
// the made-up capture and the malformed line; the second deposit matches
// and its cost reaches cash. The operator resolves the amount mismatch with
// an adjustment; running both days again changes nothing.
func TestReconciliationFindsExactlyTheInjectedFaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		awayFromMidnight(t)
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "bank"}})
		// Strait's price of the channel is the sandbox's (2.9 % + 0.30), so
		// that the fee Strait takes at capture is what the report says.
		x.ok(t, x.gql("OPERATOR", `mutation($in: UpdateConnectorSettingsInput!) { updateConnectorSettings(input: $in) { name } }`,
			map[string]any{"in": map[string]any{"name": "cardnet", "fees": []any{
				map[string]any{"currency": "SGD", "fixedAmount": 30, "basisPoints": 290}}}}), "updateConnectorSettings", &struct{}{})
		pay := func(minor int64, card string) payView {
			t.Helper()
			p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(minor, "SGD"), "allowedMethods": []string{"CARD"}}), card, cvc3)
			if p.Status != "SUCCEEDED" {
				t.Fatalf("payment of %d: %+v", minor, p)
			}
			return p
		}
		var pays []payView
		for i := 1; i <= 6; i++ {
			pays = append(pays, pay(int64(1000*i), "4242424242424242"))
		}
		var ref struct{ ID, Status string }
		x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": pays[5].ID, "amount": amountOf(1500, "SGD"), "idempotencyKey": "recon-refund"}}), "refundPayment", &ref)
		if ref.Status != "SUCCEEDED" {
			t.Fatalf("refund %+v", ref)
		}
		day := time.Now().UTC().Format(time.DateOnly)

		// The day settled (T+2 by default: a week on), so that there is
		// something to pay out; then back to the channels' day.
		x.clock.Advance(7 * 24 * time.Hour)
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": x.a.ID,
			"day": x.clock.Now().UTC().Format(time.DateOnly)}}), "runSettlement", &struct{}{})
		x.clock.Advance(-7 * 24 * time.Hour)

		// A bank account, verified by its micro-deposits, and a payout.
		var acc struct{ ID, Status string }
		x.ok(t, x.gql("MERCHANT_ADMIN", `mutation($in: AddBankAccountInput!) { addBankAccount(input: $in) { id status } }`,
			map[string]any{"in": map[string]any{"country": "SG", "currency": "SGD", "holderName": "Alpha Pte",
				"accountNumber": "12345678", "routingNumber": "7171"}}), "addBankAccount", &acc)
		// The bank's amounts, in the order Strait sent them (its record
		// of them is never shown): the report lists them in that order.
		var sent struct{ Data []struct{ Amount int64 } }
		channelGet(t, x.sb.URL(), "/bank/payouts?reference="+url.QueryEscape(acc.ID), &sent)
		row, err := db.Client.BankAccount.Get(viewer.SystemContext(context.Background()), acc.ID)
		if err != nil || len(sent.Data) != 2 || len(row.Deposits) != 2 ||
			row.Deposits[0]+row.Deposits[1] != sent.Data[0].Amount+sent.Data[1].Amount {
			t.Fatalf("micro-deposits %+v, Strait's %v: %v", sent, row, err)
		}
		deposit := map[string]int64{"verify1": row.Deposits[0], "verify2": row.Deposits[1]}
		x.ok(t, x.gql("MERCHANT_ADMIN", `mutation($in: VerifyBankAccountInput!) { verifyBankAccount(input: $in) { id status } }`,
			map[string]any{"in": map[string]any{"id": acc.ID, "amounts": []int64{deposit["verify1"], deposit["verify2"]}}}), "verifyBankAccount", &acc)
		var po payoutView
		x.ok(t, x.gql("API_KEY", `mutation($in: CreatePayoutInput!) { createPayout(input: $in) { `+payoutFields+` } }`,
			map[string]any{"in": map[string]any{"bankAccountID": acc.ID, "amount": amountOf(10000, "SGD"), "idempotencyKey": "recon-payout"}}),
			"createPayout", &po)
		x.waitPayout(t, po.ID, "PAID")

		// Two payments charged back, their disputes held in Strait.
		cbs := []payView{pay(7000, "4000000000000093"), pay(8000, "4000000000000093")}
		var disputes []string
		waitFor(t, "both chargebacks held", func() bool {
			disputes = disputes[:0]
			for _, p := range cbs {
				d, err := db.Client.Dispute.Query().Where(dispute.PaymentID(p.ID), dispute.StageEQ(dispute.StageCHARGEBACK)).Only(viewer.SystemContext(context.Background()))
				if err != nil {
					return false
				}
				disputes = append(disputes, d.ID)
			}
			return x.accountBalance(t, "MERCHANT", x.a.ID, "DISPUTE_HOLD", "SGD") == strconv.Itoa(7000+1500+8000+1500)
		})

		channelPost(t, x.sb.URL(), "/card/settlements/faults?date="+day)
		channelPost(t, x.sb.URL(), "/bank/settlements/faults?date="+day)
		cashBefore := atoi0(x.accountBalance(t, "PLATFORM", "", "CASH", "SGD"))

		type want struct {
			lines   int
			classes map[string]int
		}
		wants := map[string]want{
			// 8 captures + 1 refund + 2 chargebacks − 1 capture and 1
			// chargeback left out + 1 duplicate + 2 made up.
			"cardnet": {12, map[string]int{"MATCHED": 6, "MISSING_OURS": 1, "MISSING_THEIRS": 2, "AMOUNT_MISMATCH": 1,
				"CURRENCY_MISMATCH": 1, "FEE_MISMATCH": 1, "DUPLICATE": 1, "MALFORMED": 1}},
			// 2 deposits + 1 payout − the payout left out + 2 made up.
			"bank": {4, map[string]int{"MATCHED": 1, "MISSING_OURS": 1, "MISSING_THEIRS": 1, "AMOUNT_MISMATCH": 1, "MALFORMED": 1}},
		}
		check := func(conn string, r reconRun) {
			t.Helper()
			w := wants[conn]
			if r.Status != "SUCCEEDED" || r.BusinessDate != day || r.LinesRead != w.lines {
				t.Fatalf("%s run %+v", conn, r)
			}
			for _, c := range r.Counts {
				if c.Count != w.classes[c.Class] {
					t.Errorf("%s: %d %s, want %d (%+v)", conn, c.Count, c.Class, w.classes[c.Class], r.Counts)
				}
			}
		}
		runs := map[string]reconRun{}
		found := map[string]map[string]discrepancyView{} // connector → kind + " " + our type → discrepancy
		for _, conn := range []string{"cardnet", "bank"} {
			var run reconRun
			x.ok(t, x.gql("OPERATOR", runReconciliation, map[string]any{"c": conn, "d": day}), "runReconciliation", &run)
			check(conn, run)
			runs[conn] = run
			var ds []discrepancyView
			x.ok(t, x.gql("OPERATOR", `query($f: DiscrepanciesFilter) { discrepancies(filter: $f) { `+discrepancyFields+` } }`,
				map[string]any{"f": map[string]any{"runID": run.ID}}), "discrepancies", &ds)
			found[conn] = map[string]discrepancyView{}
			for _, d := range ds {
				found[conn][d.Kind+" "+d.OurType] = d
			}
			n := 0
			for c, k := range wants[conn].classes {
				if c != "MATCHED" {
					n += k
				}
			}
			if len(ds) != n || len(found[conn]) != n {
				t.Fatalf("%s discrepancies %+v", conn, ds)
			}
		}
		card, bank := found["cardnet"], found["bank"]
		for kind, pay := range map[string]string{"AMOUNT_MISMATCH": pays[0].ID, "CURRENCY_MISMATCH": pays[1].ID,
			"FEE_MISMATCH": pays[2].ID, "MISSING_THEIRS": pays[4].ID} {
			if d := card[kind+" capture"]; d.OurID != pay {
				t.Errorf("%s names %s %s, want capture %s", kind, d.OurType, d.OurID, pay)
			}
		}
		if d := card["AMOUNT_MISMATCH capture"]; d.ExpectedGross == nil || d.ExpectedGross.Amount != "1000" || d.ReportedGross.Amount != "1100" {
			t.Errorf("amount mismatch %+v", d)
		}
		if d := card["MISSING_OURS "]; d.OurID != "" || d.LineKey != "capture:cap_fault_unknown" {
			t.Errorf("missing on ours %+v", d)
		}
		// The first chargeback in the report's order, left out: one of the
		// two disputes (the sandbox may take both back in one tick, so
		// which comes first is its own order); the other one matched.
		missing := card["MISSING_THEIRS dispute"]
		k := slices.Index(disputes, missing.OurID)
		cbAmounts := []int64{7000, 8000}
		if k < 0 || missing.ExpectedGross == nil || missing.ExpectedGross.Amount != strconv.FormatInt(-cbAmounts[k], 10) {
			t.Fatalf("the chargeback missing on theirs %+v (disputes %v)", missing, disputes)
		}
		matchedCB := cbAmounts[1-k]
		// The bank: the first deposit lowered by 1.00, the payout left out.
		if d := bank["AMOUNT_MISMATCH payout"]; d.OurID != acc.ID+"-verify1" || d.ExpectedGross == nil ||
			d.ExpectedGross.Amount != strconv.FormatInt(-deposit["verify1"], 10) || d.ReportedGross.Amount != strconv.FormatInt(-deposit["verify1"]-100, 10) {
			t.Errorf("the deposit's amount mismatch %+v", d)
		}
		if d := bank["MISSING_THEIRS payout"]; d.OurID != po.ID || d.ExpectedGross == nil || d.ExpectedGross.Amount != "-10000" {
			t.Errorf("the payout missing on theirs %+v", d)
		}
		// Matched: 40.00 (fee 1.46), 60.00 (fee 2.04), the refund −15.00,
		// 70.00 (fee 2.33), 80.00 (fee 2.62); the other chargeback, with
		// its 15.00 fee, takes its amount + 15.00 back out of cash; the
		// second deposit and the bank's 5.00 fee on it leave cash too.
		cash := atoi0(x.accountBalance(t, "PLATFORM", "", "CASH", "SGD")) - cashBefore
		if want := -(4000 - 146 + 6000 - 204 - 1500 + 7000 - 233 + 8000 - 262) + matchedCB + 1500 + deposit["verify2"] + 500; cash != want {
			t.Errorf("cash moved by %d, want %d", cash, want)
		}
		x.balanced(t)

		// The operator resolves the amount mismatch: the channel reports a
		// dollar more than Strait captured, booked to suspense until the
		// channel explains it.
		resolve := `mutation($in: ResolveDiscrepancyInput!) { resolveDiscrepancy(input: $in) { ` + discrepancyFields + ` } }`
		suspense := atoi0(x.accountBalance(t, "PLATFORM", "", "SUSPENSE", "SGD"))
		in := map[string]any{"idempotencyKey": "resolve-1", "id": card["AMOUNT_MISMATCH capture"].ID, "reason": "channel overpaid; refund requested",
			"adjustment": amountOf(-100, "SGD")}
		var resolved discrepancyView
		x.ok(t, x.gql("OPERATOR", resolve, map[string]any{"in": in}), "resolveDiscrepancy", &resolved)
		if resolved.Status != "RESOLVED" || resolved.AdjustmentEntryID == "" {
			t.Fatalf("resolved %+v", resolved)
		}
		if s := atoi0(x.accountBalance(t, "PLATFORM", "", "SUSPENSE", "SGD")); s != suspense+100 {
			t.Errorf("suspense %d, want %d", s, suspense+100)
		}
		if r := x.gql("OPERATOR", resolve, map[string]any{"in": map[string]any{"idempotencyKey": "resolve-2",
			"id": card["AMOUNT_MISMATCH capture"].ID, "reason": "something else"}}); r.code() != "CONFLICT" {
			t.Errorf("a second resolution: %s", r.Raw)
		}
		if r := x.gql("OPERATOR", resolve, map[string]any{"in": map[string]any{"idempotencyKey": "resolve-3",
			"id": card["FEE_MISMATCH capture"].ID, "reason": ""}}); r.code() != "BAD_USER_INPUT" {
			t.Errorf("no reason: %s", r.Raw)
		}

		// Running the days again changes nothing.
		cash = atoi0(x.accountBalance(t, "PLATFORM", "", "CASH", "SGD"))
		entries := x.counts(t).Entries
		for conn, first := range runs {
			var again reconRun
			x.ok(t, x.gql("OPERATOR", runReconciliation, map[string]any{"c": conn, "d": day}), "runReconciliation", &again)
			check(conn, again)
			if again.ID != first.ID {
				t.Errorf("%s: the re-run made run %s, first %s", conn, again.ID, first.ID)
			}
			var after []discrepancyView
			x.ok(t, x.gql("OPERATOR", `query($f: DiscrepanciesFilter) { discrepancies(filter: $f) { `+discrepancyFields+` } }`,
				map[string]any{"f": map[string]any{"runID": first.ID}}), "discrepancies", &after)
			open := 0
			for _, d := range after {
				if d.Status == "OPEN" {
					open++
				}
			}
			if len(after) != len(found[conn]) || conn == "cardnet" && open != len(after)-1 || conn == "bank" && open != len(after) {
				t.Errorf("%s after the re-run: %d discrepancies, %d open", conn, len(after), open)
			}
		}
		if got := atoi0(x.accountBalance(t, "PLATFORM", "", "CASH", "SGD")); got != cash {
			t.Errorf("the re-runs moved cash by %d", got-cash)
		}
		if n := x.counts(t).Entries; n != entries {
			t.Errorf("the re-runs posted %d entries", n-entries)
		}
		var listed []reconRun
		x.ok(t, x.gql("OPERATOR", `{ reconciliationRuns(connector: "cardnet") { id status businessDate linesRead counts { class count } } }`, nil),
			"reconciliationRuns", &listed)
		if len(listed) != 1 || listed[0].ID != runs["cardnet"].ID {
			t.Errorf("runs %+v", listed)
		}
		if r := x.gql("API_KEY", `{ reconciliationRuns { id } }`, nil); r.code() != "FORBIDDEN" {
			t.Errorf("a merchant reads runs: %s", r.Raw)
		}
		if r := x.gql("OPERATOR", runReconciliation, map[string]any{"c": "cardnet", "d": time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)}); r.code() != "BAD_USER_INPUT" {
			t.Errorf("a future day: %s", r.Raw)
		}
		x.balanced(t)
	})
}

// atoi0 reads a balance, "" (no account yet) as 0.
func atoi0(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
