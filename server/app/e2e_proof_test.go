package app_test

// Regression proofs for issue 13 (points 2, 3, 4, 6, 8): each through
// GraphQL over HTTP, on the e2e harness (real plugin processes, the
// sandbox's card network), on SQLite and MySQL unless it needs MySQL.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestAOneTimeCardTokenPaysItsOwnSessionOnce: a tok_… pays only the
// checkout session whose cashier made it, and only once. Another session
// of the same merchant, before or after the token's own session used it,
// gets NOT_FOUND (the answer for a token that does not exist), as does a
// second confirm of its own session after a decline; two sessions racing
// with one token charge at most once; the network sees one charge per
// token. A saved card (card_…) still pays every session of its customer.
func TestAOneTimeCardTokenPaysItsOwnSessionOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		network := x.sb.URL()
		sgd := func(minor int64) map[string]any {
			return map[string]any{"amount": amountOf(minor, "SGD"), "allowedMethods": []string{"CARD"}}
		}
		confirmWith := func(s session, tok, key string) gqlResponse {
			return x.gql(s.Cashier, confirmMutation, map[string]any{"in": map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": key}})
		}
		notFound := func(t *testing.T, what string, r gqlResponse) {
			t.Helper()
			if r.code() != "NOT_FOUND" || strings.Contains(r.Raw, "used") || strings.Contains(r.Raw, "session") {
				t.Fatalf("%s: %s, want NOT_FOUND that says nothing of why", what, r.Raw)
			}
		}

		own, other, later := x.open(t, sgd(1500)), x.open(t, sgd(1600)), x.open(t, sgd(1700))
		tok := x.tokenize(t, own, "4242424242424242", cvc3)
		before := x.counts(t)
		notFound(t, "another session, before", confirmWith(other, tok, "other-"+tok))
		if c := x.counts(t); c.Payments != before.Payments || c.Attempts != before.Attempts {
			t.Fatalf("a refused token made a payment: %+v then %+v", before, c)
		}
		p := x.confirm(t, own, map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "own-" + tok})
		if p.Status != "SUCCEEDED" {
			t.Fatalf("own session: %+v", p)
		}
		notFound(t, "another session, after", confirmWith(later, tok, "later-"+tok))
		if at := cardPaymentsAt(t, network, x.payment(t, p.ID).attempts()[0].ID); len(at) != 1 {
			t.Fatalf("the network holds %+v", at)
		}
		// The same confirm retried replays its payment.
		if r := confirmWith(own, tok, "own-"+tok); r.code() != "" || !strings.Contains(r.Raw, p.ID) {
			t.Fatalf("same-key retry: %s", r.Raw)
		}

		// A decline uses the token up too: the buyer types the card again.
		declined := x.open(t, sgd(1800))
		dtok := x.tokenize(t, declined, "4000000000000002", cvc3)
		if p := x.confirm(t, declined, map[string]any{"method": "CARD", "cardToken": dtok, "idempotencyKey": "d1-" + dtok}); p.Status != "REQUIRES_PAYMENT_METHOD" {
			t.Fatalf("declined card: %+v", p)
		}
		notFound(t, "its own session again, after a decline", confirmWith(declined, dtok, "d2-"+dtok))
		if p := x.payCard(t, declined, "4242424242424242", cvc3); p.Status != "SUCCEEDED" {
			t.Fatalf("a new card after the decline: %+v", p)
		}

		// Two sessions race with one token: one charge at most.
		for round := range 3 {
			a, b := x.open(t, sgd(int64(1900+round))), x.open(t, sgd(int64(2000+round)))
			race := x.tokenize(t, a, "5555555555554444", cvc3)
			var wg sync.WaitGroup
			answers := make([]gqlResponse, 4)
			for i := range answers {
				s := []session{a, b}[i%2]
				wg.Go(func() {
					answers[i] = x.do(s.Cashier, confirmMutation, map[string]any{"in": map[string]any{"method": "CARD", "cardToken": race, "idempotencyKey": fmt.Sprintf("race-%d-%s", i, race)}})
				})
			}
			wg.Wait()
			paid := 0
			for i, r := range answers {
				switch {
				case r.code() == "" && strings.Contains(r.Raw, `"SUCCEEDED"`):
					paid++
					if i%2 == 1 {
						t.Fatalf("round %d: the foreign session paid: %s", round, r.Raw)
					}
				case r.code() == "NOT_FOUND", r.code() == "CONFLICT":
				default:
					t.Fatalf("round %d: %s", round, r.Raw)
				}
			}
			if paid > 1 {
				t.Fatalf("round %d: %d payments with one token", round, paid)
			}
		}

		// A saved card pays each session of its customer.
		var cus struct{ ID string }
		x.ok(t, x.gql("API_KEY", `mutation($in: CreateCustomerInput!) { createCustomer(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"email": "saver@alpha.test"}}), "createCustomer", &cus)
		first := x.open(t, map[string]any{"amount": amountOf(2100, "SGD"), "allowedMethods": []string{"CARD"}, "customerID": cus.ID})
		var saved struct{ Token string }
		x.ok(t, x.gql(first.Cashier, `mutation($in: TokenizeCardInput!) { tokenizeCard(input: $in) { token } }`,
			map[string]any{"in": map[string]any{"number": "4242424242424242", "cvc": cvc3, "expMonth": 12, "expYear": 2031, "save": true}}), "tokenizeCard", &saved)
		x.mu.Lock()
		x.pans, x.cvcs = append(x.pans, "4242424242424242"), append(x.cvcs, cvc3)
		x.mu.Unlock()
		for i := range 2 {
			s := first
			if i == 1 {
				s = x.open(t, map[string]any{"amount": amountOf(2200, "SGD"), "allowedMethods": []string{"CARD"}, "customerID": cus.ID})
			}
			if p := x.confirm(t, s, map[string]any{"method": "CARD", "cardToken": saved.Token, "idempotencyKey": fmt.Sprintf("saved-%d", i)}); p.Status != "SUCCEEDED" {
				t.Fatalf("saved card, session %d: %+v", i, p)
			}
		}

		x.balanced(t)
		x.noCardData(t)
	})
}

// TestAvailablePaymentMethodsOffersWhatConfirmTakes: the methods a session
// offers are exactly those a confirm does not refuse before routing, with
// and without the buyer's country and a return URL (docs/cashier.md): a
// session without buyerCountry offers cards (the card's country routes
// them) and a card confirm works; it never offers DIRECT_DEBIT; WALLET
// needs a returnURL, bank transfers and wallets the buyer's country.
func TestAvailablePaymentMethodsOffersWhatConfirmTakes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "wallet", "bank"}})
		methodsOf := func(t *testing.T, s session) []string {
			t.Helper()
			var out struct{ AvailablePaymentMethods []string }
			x.ok(t, x.gql(s.Cashier, `{ checkoutSession { availablePaymentMethods } }`, nil), "checkoutSession", &out)
			return out.AvailablePaymentMethods
		}
		cases := []struct {
			name string
			in   map[string]any
			want []string
		}{
			{"a buyer in Singapore, a return URL", map[string]any{}, []string{"CARD", "WALLET", "BANK_TRANSFER"}},
			{"no buyer country", map[string]any{"buyerCountry": nil}, []string{"CARD"}},
			{"no return URL", map[string]any{"returnURL": nil}, []string{"CARD", "BANK_TRANSFER"}},
			{"neither", map[string]any{"buyerCountry": nil, "returnURL": nil}, []string{"CARD"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				in := map[string]any{"amount": amountOf(5000, "SGD")}
				for k, v := range c.in {
					in[k] = v
				}
				s := x.open(t, in)
				got := methodsOf(t, s)
				if !slices.Equal(got, c.want) {
					t.Fatalf("availablePaymentMethods %v, want %v", got, c.want)
				}
				// Every method not offered is refused by confirm before any
				// payment is made; every one offered is taken.
				for _, m := range []string{"CARD", "WALLET", "BANK_TRANSFER", "DIRECT_DEBIT"} {
					if slices.Contains(got, m) {
						continue
					}
					before := x.counts(t)
					r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": map[string]any{"method": m, "idempotencyKey": "refused-" + m + "-" + s.ID}})
					if r.code() != "BAD_USER_INPUT" {
						t.Fatalf("%s not offered, confirm answered %s", m, r.Raw)
					}
					if after := x.counts(t); after.Payments != before.Payments {
						t.Fatalf("%s not offered, yet a payment was made", m)
					}
				}
				m := got[len(got)-1]
				in = map[string]any{"method": m, "idempotencyKey": "offered-" + s.ID}
				if m == "CARD" {
					in["cardToken"] = x.tokenize(t, s, "4242424242424242", cvc3)
				}
				p := x.confirm(t, s, in)
				if p.Status == "FAILED" || p.Status == "REQUIRES_PAYMENT_METHOD" {
					t.Fatalf("%s was offered, confirm gave %+v", m, p)
				}
			})
		}
	})
}

// TestAMerchantsStatementShowsWhichPaymentEachPostingIsFor: with entry
// selected on its postings, a merchant's accountStatement answers (it was
// FORBIDDEN as a whole), each posting's entry names the merchant's own
// payment, and the entry shows only the merchant's own postings; merchant
// B's statement holds B's payments only. An operator still sees every
// posting of an entry.
func TestAMerchantsStatementShowsWhichPaymentEachPostingIsFor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		merchantB := x.merchantB()
		paid := map[string][]string{}
		for _, who := range []string{"API_KEY", merchantB} {
			for i := range 2 {
				s := x.openAs(t, who, map[string]any{"amount": amountOf(int64(3000+i), "SGD"), "allowedMethods": []string{"CARD"}})
				p := x.payCard(t, s, "4242424242424242", cvc3)
				if p.Status != "SUCCEEDED" {
					t.Fatalf("payment %+v", p)
				}
				paid[who] = append(paid[who], p.ID)
			}
		}
		type statement struct {
			Edges []struct {
				Node struct {
					Amount struct{ Amount string }
					Entry  struct {
						ID, SourceType, SourceID string
						Postings                 []struct {
							ID       string
							Amount   struct{ Amount string }
							Merchant *string `json:"merchantID"`
						}
					}
				}
			}
		}
		const query = `{ accountStatement(currency: "SGD", kind: PENDING, first: 50) { edges { node {
			amount { amount } entry { id sourceType sourceID postings { id merchantID amount { amount } } } } } } }`
		entries := map[string][]string{}
		for who, ids := range paid {
			var st statement
			x.ok(t, x.gql(who, query, nil), "accountStatement", &st)
			var sources []string
			for _, e := range st.Edges {
				n := e.Node
				sources = append(sources, n.Entry.SourceID)
				entries[who] = append(entries[who], n.Entry.ID)
				if len(n.Entry.Postings) != 1 || n.Entry.Postings[0].Amount.Amount != n.Amount.Amount {
					t.Errorf("the entry of %s shows postings %+v", n.Entry.SourceID, n.Entry.Postings)
				}
			}
			slices.Sort(sources)
			want := slices.Clone(ids)
			slices.Sort(want)
			if !slices.Equal(sources, want) {
				t.Fatalf("statement of %s: entries for %v, want %v", who[:8], sources, want)
			}
		}
		// An operator still reads every posting of an entry: the
		// channel's and the platform's too.
		var op struct {
			Edges []struct {
				Node struct {
					ID       string
					Postings []struct{ ID string }
				}
			}
		}
		x.ok(t, x.gql("OPERATOR", `{ journalEntries(filter: {sourceType: "capture"}, first: 50) { edges { node { id postings { id } } } } }`, nil), "journalEntries", &op)
		for _, e := range op.Edges {
			if e.Node.ID == entries["API_KEY"][0] && len(e.Node.Postings) < 2 {
				t.Fatalf("operator: entry %s has postings %+v", e.Node.ID, e.Node.Postings)
			}
		}
	})
}

// TestAnAPIKeyThatCannotBeCheckedIsUnavailableNotRefused: while the
// database cannot be reached, a request with a good API key is answered
// 503 UNAVAILABLE with a retry hint (extensions.retryAfter and the
// Retry-After header), never 401, so the client keeps its key; a bad key
// is still 401 once the database answers, and the good key works again.
func TestAnAPIKeyThatCannotBeCheckedIsUnavailableNotRefused(t *testing.T) {
	x, proxy := cuttableE2E(t)
	const q = `{ balances { currency } }`
	if r := x.gql("API_KEY", q, nil); r.code() != "" {
		t.Fatalf("before: %s", r.Raw)
	}
	proxy.down()
	r := x.gql("API_KEY", q, nil)
	proxy.up()
	if r.Status != 503 || r.code() != "UNAVAILABLE" || r.Errors[0].Extensions["retryAfter"] != float64(1) {
		t.Fatalf("while the database is down: status %d, %s", r.Status, r.Raw)
	}
	if r := x.gql("sk_"+strings.Repeat("x", 40), q, nil); r.Status != 401 || r.code() != "UNAUTHENTICATED" {
		t.Fatalf("a bad key: status %d, %s", r.Status, r.Raw)
	}
	if r := x.gql("API_KEY", q, nil); r.code() != "" {
		t.Fatalf("after: %s", r.Raw)
	}
}

// TestADatabaseFailureIsUnavailableAndItsRetryFindsTheTruth cuts MySQL
// connections under confirms, as a database that restarts or a network
// that drops does:
//
//   - the answer of a confirm's COMMIT is lost (MySQL committed the
//     payment, Strait cannot know): the confirm is UNAVAILABLE with
//     extensions.retryAfter, never INTERNAL, and nothing is stored as the
//     key's answer; its retry with the same key answers the payment that
//     commit wrote (never a CONFLICT that the key would replay for ever),
//     and the janitor settles that payment, which no network call charged;
//   - a confirm while every connection is refused is UNAVAILABLE, writes
//     nothing, and its same-key retry pays once;
//   - no response of the test is INTERNAL.
func TestADatabaseFailureIsUnavailableAndItsRetryFindsTheTruth(t *testing.T) {
	x, proxy := cuttableE2E(t)
	network := x.sb.URL()
	sys := viewer.SystemContext(context.Background())
	unavailable := func(t *testing.T, what string, r gqlResponse) {
		t.Helper()
		if r.code() != "UNAVAILABLE" || r.Errors[0].Extensions["retryAfter"] != float64(1) {
			t.Fatalf("%s: %s", what, r.Raw)
		}
	}

	t.Run("a commit whose answer is lost", func(t *testing.T) {
		s := x.open(t, map[string]any{"amount": amountOf(2700, "SGD"), "allowedMethods": []string{"CARD"}})
		tok := x.tokenize(t, s, "4242424242424242", cvc3)
		in := map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "lost-" + tok}
		proxy.loseAnswerOnce("INSERT INTO `payment_attempts`", "COMMIT")
		unavailable(t, "the confirm", x.gql(s.Cashier, confirmMutation, map[string]any{"in": in}))
		if proxy.armed() {
			t.Fatal("the confirm's commit never went through the proxy")
		}
		// The server finishes the round trip whose answer it could not
		// send: the payment is there, processing, though Strait answered
		// before it knew.
		var pid, status string
		waitFor(t, "the lost commit's payment", func() bool {
			p, err := x.db.Client.Payment.Query().Where(payment.CheckoutSessionID(s.ID)).Only(sys)
			if err == nil {
				pid, status = p.ID, string(p.Status)
			}
			return err == nil
		})
		if status != "PROCESSING" {
			t.Fatalf("payment %s is %s", pid, status)
		}
		// The key was claimed with the payment, its lease unexpired: a
		// retry now is told to wait, and nothing is stored.
		if r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": in}); r.code() != "CONFLICT" && r.code() != "UNAVAILABLE" {
			t.Fatalf("retry within the lease: %s", r.Raw)
		}
		x.clock.Advance(3 * time.Minute)
		var p payView
		x.ok(t, x.gql(s.Cashier, confirmMutation, map[string]any{"in": in}), "confirmCheckoutSession", &p)
		if p.ID != pid {
			t.Fatalf("the retry answered %+v, want payment %s", p, pid)
		}
		// Stored: the next retry replays it.
		if r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": in}); r.code() != "" || !strings.Contains(r.Raw, pid) {
			t.Fatalf("replay: %s", r.Raw)
		}
		if _, err := x.app.Cashier.Sweep(sys); err != nil {
			t.Fatal(err)
		}
		settled := x.payment(t, pid)
		for range 200 {
			if settled.Status != "PROCESSING" {
				break
			}
			time.Sleep(25 * time.Millisecond)
			settled = x.payment(t, pid)
		}
		if a := settled.attempts(); settled.Status == "PROCESSING" || len(a) != 1 || len(cardPaymentsAt(t, network, a[0].ID)) > 1 {
			t.Fatalf("after the janitor: %+v", settled)
		}
	})

	t.Run("a confirm while the database refuses connections", func(t *testing.T) {
		s := x.open(t, map[string]any{"amount": amountOf(2800, "SGD"), "allowedMethods": []string{"CARD"}})
		tok := x.tokenize(t, s, "4242424242424242", cvc3)
		in := map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "down-" + tok}
		before := x.counts(t)
		proxy.down()
		r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": in})
		proxy.up()
		unavailable(t, "the confirm", r)
		if after := x.counts(t); after.Payments != before.Payments || after.Attempts != before.Attempts {
			t.Fatalf("written while down: %+v then %+v", before, after)
		}
		p := x.confirm(t, s, in)
		if p.Status != "SUCCEEDED" {
			t.Fatalf("retry: %+v", p)
		}
		if a := x.payment(t, p.ID).attempts(); len(a) != 1 || len(cardPaymentsAt(t, network, a[0].ID)) != 1 {
			t.Fatalf("attempts %+v", a)
		}
	})

	x.mu.Lock()
	bodies := slices.Clone(x.bodies)
	x.mu.Unlock()
	for _, b := range bodies {
		if strings.Contains(b, `"INTERNAL"`) {
			t.Errorf("an INTERNAL answer: %s", b)
		}
	}
	x.balanced(t)
}
