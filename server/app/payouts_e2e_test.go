package app_test

import (
	"math/big"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/bankaccount"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
)

const payoutFields = `id status bankAccountID fxQuoteID failureCode amount { amount currency } source { amount currency }`

type payoutView struct {
	ID, Status, BankAccountID, FxQuoteID, FailureCode string
	Amount, Source                                    struct{ Amount, Currency string }
}

// TestPayoutsOverGraphQL: a card payment through the real cardnet plugin,
// settled with a 10 % rolling reserve; a refund after the settlement (the
// ledger's draw rule takes it from available); bank accounts verified by
// the micro-deposits the real bank plugin sent to the sandbox; payouts
// through the bank plugin, paid, failed and canceled, in the same currency
// and into a EUR account at a locked quote; every bad input refused with
// its code and nothing moved; an idempotent replay; the reserve released
// by a later run. Balances against hand-computed figures (SGD minor units):
//
//	settled 100.00, MDR 0 → 100.00 net; reserve 10 % = 10.00; available 90.00
//	refund 20.00 after settlement: available −(20.00 − channel fee returned)
//	payout 50.00 paid; payout 10.00 failed (returned); payout 5.00 canceled
//	payout 15.00 SGD → EUR at the quote
//	three days on, the reserve's 10.00 back in available
func TestPayoutsOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "bank", "fx"},
			sandbox: func(c *sandbox.Config) { c.PayoutDelay = time.Hour }})
		merchant := x.a.ID
		bal := func(kind, cur string) int64 {
			t.Helper()
			return atoi(t, x.accountBalance(t, "MERCHANT", merchant, kind, cur))
		}

		x.ok(t, x.gql("OPERATOR", `mutation($in: SettlementScheduleInput!) { setSettlementSchedule(input: $in) { reserveBps reserveDays } }`,
			map[string]any{"in": map[string]any{"merchantID": merchant, "delayDays": 1, "timezone": "UTC", "reserveBps": 1000, "reserveDays": 3}}),
			"setSettlementSchedule", &struct{}{})
		card := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(10000, "SGD"), "allowedMethods": []string{"CARD"}}), "4242424242424242", cvc3)
		if card.Status != "SUCCEEDED" {
			t.Fatalf("card payment %+v", card)
		}
		x.clock.Advance(7 * 24 * time.Hour)
		day := x.clock.Now().UTC().Format(time.DateOnly)
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": merchant, "day": day}}), "runSettlement", &struct{}{})
		if got, want := [3]int64{bal("PENDING", "SGD"), bal("AVAILABLE", "SGD"), bal("RESERVE", "SGD")}, [3]int64{0, 9000, 1000}; got != want {
			t.Fatalf("after settlement pending/available/reserve = %v, want %v", got, want)
		}

		// A refund after its capture settled draws on available.
		var ref struct {
			Status      string
			FeeReversed struct{ Amount string }
		}
		x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": card.ID, "amount": amountOf(2000, "SGD"), "idempotencyKey": "after-settle-refund"}}), "refundPayment", &ref)
		if ref.Status != "SUCCEEDED" {
			t.Fatalf("refund after settlement %+v", ref)
		}
		available := 9000 - 2000 + atoi(t, ref.FeeReversed.Amount)
		if got := bal("AVAILABLE", "SGD"); got != available || bal("PENDING", "SGD") != 0 || bal("RESERVE", "SGD") != 1000 {
			t.Fatalf("after the refund available %d (want %d), pending %d, reserve %d", got, available, bal("PENDING", "SGD"), bal("RESERVE", "SGD"))
		}

		// Bank accounts: bad details are refused field by field.
		add := func(in map[string]any) gqlResponse {
			return x.gql("MERCHANT_ADMIN", `mutation($in: AddBankAccountInput!) { addBankAccount(input: $in) { id status last4 routing currency } }`,
				map[string]any{"in": in})
		}
		for _, bad := range []map[string]any{
			{"country": "DE", "currency": "EUR", "holderName": "Alpha", "iban": "DE89370400440532013001"},                          // check digits
			{"country": "DE", "currency": "EUR", "holderName": "Alpha", "accountNumber": "12345678"},                               // IBAN country
			{"country": "US", "currency": "USD", "holderName": "Alpha", "accountNumber": "12345678", "routingNumber": "123456789"}, // ABA
			{"country": "SG", "currency": "SGD", "holderName": "", "accountNumber": "12345678", "routingNumber": "7171"},
		} {
			if r := add(bad); r.code() != "BAD_USER_INPUT" {
				t.Fatalf("bad bank account %v: %s", bad, r.Raw)
			}
		}
		type account struct{ ID, Status, Last4, Routing, Currency string }
		var sgd, eur, closed account
		x.ok(t, add(map[string]any{"country": "SG", "currency": "SGD", "holderName": "Alpha Pte", "accountNumber": "1234 5678", "routingNumber": "7171"}), "addBankAccount", &sgd)
		x.ok(t, add(map[string]any{"country": "DE", "currency": "EUR", "holderName": "Alpha", "iban": "DE89 3704 0044 0532 0130 00"}), "addBankAccount", &eur)
		x.ok(t, add(map[string]any{"country": "SG", "currency": "SGD", "holderName": "Alpha Pte", "accountNumber": "99990000", "routingNumber": "7171"}), "addBankAccount", &closed)
		if sgd.Status != "PENDING_VERIFICATION" || sgd.Last4 != "5678" || eur.Last4 != "3000" || eur.Routing != "" {
			t.Fatalf("accounts %+v %+v", sgd, eur)
		}
		if r := add(map[string]any{"country": "SG", "currency": "SGD", "holderName": "Alpha Pte", "accountNumber": "12345678", "routingNumber": "7171"}); r.code() != "CONFLICT" {
			t.Fatalf("the same account again: %s", r.Raw)
		}

		create := func(acc string, amount int64, cur, key string, extra map[string]any) gqlResponse {
			in := map[string]any{"bankAccountID": acc, "amount": amountOf(amount, cur), "idempotencyKey": key}
			for k, v := range extra {
				in[k] = v
			}
			return x.gql("API_KEY", `mutation($in: CreatePayoutInput!) { createPayout(input: $in) { `+payoutFields+` } }`, map[string]any{"in": in})
		}
		if r := create(sgd.ID, 1000, "SGD", "unverified", nil); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("a payout to an unverified account: %s", r.Raw)
		}

		// Verification: the amounts the bank received, as the merchant reads
		// them on its statement.
		verify := func(id string, amounts []int64) gqlResponse {
			return x.gql("MERCHANT_ADMIN", `mutation($in: VerifyBankAccountInput!) { verifyBankAccount(input: $in) { id status } }`,
				map[string]any{"in": map[string]any{"id": id, "amounts": amounts}})
		}
		deposits := func(id string) []int64 {
			var l struct{ Data []struct{ Amount int64 } }
			channelGet(t, x.sb.URL(), "/bank/payouts?reference="+url.QueryEscape(id), &l)
			var out []int64
			for _, p := range l.Data {
				out = append(out, p.Amount)
			}
			if len(out) != 2 || out[0] < 1 || out[0] > 99 || out[1] < 1 || out[1] > 99 {
				t.Fatalf("micro-deposits to %s: %v", id, out)
			}
			return out
		}
		d := deposits(sgd.ID)
		if r := verify(sgd.ID, []int64{d[0], d[1] + 1}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("wrong amounts: %s", r.Raw)
		}
		for _, a := range []account{sgd, eur, closed} {
			d := deposits(a.ID)
			var v account
			x.ok(t, verify(a.ID, []int64{d[1], d[0]}), "verifyBankAccount", &v)
			if v.Status != "VERIFIED" {
				t.Fatalf("verified %+v", v)
			}
		}
		var listed []account
		x.ok(t, x.gql("API_KEY", `{ bankAccounts { id status last4 } }`, nil), "bankAccounts", &listed)
		if len(listed) != 3 {
			t.Fatalf("bankAccounts %+v", listed)
		}

		// Another merchant's verified account is not found.
		other := db.Client.BankAccount.Create().SetMerchantID(x.b.ID).SetCountry("DE").SetCurrency("EUR").SetHolderName("Beta").
			SetNumber("DE89370400440532013000").SetLast4("3000").SetFingerprint(string(make64('b'))).SetConnector("bank").
			SetStatus(bankaccount.StatusVERIFIED).SaveX(viewer.SystemContext(t.Context()))

		// Bad input: each refused, nothing moved.
		for _, c := range []struct {
			acc    string
			amount int64
			cur    string
			code   string
		}{
			{sgd.ID, available + 1, "SGD", "BAD_USER_INPUT"}, // above available
			{sgd.ID, 0, "SGD", "BAD_USER_INPUT"},
			{sgd.ID, -5, "SGD", "BAD_USER_INPUT"},
			{sgd.ID, 100, "ZZZ", "BAD_USER_INPUT"}, // unsupported currency
			{other.ID, 100, "SGD", "NOT_FOUND"},
		} {
			if r := create(c.acc, c.amount, c.cur, "bad-"+c.cur+"-"+c.acc[len(c.acc)-4:]+"-"+itoa(c.amount), nil); r.code() != c.code {
				t.Fatalf("payout %+v: %s", c, r.Raw)
			}
		}
		if got := bal("AVAILABLE", "SGD"); got != available {
			t.Fatalf("bad input moved money: available %d, want %d", got, available)
		}

		// A payout, replayed with its key; then paid by the bank's event.
		var paid, again payoutView
		x.ok(t, create(sgd.ID, 5000, "SGD", "po-paid", nil), "createPayout", &paid)
		if paid.Status != "IN_TRANSIT" || paid.Amount.Amount != "5000" || paid.Source.Amount != "5000" || paid.FxQuoteID != "" {
			t.Fatalf("payout %+v", paid)
		}
		x.ok(t, create(sgd.ID, 5000, "SGD", "po-paid", nil), "createPayout", &again)
		if again.ID != paid.ID {
			t.Fatalf("replay made %s, first %s", again.ID, paid.ID)
		}
		if r := create(sgd.ID, 4000, "SGD", "po-paid", nil); len(r.Errors) == 0 {
			t.Fatalf("the key for another payout: %s", r.Raw)
		}
		available -= 5000
		if bal("AVAILABLE", "SGD") != available || bal("IN_TRANSIT", "SGD") != 5000 {
			t.Fatalf("after the payout request: available %d, in transit %d", bal("AVAILABLE", "SGD"), bal("IN_TRANSIT", "SGD"))
		}
		bankBefore := atoi(t, x.accountBalance(t, "CHANNEL", "bank", "RECEIVABLE", "SGD"))
		x.complete(t, paid.ID)
		x.waitPayout(t, paid.ID, "PAID")
		if bal("IN_TRANSIT", "SGD") != 0 || bal("AVAILABLE", "SGD") != available ||
			atoi(t, x.accountBalance(t, "CHANNEL", "bank", "RECEIVABLE", "SGD"))-bankBefore != 5000 {
			t.Fatalf("after paid: in transit %d, available %d", bal("IN_TRANSIT", "SGD"), bal("AVAILABLE", "SGD"))
		}

		// A payout the bank returns gives the funds back.
		var failed payoutView
		x.ok(t, create(closed.ID, 1000, "SGD", "po-failed", nil), "createPayout", &failed)
		if bal("AVAILABLE", "SGD") != available-1000 {
			t.Fatalf("failing payout not set aside")
		}
		x.complete(t, failed.ID)
		if v := x.waitPayout(t, failed.ID, "FAILED"); v.FailureCode != "account_closed" {
			t.Fatalf("failed payout %+v", v)
		}
		if bal("AVAILABLE", "SGD") != available || bal("IN_TRANSIT", "SGD") != 0 {
			t.Fatalf("after failed: available %d (want %d), in transit %d", bal("AVAILABLE", "SGD"), available, bal("IN_TRANSIT", "SGD"))
		}

		// A payout held for later is canceled; a second cancel is a conflict.
		var later, canceled payoutView
		x.ok(t, create(sgd.ID, 500, "SGD", "po-later", map[string]any{"sendAt": x.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)}), "createPayout", &later)
		if later.Status != "PENDING" || bal("AVAILABLE", "SGD") != available-500 {
			t.Fatalf("held payout %+v", later)
		}
		cancel := func() gqlResponse {
			return x.gql("API_KEY", `mutation($id: ID!) { cancelPayout(id: $id) { `+payoutFields+` } }`, map[string]any{"id": later.ID})
		}
		x.ok(t, cancel(), "cancelPayout", &canceled)
		if canceled.Status != "CANCELED" || bal("AVAILABLE", "SGD") != available {
			t.Fatalf("canceled %+v, available %d", canceled, bal("AVAILABLE", "SGD"))
		}
		if r := cancel(); r.code() != "CONFLICT" {
			t.Fatalf("cancel again: %s", r.Raw)
		}
		if r := x.gql("API_KEY", `mutation($id: ID!) { cancelPayout(id: $id) { id } }`, map[string]any{"id": paid.ID}); r.code() != "CONFLICT" {
			t.Fatalf("cancel a paid payout: %s", r.Raw)
		}

		// Cross-currency: 15.00 SGD into the EUR account at a locked quote
		// (today's rates: the clock comes back for the refresher's rates).
		x.clock.Advance(-7 * 24 * time.Hour)
		var fxp payoutView
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := create(eur.ID, 1500, "SGD", "po-fx", nil)
			if len(r.Errors) == 0 {
				x.ok(t, r, "createPayout", &fxp)
				break
			}
			if r.code() != "UNAVAILABLE" || time.Now().After(deadline) {
				t.Fatalf("cross-currency payout: %s", r.Raw)
			}
			time.Sleep(100 * time.Millisecond) // the refresher's first pass
		}
		q := db.Client.FxQuote.GetX(viewer.SystemContext(t.Context()), fxp.FxQuoteID)
		rate, ok := new(big.Rat).SetString(q.Rate)
		if !ok {
			t.Fatalf("rate %q", q.Rate)
		}
		want := new(big.Rat).Mul(rate, big.NewRat(1500, 1))
		wantEUR := new(big.Rat).Add(want, big.NewRat(1, 2)) // half up: positive amounts
		wantMinor := new(big.Int).Quo(wantEUR.Num(), wantEUR.Denom()).Int64()
		if fxp.Status != "IN_TRANSIT" || fxp.Source.Amount != "1500" || fxp.Source.Currency != "SGD" || fxp.Amount.Currency != "EUR" ||
			atoi(t, fxp.Amount.Amount) != wantMinor {
			t.Fatalf("fx payout %+v, want %d EUR at %s", fxp, wantMinor, q.Rate)
		}
		available -= 1500
		if bal("AVAILABLE", "SGD") != available || bal("IN_TRANSIT", "EUR") != wantMinor {
			t.Fatalf("after the fx payout: available %d, in transit EUR %d", bal("AVAILABLE", "SGD"), bal("IN_TRANSIT", "EUR"))
		}
		x.complete(t, fxp.ID)
		x.waitPayout(t, fxp.ID, "PAID")
		if bal("IN_TRANSIT", "EUR") != 0 {
			t.Fatalf("fx payout paid, in transit EUR %d", bal("IN_TRANSIT", "EUR"))
		}

		// The events: created, updated (in transit), paid, failed, canceled.
		var evs struct {
			Edges []struct {
				Node struct{ Type, ObjectID string }
			}
		}
		x.ok(t, x.gql("API_KEY", `{ events(first: 100) { edges { node { type objectID } } } }`, nil), "events", &evs)
		seen := map[string]bool{}
		for _, e := range evs.Edges {
			seen[e.Node.ObjectID+" "+e.Node.Type] = true
		}
		for _, w := range []string{paid.ID + " payout.created", paid.ID + " payout.updated", paid.ID + " payout.paid",
			failed.ID + " payout.failed", later.ID + " payout.canceled", fxp.ID + " payout.paid"} {
			if !seen[w] {
				t.Errorf("no event %s", w)
			}
		}
		var list []payoutView
		x.ok(t, x.gql("API_KEY", `{ payouts(first: 10) { `+payoutFields+` } }`, nil), "payouts", &list)
		if len(list) != 4 || list[0].ID != fxp.ID {
			t.Fatalf("payouts %+v", list)
		}

		// Three days after the hold, a run releases the reserve.
		x.clock.Advance(10 * 24 * time.Hour)
		day = x.clock.Now().UTC().Format(time.DateOnly)
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": merchant, "day": day}}), "runSettlement", &struct{}{})
		if bal("RESERVE", "SGD") != 0 || bal("AVAILABLE", "SGD") != available+1000 {
			t.Fatalf("after the release: reserve %d, available %d (want %d)", bal("RESERVE", "SGD"), bal("AVAILABLE", "SGD"), available+1000)
		}
		x.balanced(t)
	})
}

// complete has the sandbox bank give the payout its outcome now.
func (x *e2e) complete(t *testing.T, payoutID string) {
	t.Helper()
	var l struct{ Data []struct{ ID string } }
	channelGet(t, x.sb.URL(), "/bank/payouts?reference="+url.QueryEscape(payoutID), &l)
	if len(l.Data) != 1 {
		t.Fatalf("the bank has %d payouts for %s", len(l.Data), payoutID)
	}
	if err := x.sb.CompletePayout(l.Data[0].ID); err != nil {
		t.Fatal(err)
	}
}

// waitPayout waits for the bank's event to move the payout to status.
func (x *e2e) waitPayout(t *testing.T, id, status string) payoutView {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var p payoutView
		x.ok(t, x.gql("API_KEY", `query($id: ID!) { payout(id: $id) { `+payoutFields+` } }`, map[string]any{"id": id}), "payout", &p)
		if p.Status == status {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("payout %s stayed %s, want %s", id, p.Status, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func make64(b byte) []byte { return []byte(string(slices.Repeat([]byte{b}, 64))) }
