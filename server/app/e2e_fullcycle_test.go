package app_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/channels"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/sandbox"
)

// acct names a ledger account as the operator's accounts query shows it;
// the platform's accounts have no owner id here.
type acct struct{ owner, id, kind, cur string }

func (a acct) String() string { return a.owner + "/" + a.id + "/" + a.kind + "/" + a.cur }

// posting is one movement the test expects, in minor units of the account's
// currency (positive: the platform owes the owner more).
type posting struct {
	to  acct
	amt int64
}

// book is the ledger as the test computes it by hand: every posting it
// expects, summed per account.
type book map[acct]int64

// post adds an entry's postings, which must balance per currency.
func (b book) post(t *testing.T, what string, ps ...posting) {
	t.Helper()
	net := map[string]int64{}
	for _, p := range ps {
		b[p.to] += p.amt
		net[p.to.cur] += p.amt
	}
	for cur, n := range net {
		if n != 0 {
			t.Fatalf("the test's own entry %q does not balance in %s: %d", what, cur, n)
		}
	}
}

// tally sums, per currency, the negative postings (as a positive amount)
// and the positive ones: a day's debits and credits.
type tally map[string][2]int64

func (tl tally) add(ps ...posting) {
	for _, p := range ps {
		v := tl[p.to.cur]
		if p.amt < 0 {
			v[0] -= p.amt
		} else {
			v[1] += p.amt
		}
		tl[p.to.cur] = v
	}
}

