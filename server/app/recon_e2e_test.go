package app_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/sandbox"
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

// channelPost POSTs to a sandbox API path with no body.
func channelPost(t *testing.T, base, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s %s", path, resp.Status, b)
	}
}

// TestReconciliationFindsExactlyTheInjectedFaults: the operator prices
// cardnet as the sandbox does, then six card payments
// through the real cardnet plugin and the sandbox (10.00 to 60.00 SGD, so
// that the channel's 2.9 % + 0.30 fee is exact), a partial refund of the
// last; the sandbox's report faults switched on for the day
// (sandbox/API.md); then runReconciliation over GraphQL. It finds one
// discrepancy of each kind and nothing else: the first payment's gross
// raised (amount), the second's currency changed (currency), the third's
// fee raised (fee), the fourth listed twice (duplicate), the fifth left out
// (missing on theirs), a capture nobody made (missing on ours) and a line
// with a bad net (malformed). The fourth and sixth payments and the refund
// match, and their net reaches the platform's cash. The operator resolves
// the amount mismatch with an adjustment; running the day again changes
// nothing.
func TestReconciliationFindsExactlyTheInjectedFaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		// Strait's price of the channel is the sandbox's (2.9 % + 0.30), so
		// that the fee Strait takes at capture is what the report says.
		x.ok(t, x.gql("OPERATOR", `mutation($in: UpdateConnectorSettingsInput!) { updateConnectorSettings(input: $in) { name } }`,
			map[string]any{"in": map[string]any{"name": "cardnet", "fees": []any{
				map[string]any{"currency": "SGD", "fixedAmount": 30, "basisPoints": 290}}}}), "updateConnectorSettings", &struct{}{})
		var pays []payView
		for i := 1; i <= 6; i++ {
			p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(int64(1000*i), "SGD"), "allowedMethods": []string{"CARD"}}),
				"4242424242424242", cvc3)
			if p.Status != "SUCCEEDED" {
				t.Fatalf("payment %d: %+v", i, p)
			}
			pays = append(pays, p)
		}
		var ref struct{ ID, Status string }
		x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": pays[5].ID, "amount": amountOf(1500, "SGD"), "idempotencyKey": "recon-refund"}}), "refundPayment", &ref)
		if ref.Status != "SUCCEEDED" {
			t.Fatalf("refund %+v", ref)
		}
		day := time.Now().UTC().Format(time.DateOnly)
		channelPost(t, x.sb.URL(), "/card/settlements/faults?date="+day)
		cashBefore := atoi0(x.accountBalance(t, "PLATFORM", "", "CASH", "SGD"))

		var run reconRun
		x.ok(t, x.gql("OPERATOR", runReconciliation, map[string]any{"c": "cardnet", "d": day}), "runReconciliation", &run)
		want := map[string]int{"MATCHED": 3, "MISSING_OURS": 1, "MISSING_THEIRS": 1, "AMOUNT_MISMATCH": 1,
			"CURRENCY_MISMATCH": 1, "FEE_MISMATCH": 1, "DUPLICATE": 1, "MALFORMED": 1}
		check := func(r reconRun) {
			t.Helper()
			// 6 captures + 1 refund − 1 left out + 1 duplicate + 2 made up.
			if r.Status != "SUCCEEDED" || r.BusinessDate != day || r.LinesRead != 9 {
				t.Fatalf("run %+v", r)
			}
			for class, n := range want {
				if got := r.count(class); got != n {
					t.Errorf("%s: %d, want %d (%+v)", class, got, n, r.Counts)
				}
			}
		}
		check(run)

		var ds []discrepancyView
		x.ok(t, x.gql("OPERATOR", `query($f: DiscrepanciesFilter) { discrepancies(filter: $f) { `+discrepancyFields+` } }`,
			map[string]any{"f": map[string]any{"runID": run.ID}}), "discrepancies", &ds)
		byKind := map[string]discrepancyView{}
		for _, d := range ds {
			byKind[d.Kind] = d
		}
		if len(ds) != 7 || len(byKind) != 7 {
			t.Fatalf("discrepancies %+v", ds)
		}
		for kind, pay := range map[string]string{"AMOUNT_MISMATCH": pays[0].ID, "CURRENCY_MISMATCH": pays[1].ID,
			"FEE_MISMATCH": pays[2].ID, "MISSING_THEIRS": pays[4].ID} {
			if d := byKind[kind]; d.OurType != "capture" || d.OurID != pay {
				t.Errorf("%s names %s %s, want capture %s", kind, d.OurType, d.OurID, pay)
			}
		}
		if d := byKind["AMOUNT_MISMATCH"]; d.ExpectedGross == nil || d.ExpectedGross.Amount != "1000" || d.ReportedGross.Amount != "1100" {
			t.Errorf("amount mismatch %+v", d)
		}
		if d := byKind["MISSING_OURS"]; d.OurID != "" || d.LineKey != "capture:cap_fault_unknown" {
			t.Errorf("missing on ours %+v", d)
		}
		// Matched: 40.00 (fee 1.46), 60.00 (fee 2.04), the refund −15.00.
		cash := atoi0(x.accountBalance(t, "PLATFORM", "", "CASH", "SGD")) - cashBefore
		if cash != -(4000 - 146 + 6000 - 204 - 1500) {
			t.Errorf("cash moved by %d", cash)
		}
		x.balanced(t)

		// The operator resolves the amount mismatch: the channel reports a
		// dollar more than Strait captured, booked to suspense until the
		// channel explains it.
		resolve := `mutation($in: ResolveDiscrepancyInput!) { resolveDiscrepancy(input: $in) { ` + discrepancyFields + ` } }`
		in := map[string]any{"idempotencyKey": "resolve-1", "id": byKind["AMOUNT_MISMATCH"].ID, "reason": "channel overpaid; refund requested",
			"adjustment": amountOf(-100, "SGD")}
		var resolved discrepancyView
		x.ok(t, x.gql("OPERATOR", resolve, map[string]any{"in": in}), "resolveDiscrepancy", &resolved)
		if resolved.Status != "RESOLVED" || resolved.AdjustmentEntryID == "" {
			t.Fatalf("resolved %+v", resolved)
		}
		if s := x.accountBalance(t, "PLATFORM", "", "SUSPENSE", "SGD"); s != "100" {
			t.Errorf("suspense %s, want 100", s)
		}
		if r := x.gql("OPERATOR", resolve, map[string]any{"in": map[string]any{"idempotencyKey": "resolve-2",
			"id": byKind["AMOUNT_MISMATCH"].ID, "reason": "something else"}}); r.code() != "CONFLICT" {
			t.Errorf("a second resolution: %s", r.Raw)
		}
		if r := x.gql("OPERATOR", resolve, map[string]any{"in": map[string]any{"idempotencyKey": "resolve-3",
			"id": byKind["FEE_MISMATCH"].ID, "reason": ""}}); r.code() != "BAD_USER_INPUT" {
			t.Errorf("no reason: %s", r.Raw)
		}

		// Running the day again changes nothing.
		var again reconRun
		x.ok(t, x.gql("OPERATOR", runReconciliation, map[string]any{"c": "cardnet", "d": day}), "runReconciliation", &again)
		check(again)
		if again.ID != run.ID {
			t.Errorf("the re-run made run %s, first %s", again.ID, run.ID)
		}
		if got := atoi0(x.accountBalance(t, "PLATFORM", "", "CASH", "SGD")) - cashBefore; got != cash {
			t.Errorf("the re-run moved cash by %d", got-cash)
		}
		var after []discrepancyView
		x.ok(t, x.gql("OPERATOR", `query($f: DiscrepanciesFilter) { discrepancies(filter: $f) { `+discrepancyFields+` } }`,
			map[string]any{"f": map[string]any{"runID": run.ID}}), "discrepancies", &after)
		open := 0
		for _, d := range after {
			if d.Status == "OPEN" {
				open++
			}
		}
		if len(after) != 7 || open != 6 {
			t.Errorf("after the re-run: %d discrepancies, %d open", len(after), open)
		}
		var runs []reconRun
		x.ok(t, x.gql("OPERATOR", `{ reconciliationRuns(connector: "cardnet") { id status businessDate linesRead counts { class count } } }`, nil),
			"reconciliationRuns", &runs)
		if len(runs) != 1 || runs[0].ID != run.ID {
			t.Errorf("runs %+v", runs)
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