// ledgerBalances reads every ledger account's balance as the operator sees
// it, leaving out zero balances.
func (x *e2e) ledgerBalances(t *testing.T) book {
	t.Helper()
	out := book{}
	after := any(nil)
	for {
		var page struct {
			Edges []struct {
				Node struct {
					OwnerType, OwnerID, Kind, Currency string
					Balance                            struct{ Amount string }
				}
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		x.ok(t, x.gql("OPERATOR", `query($after: Cursor) { accounts(first: 100, after: $after) {
			edges { node { ownerType ownerID kind currency balance { amount } } } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"after": after}), "accounts", &page)
		for _, e := range page.Edges {
			n := e.Node
			if n.OwnerType == "PLATFORM" {
				n.OwnerID = ""
			}
			if v := atoi(t, n.Balance.Amount); v != 0 {
				out[acct{n.OwnerType, n.OwnerID, n.Kind, n.Currency}] = v
			}
		}
		if !page.PageInfo.HasNextPage {
			return out
		}
		after = page.PageInfo.EndCursor
	}
}

// matches fails t unless Strait's ledger holds exactly the balances of b:
// every account b names at its figure, and no other account off zero.
func (x *e2e) matches(t *testing.T, step string, b book) {
	t.Helper()
	got := x.ledgerBalances(t)
	var keys []acct
	for k := range b {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b acct) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		if got[k] != b[k] {
			t.Errorf("after %s: %s = %d, the hand-computed figure is %d", step, k, got[k], b[k])
		}
	}
	x.balanced(t)
}

// TestSettlementFullCycleDay is the full cycle of docs/settlement.md over
// GraphQL: one day of card, wallet and bank payments in SGD, USD and JPY
// through the real cardnet, wallet and bank plugins and the sandbox, a
// partial and a full refund; then a week later the merchant's settlement
// run, with its fee plan, its split rule and the conversion of the USD and
// JPY into SGD at a locked quote, run twice; then convertBalance on what
// settled. After every step the whole ledger is compared, account by
// account, with a book the test keeps by hand from the documented rules
// (docs/payments.md's capture and refund postings, docs/settlement.md's
// settlement postings, docs/money.md's rounding rule). No expected figure
// is read from Strait.
//
// The FX agency is a second sandbox that runs on the test's clock with its
// fixed rate table (no drift), so that the rates of the settlement day are
// known: USD/SGD 1.3475 and JPY/SGD 1.3475 / 151.42 = 0.0088990886 (ten
// places). The channels stay on the real clock, so that their signed
// webhooks are fresh.
func TestSettlementFullCycleDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &offsetClock{}
		agency, err := sandbox.Start(sandbox.Config{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { agency.Close() })
		awayFromMidnight(t)
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "wallet", "bank", "fx"},
			channelURL: map[string]string{"fx": agency.URL()}, clock: clock})
		m := x.a.ID
		// The accounts the day moves.
		pending := func(cur string) acct { return acct{"MERCHANT", m, "PENDING", cur} }
		available := func(cur string) acct { return acct{"MERCHANT", m, "AVAILABLE", cur} }
		fees := func(cur string) acct { return acct{"PLATFORM", "", "FEES", cur} }
		fxAcct := func(cur string) acct { return acct{"PLATFORM", "", "FX", cur} }
		receivable := func(conn, cur string) acct { return acct{"CHANNEL", conn, "RECEIVABLE", cur} }
		partner := func(cur string) acct { return acct{"PARTNER", "ptr_ref", "AVAILABLE", cur} }
		ledger := book{}

		// ---- The operator's terms. ----
		// What each channel charges the platform, as the sandbox charges
		// (sandbox/API.md's settlement report): card 2.9 % + 0.30 major
		// units (0.30 JPY is nothing), wallet 2.5 %, bank transfers 0.5 %.
		// Strait rounds a channel's percentage up and the sandbox half up;
		// every amount below makes it exact, so both agree.
		priceChannel := func(name string, fees ...map[string]any) {
			x.ok(t, x.gql("OPERATOR", `mutation($in: UpdateConnectorSettingsInput!) { updateConnectorSettings(input: $in) { name } }`,
				map[string]any{"in": map[string]any{"name": name, "fees": fees}}), "updateConnectorSettings", &struct{}{})
		}
		fee := func(cur string, fixed, bps int) map[string]any {
			return map[string]any{"currency": cur, "fixedAmount": fixed, "basisPoints": bps}
		}
		priceChannel("cardnet", fee("SGD", 30, 290), fee("USD", 30, 290), fee("JPY", 0, 290))
		priceChannel("wallet", fee("SGD", 0, 250), fee("USD", 0, 250), fee("JPY", 0, 250))
		priceChannel("bank", fee("SGD", 0, 50), fee("USD", 0, 50), fee("JPY", 0, 50))

		// Merchant A settles in SGD, T+1 business day in Singapore. Its
		// fee plan: cards 2.9 % + 0.30 SGD, anything else 3 %, both with
		// a 1 % cross-border surcharge on payments not in SGD; a referrer
		// gets 20 % of every fee.
		x.ok(t, x.gql("OPERATOR", `mutation($in: SettlementScheduleInput!) { setSettlementSchedule(input: $in) { delayDays } }`,
			map[string]any{"in": map[string]any{"merchantID": m, "delayDays": 1, "timezone": "Asia/Singapore"}}),
			"setSettlementSchedule", &struct{}{})
		for _, line := range []map[string]any{
			{"merchantID": m, "paymentMethodType": "card", "percentBps": 290, "fixed": amountOf(30, "SGD"), "crossBorderBps": 100},
			{"merchantID": m, "percentBps": 300, "crossBorderBps": 100},
		} {
			x.ok(t, x.gql("OPERATOR", `mutation($in: FeePlanInput!) { upsertFeePlan(input: $in) { id } }`,
				map[string]any{"in": line}), "upsertFeePlan", &struct{}{})
		}
		x.ok(t, x.gql("OPERATOR", `mutation($in: SplitRuleInput!) { upsertSplitRule(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"merchantID": m, "name": "referral", "basis": "FEE",
				"shares": []map[string]any{{"partner": "ptr_ref", "bps": 2000}}, "residuePartner": "ptr_ref"}}),
			"upsertSplitRule", &struct{}{})

		// ---- The day's payments. ----
		// capture posts (docs/payments.md): receivable −A, pending +(A − F),
		// fees +F, with F the channel's price.
		day := tally{} // the capture day's postings
		capture := func(conn, cur string, a, f int64) {
			ps := []posting{{receivable(conn, cur), -a}, {pending(cur), a - f}, {fees(cur), f}}
			ledger.post(t, "capture", ps...)
			day.add(ps...)
		}
		// refund posts receivable +R, pending −(R − f), fees −f, with f
		// the channel's price returned pro rata.
		refund := func(conn, cur string, r, f int64) {
			ps := []posting{{receivable(conn, cur), r}, {pending(cur), -(r - f)}, {fees(cur), -f}}
			ledger.post(t, "refund", ps...)
			day.add(ps...)
		}
		card := func(minor int64, cur string) payView {
			t.Helper()
			p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(minor, cur), "allowedMethods": []string{"CARD"}}), "4242424242424242", cvc3)
			if p.Status != "SUCCEEDED" || p.Connector != "cardnet" {
				t.Fatalf("card payment %+v", p)
			}
			return p
		}
		wallet := func(minor int64, cur string) payView {
			t.Helper()
			s := x.open(t, map[string]any{"amount": amountOf(minor, cur), "allowedMethods": []string{"WALLET"}})
			p := x.confirm(t, s, map[string]any{"method": "WALLET", "walletFlow": "REDIRECT", "idempotencyKey": "cycle-wallet-" + cur})
			if p.NextAction == nil || p.Connector != "wallet" {
				t.Fatalf("wallet payment %+v", p)
			}
			buyer(t, p.NextAction.URL, url.Values{"action": {"approve"}})
			return x.waitStatus(t, p.ID, "SUCCEEDED")
		}

		// 1. Card, 100.00 SGD: cardnet's price 2.9 % + 0.30 = 2.90 + 0.30 = 3.20.
		cardSGD := card(10000, "SGD")
		capture("cardnet", "SGD", 10000, 290+30)
		// 2. Card, 200.00 USD: 5.80 + 0.30 = 6.10.
		card(20000, "USD")
		capture("cardnet", "USD", 20000, 580+30)
		// 3. Wallet, 50.00 SGD: 2.5 % = 1.25.
		walletSGD := wallet(5000, "SGD")
		capture("wallet", "SGD", 5000, 125)
		// 4. Wallet, 5,000 JPY: 2.5 % = 125 JPY.
		wallet(5000, "JPY")
		capture("wallet", "JPY", 5000, 125)
		// 5. Bank transfer, 250.00 SGD: 0.5 % = 1.25.
		s := x.open(t, map[string]any{"amount": amountOf(25000, "SGD"), "allowedMethods": []string{"BANK_TRANSFER"}})
		bankSGD := x.confirm(t, s, map[string]any{"method": "BANK_TRANSFER", "idempotencyKey": "cycle-transfer"})
		if bankSGD.NextAction == nil || bankSGD.Connector != "bank" {
			t.Fatalf("bank transfer %+v", bankSGD)
		}
		buyer(t, bankSGD.NextAction.URL, url.Values{"amount": {"25000"}, "payer_name": {"Grace"}})
		x.waitStatus(t, bankSGD.ID, "SUCCEEDED")
		capture("bank", "SGD", 25000, 125)

		// 6. A partial refund: 25.00 SGD of the card payment; its share of
		// the channel's price ⌊320 · 2500 / 10000⌋ = 0.80 comes back.
		refundOf := func(p payView, minor int64, cur, key string) {
			t.Helper()
			var ref struct{ ID, Status string }
			x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
				"id": p.ID, "amount": amountOf(minor, cur), "idempotencyKey": key}}), "refundPayment", &ref)
			if ref.Status == "FAILED" || ref.Status == "" {
				t.Fatalf("refund of %s: %+v", p.ID, ref)
			}
			deadline := time.Now().Add(15 * time.Second)
			for x.payment(t, p.ID).AmountRefunded.Amount != itoa(minor) {
				if time.Now().After(deadline) {
					t.Fatalf("refund %s of %s not done: %+v", ref.ID, p.ID, x.payment(t, p.ID))
				}
				time.Sleep(25 * time.Millisecond)
			}
		}
		refundOf(cardSGD, 2500, "SGD", "cycle-refund-partial")
		refund("cardnet", "SGD", 2500, 80)
		// 7. A full refund: the 50.00 SGD wallet payment; all of its 1.25
		// comes back.
		refundOf(walletSGD, 5000, "SGD", "cycle-refund-full")
		refund("wallet", "SGD", 5000, 125)

		x.matches(t, "the day's payments", ledger)
		atDayEnd := maps.Clone(ledger)
		cycle := fullCycle{x: x, ledger: ledger, m: m, day: x.clock.Now().UTC().Format(time.DateOnly)}

		// ---- A week later: the settlement run. ----
		// The run's day is the capture day in Singapore plus seven days; the
		// clock moves to 00:05 UTC of it (08:05 in Singapore), five minutes
		// after the agency's fixed rates of that day are published.
		sgt, err := time.LoadLocation("Asia/Singapore")
		if err != nil {
			t.Fatal(err)
		}
		captured := x.clock.Now().In(sgt)
		runDay := time.Date(captured.Year(), captured.Month(), captured.Day()+7, 0, 5, 0, 0, time.UTC)
		runOn := runDay.Format(time.DateOnly)
		x.clock.Advance(runDay.Sub(x.clock.Now()))
		// strait serve's refresher fetches every five minutes; the test runs
		// the same pass now rather than wait for it.
		refresher := fx.NewService(x.db.Client, x.app.Ledger, fx.Config{
			Source: channels.NewRateSource(x.app.Connectors, "fx"), Pairs: channels.Pairs([]string{"USD", "JPY", "SGD"}), Now: x.clock.Now})
		if n, err := refresher.RefreshRates(context.Background()); err != nil || n != 3 {
			t.Fatalf("refreshing the day's rates: %d, %v", n, err)
		}

		var batch struct {
			ID, BusinessDate, Currency string
			LineCount                  int
		}
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": m, "day": runOn}}), "runSettlement", &batch)
		// Five captures and two refunds.
		if batch.LineCount != 7 || batch.Currency != "SGD" || batch.BusinessDate != runOn {
			t.Fatalf("batch %+v", batch)
		}
		// Each line (docs/settlement.md, "Postings"), with g the gross, c
		// the channel's price taken at capture, m the MDR and sf the
		// referrer's 20 % of m (floored): pending −(g − c), fees
		// +(m − c) − sf, partner +sf, available +(g − m). A refund returns
		// m pro rata, and claws the referrer's share back pro rata
		// (docs/settlement.md, "Split rules"): ⌊s·(before+r)/A⌋ −
		// ⌊s·before/A⌋ of the capture's share s, back to the fees.
		settle := func(cur string, g, c, mdr, sf int64) {
			ledger.post(t, "settlement line", posting{pending(cur), -(g - c)}, posting{fees(cur), (mdr - c) - sf},
				posting{partner(cur), sf}, posting{available(cur), g - mdr})
		}
		// card 100.00 SGD: m = 2.9 % + 0.30 = 2.90 + 0.30 = 3.20 (no
		// cross-border: SGD is the settlement currency); sf = 0.64.
		settle("SGD", 10000, 320, 320, 64)
		// card 200.00 USD: m = 2.9 % + 1 % cross-border = 5.80 + 2.00 =
		// 7.80 (the 0.30 is charged only on SGD payments); sf = 1.56.
		settle("USD", 20000, 610, 780, 156)
		// wallet 50.00 SGD: m = 3 % = 1.50; sf = 0.30.
		settle("SGD", 5000, 125, 150, 30)
		// wallet 5,000 JPY: m = 3 % + 1 % = 150 + 50 = 200 JPY; sf = 40.
		settle("JPY", 5000, 125, 200, 40)
		// bank 250.00 SGD: m = 3 % = 7.50; sf = 1.50.
		settle("SGD", 25000, 125, 750, 150)
		// refund 25.00 SGD of the card: m back ⌊320 · 2500 / 10000⌋ = 0.80;
		// the referrer's 0.64 clawed back ⌊64 · 2500 / 10000⌋ = 0.16.
		settle("SGD", -2500, -80, -80, -16)
		// refund 50.00 SGD of the wallet: all of m, 1.50, back, and all of
		// the referrer's 0.30.
		settle("SGD", -5000, -125, -150, -30)
		// The USD and JPY nets, now available, convert into SGD at a quote
		// locked at the run: the mid rate less the 50 bp margin, rounded
		// once, half away from zero.
		convert := func(from string, net, to int64) {
			ledger.post(t, "settlement conversion", posting{available(from), -net}, posting{fxAcct(from), net},
				posting{fxAcct("SGD"), -to}, posting{available("SGD"), to})
		}
		// 192.20 USD (200.00 − 7.80) at 1.3475 × 0.995 = 1.3407625:
		// 257.6945525 SGD → 257.69.
		convert("USD", 19220, 25769)
		// 4,800 JPY (5,000 − 200) at 0.0088990886 × 0.995 = 0.008854593157:
		// 42.5020471536 SGD → 42.50.
		convert("JPY", 4800, 4250)
		// So: pending is empty; available 96.80 − 24.20 + 48.50 − 48.50 +
		// 242.50 + 257.69 + 42.50 = 615.29 SGD; the referrer 0.64 + 0.30 +
		// 1.50 − 0.16 − 0.30 = 1.98 SGD, 1.56 USD, 40 JPY.
		if ledger[available("SGD")] != 61529 || ledger[pending("SGD")] != 0 || ledger[partner("SGD")] != 198 {
			t.Fatalf("the test's own arithmetic: available %d, pending %d", ledger[available("SGD")], ledger[pending("SGD")])
		}
		x.matches(t, "the settlement run", ledger)

		// Running the day again, or a day earlier, moves nothing: the same
		// batch, the same ledger, no new entry.
		entries := x.counts(t).Entries
		var again struct{ ID string }
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": m, "day": runOn}}), "runSettlement", &again)
		if again.ID != batch.ID {
			t.Fatalf("the re-run made batch %s, the first %s", again.ID, batch.ID)
		}
		if n := x.counts(t).Entries; n != entries {
			t.Fatalf("the re-run posted %d entries", n-entries)
		}
		x.matches(t, "the settlement run again", ledger)

		// ---- The day-end close of the capture day. ----
		frozen := cycle.closeStep(t, atDayEnd, day)

		// ---- convertBalance on what settled (docs/money.md). ----
		// SGD/USD is the inverse of the stored USD/SGD, to 18 significant
		// digits: 1 / 1.3475 = 0.742115027829313544; less 50 bp,
		// 0.73840445269016697628. 100.00 SGD buys 73.840445… → 73.84 USD.
		var quote struct{ ID, BaseRate, Rate string }
		x.ok(t, x.gql("API_KEY", `mutation { createFxQuote(input: {baseCurrency: "SGD", quoteCurrency: "USD"}) { id baseRate rate } }`, nil),
			"createFxQuote", &quote)
		if quote.BaseRate != "0.742115027829313544" || quote.Rate != "0.73840445269016697628" {
			t.Fatalf("quote %+v", quote)
		}
		var conv struct {
			To struct{ Amount, Currency string }
		}
		x.ok(t, x.gql("API_KEY", `mutation($in: ConvertBalanceInput!) { convertBalance(input: $in) { to { amount currency } } }`,
			map[string]any{"in": map[string]any{"quoteID": quote.ID, "amount": amountOf(10000, "SGD"), "idempotencyKey": "cycle-convert"}}),
			"convertBalance", &conv)
		if conv.To.Amount != "7384" || conv.To.Currency != "USD" {
			t.Fatalf("conversion %+v", conv)
		}
		ledger.post(t, "convertBalance", posting{available("SGD"), -10000}, posting{fxAcct("SGD"), 10000},
			posting{fxAcct("USD"), -7384}, posting{available("USD"), 7384})
		x.matches(t, "convertBalance", ledger)
		// The conversion is one event, and its key replayed writes none.
		x.ok(t, x.gql("API_KEY", `mutation($in: ConvertBalanceInput!) { convertBalance(input: $in) { to { amount currency } } }`,
			map[string]any{"in": map[string]any{"quoteID": quote.ID, "amount": amountOf(10000, "SGD"), "idempotencyKey": "cycle-convert"}}),
			"convertBalance", &conv)
		var conversions struct {
			Edges []struct{ Node struct{ Type string } }
		}
		x.ok(t, x.gql("MERCHANT_ADMIN", `{ events(first: 10, filter: {type: "fx."}) { edges { node { type } } } }`, nil), "events", &conversions)
		if len(conversions.Edges) != 1 || conversions.Edges[0].Node.Type != "fx.conversion_completed" {
			t.Errorf("fx events after a conversion and its replay = %+v, want one fx.conversion_completed", conversions.Edges)
		}
		x.matches(t, "convertBalance replayed", ledger)

		// ---- A payout of what settled. ----
		deposits := cycle.payoutStep(t)

		// ---- Reconciliation of the capture day, every channel. ----
		cycle.reconStep(t, deposits)

		// Later postings leave the closed day as it was frozen.
		if again := cycle.closedDay(t); again != frozen {
			t.Fatalf("the closed day changed: %s, frozen as %s", again, frozen)
		}
		x.noCardData(t)
	})
}

// awayFromMidnight waits, when a UTC day is about to end, until it has: the
// test's payments must share one UTC day (the channels' report day).
func awayFromMidnight(t *testing.T) {
	t.Helper()
	now := time.Now().UTC()
	next := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	if wait := next.Sub(now); wait < 2*time.Minute {
		t.Logf("waiting %s for the UTC day to turn", wait.Round(time.Second))
		time.Sleep(wait + time.Second)
	}
}

// fullCycle is what the full-cycle test's later steps share: the ledger as
// the test keeps it, the merchant, and the UTC day of the payments.
type fullCycle struct {
	x      *e2e
	ledger book
	m      string
	day    string // the capture day, UTC: the channels' report day
}

// payoutStep: the merchant registers a bank account, verifies it with the
// micro-deposits the bank sent, and pays 500.00 SGD of its available
// balance out through the bank plugin; the sandbox bank pays it and its
// event moves the payout to PAID. Postings (docs/settlement.md, "Payouts"):
// at the request available −500.00 and in transit +500.00; when paid in
// transit −500.00 and the bank's receivable +500.00. It returns the
// micro-deposits' amounts (the bank's, random).
func (c fullCycle) payoutStep(t *testing.T) []int64 {
	x := c.x
	var acc struct{ ID, Status string }
	x.ok(t, x.gql("MERCHANT_ADMIN", `mutation($in: AddBankAccountInput!) { addBankAccount(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"country": "SG", "currency": "SGD", "holderName": "Alpha Pte",
			"accountNumber": "12345678", "routingNumber": "7171"}}), "addBankAccount", &acc)
	var deposits struct{ Data []struct{ Amount int64 } }
	channelGet(t, x.sb.URL(), "/bank/payouts?reference="+url.QueryEscape(acc.ID), &deposits)
	if len(deposits.Data) != 2 {
		t.Fatalf("micro-deposits to %s: %+v", acc.ID, deposits)
	}
	// The deposits (their amounts are the bank's, random) are the
	// platform's cost: each posts platform fees −d, the bank's receivable +d.
	for _, d := range deposits.Data {
		c.ledger.post(t, "micro-deposit", posting{acct{"PLATFORM", "", "FEES", "SGD"}, -d.Amount},
			posting{acct{"CHANNEL", "bank", "RECEIVABLE", "SGD"}, d.Amount})
	}
	x.ok(t, x.gql("MERCHANT_ADMIN", `mutation($in: VerifyBankAccountInput!) { verifyBankAccount(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"id": acc.ID, "amounts": []int64{deposits.Data[0].Amount, deposits.Data[1].Amount}}}),
		"verifyBankAccount", &acc)
	if acc.Status != "VERIFIED" {
		t.Fatalf("bank account %+v", acc)
	}
	create := func(minor int64) gqlResponse {
		return x.gql("API_KEY", `mutation($in: CreatePayoutInput!) { createPayout(input: $in) { id status amount { amount currency } } }`,
			map[string]any{"in": map[string]any{"bankAccountID": acc.ID, "amount": amountOf(minor, "SGD"), "idempotencyKey": "cycle-payout"}})
	}
	// Available is 615.29 − 100.00 = 515.29 SGD: 515.30 is refused.
	if r := x.gql("API_KEY", `mutation($in: CreatePayoutInput!) { createPayout(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"bankAccountID": acc.ID, "amount": amountOf(51530, "SGD"), "idempotencyKey": "cycle-payout-over"}}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("a payout above available: %s", r.Raw)
	}
	var po struct {
		ID, Status string
		Amount     struct{ Amount, Currency string }
	}
	x.ok(t, create(50000), "createPayout", &po)
	if po.Amount.Amount != "50000" || po.Amount.Currency != "SGD" {
		t.Fatalf("payout %+v", po)
	}
	c.ledger.post(t, "payout requested", posting{acct{"MERCHANT", c.m, "AVAILABLE", "SGD"}, -50000},
		posting{acct{"MERCHANT", c.m, "IN_TRANSIT", "SGD"}, 50000})
	deadline := time.Now().Add(15 * time.Second)
	for po.Status != "PAID" {
		if time.Now().After(deadline) {
			t.Fatalf("payout %+v not paid", po)
		}
		time.Sleep(50 * time.Millisecond)
		x.ok(t, x.gql("API_KEY", `query($id: ID!) { payout(id: $id) { id status amount { amount currency } } }`,
			map[string]any{"id": po.ID}), "payout", &po)
	}
	c.ledger.post(t, "payout paid", posting{acct{"MERCHANT", c.m, "IN_TRANSIT", "SGD"}, -50000},
		posting{acct{"CHANNEL", "bank", "RECEIVABLE", "SGD"}, 50000})
	var again struct{ ID string }
	x.ok(t, create(50000), "createPayout", &again)
	if again.ID != po.ID {
		t.Fatalf("the payout's retry made %s, first %s", again.ID, po.ID)
	}
	var evs struct {
		Edges []struct {
			Node struct{ Type, ObjectID string }
		}
	}
	x.ok(t, x.gql("API_KEY", `{ events(first: 100) { edges { node { type objectID } } } }`, nil), "events", &evs)
	if !slices.ContainsFunc(evs.Edges, func(e struct {
		Node struct{ Type, ObjectID string }
	}) bool {
		return e.Node.ObjectID == po.ID && e.Node.Type == "payout.paid"
	}) {
		t.Fatalf("no payout.paid event for %s: %+v", po.ID, evs)
	}
	x.matches(t, "the payout", c.ledger)
	return []int64{deposits.Data[0].Amount, deposits.Data[1].Amount}
}

// reconStep reconciles the capture day's report of each channel. Every
// capture and refund matches, and so do the bank's payout and the two
// micro-deposits (deposits), and each matched line posts "settlement
// received from the channel" (docs/settlement.md, "Reconciliation"): the
// receivable +gross, platform cash −net, platform fees −fee. Running the
// day again changes nothing.
func (c fullCycle) reconStep(t *testing.T, deposits []int64) {
	x := c.x
	cash := func(cur string) acct { return acct{"PLATFORM", "", "CASH", cur} }
	received := func(conn, cur string, gross, fee int64) {
		c.ledger.post(t, "recon "+conn, posting{acct{"CHANNEL", conn, "RECEIVABLE", cur}, gross},
			posting{cash(cur), -(gross - fee)}, posting{acct{"PLATFORM", "", "FEES", cur}, -fee})
	}
	type want struct {
		lines   int
		classes map[string]int
	}
	wants := map[string]want{
		// 100.00 SGD and 200.00 USD captured, 25.00 SGD refunded.
		"cardnet": {3, map[string]int{"MATCHED": 3}},
		// 50.00 SGD and 5,000 JPY paid, 50.00 SGD refunded.
		"wallet": {3, map[string]int{"MATCHED": 3}},
		// The 250.00 SGD transfer in, the account's two micro-deposits and
		// the 500.00 SGD payout.
		"bank": {4, map[string]int{"MATCHED": 4}},
	}
	// cardnet: SGD gross 100.00 − 25.00 = 75.00, fee 3.20; USD gross
	// 200.00, fee 6.10.
	received("cardnet", "SGD", 10000-2500, 320)
	received("cardnet", "USD", 20000, 610)
	// wallet: SGD gross 50.00 − 50.00 = 0, fee 1.25; JPY 5,000, fee 125.
	received("wallet", "SGD", 0, 125)
	received("wallet", "JPY", 5000, 125)
	// bank: SGD 250.00 in, fee 1.25; out, the micro-deposits d1 and d2
	// and the 500.00 payout, each with the bank's payout fee of 5.00 (the
	// platform's cost): gross 250.00 − d1 − d2 − 500.00, fee 1.25 + 15.00.
	// The payout's paid entry gave the receivable +500.00 and the deposits
	// +d1 and +d2; their lines take it back, so what left reaches platform
	// cash: the payout confirmed.
	received("bank", "SGD", 25000-deposits[0]-deposits[1]-50000, 125+3*500)

	type reconView struct {
		ID, Status, BusinessDate string
		LinesRead                int
		Counts                   []struct {
			Class string
			Count int
		}
	}
	const reconcile = `mutation($c: String!, $d: String!) { runReconciliation(connector: $c, day: $d) {
		id status businessDate linesRead counts { class count } } }`
	runs := map[string]reconView{}
	for _, conn := range []string{"cardnet", "wallet", "bank"} {
		var run reconView
		x.ok(t, x.gql("OPERATOR", reconcile, map[string]any{"c": conn, "d": c.day}), "runReconciliation", &run)
		w := wants[conn]
		if run.Status != "SUCCEEDED" || run.BusinessDate != c.day || run.LinesRead != w.lines {
			t.Fatalf("%s reconciliation %+v", conn, run)
		}
		for _, k := range run.Counts {
			if k.Count != w.classes[k.Class] {
				t.Errorf("%s: %d %s, want %d (%+v)", conn, k.Count, k.Class, w.classes[k.Class], run.Counts)
			}
		}
		runs[conn] = run
	}
	x.matches(t, "reconciliation", c.ledger)
	entries := x.counts(t).Entries
	for conn, first := range runs {
		var run reconView
		x.ok(t, x.gql("OPERATOR", reconcile, map[string]any{"c": conn, "d": c.day}), "runReconciliation", &run)
		if run.ID != first.ID {
			t.Fatalf("%s: the re-run is %s, the first %s", conn, run.ID, first.ID)
		}
	}
	if n := x.counts(t).Entries; n != entries {
		t.Fatalf("re-running reconciliation posted %d entries", n-entries)
	}
	x.matches(t, "reconciliation again", c.ledger)
}

// closeStep closes the capture day (UTC). Its frozen trial balance is the
// day's book, which the test kept at the day's end: per currency, the
// negative closing balances (debits) equal the positive ones (credits), and
// so do the day's postings. A second close of the day is refused.
func (c fullCycle) closeStep(t *testing.T, atDayEnd book, dayPostings tally) string {
	x := c.x
	const q = `mutation($in: CloseDayInput!) { closeDay(input: $in) { id day trialBalance { currency
		debits { amount } credits { amount } dayDebits { amount } dayCredits { amount } } } }`
	var dc struct {
		ID, Day      string
		TrialBalance []struct {
			Currency                               string
			Debits, Credits, DayDebits, DayCredits struct{ Amount string }
		}
	}
	x.ok(t, x.gql("OPERATOR", q, map[string]any{"in": map[string]any{"day": c.day, "timezone": "UTC"}}), "closeDay", &dc)
	want := map[string][2]int64{}
	for a, v := range atDayEnd {
		w := want[a.cur]
		if v < 0 {
			w[0] -= v
		} else {
			w[1] += v
		}
		want[a.cur] = w
	}
	if dc.Day != c.day || len(dc.TrialBalance) != len(want) {
		t.Fatalf("close %+v, want currencies %v", dc, want)
	}
	for _, l := range dc.TrialBalance {
		w, d := want[l.Currency], dayPostings[l.Currency]
		if atoi(t, l.Debits.Amount) != w[0] || atoi(t, l.Credits.Amount) != w[1] || w[0] != w[1] ||
			atoi(t, l.DayDebits.Amount) != d[0] || atoi(t, l.DayCredits.Amount) != d[1] || d[0] != d[1] {
			t.Errorf("%s frozen as %+v; by hand debits/credits %v, the day's %v", l.Currency, l, w, d)
		}
	}
	if r := x.gql("OPERATOR", q, map[string]any{"in": map[string]any{"day": c.day, "timezone": "UTC"}}); r.code() != "CONFLICT" {
		t.Fatalf("a second close of %s: %s", c.day, r.Raw)
	}
	x.matches(t, "the close", c.ledger)
	return c.closedDay(t)
}

// closedDay is the capture day's frozen trial balance, as dayClose answers.
func (c fullCycle) closedDay(t *testing.T) string {
	r := c.x.gql("OPERATOR", `query($d: String!) { dayClose(day: $d) { day entries trialBalance { currency
		debits { amount } credits { amount } dayDebits { amount } dayCredits { amount } } } }`, map[string]any{"d": c.day})
	if len(r.Errors) > 0 || len(r.Data["dayClose"]) < 10 {
		t.Fatalf("dayClose(%s): %s", c.day, r.Raw)
	}
	return string(r.Data["dayClose"])
}
