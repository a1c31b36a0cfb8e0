package app_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/idempotencyrecord"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

const confirmWithKey = `mutation($in: ConfirmCheckoutSessionInput!) {
  confirmCheckoutSession(input: $in) { id status amount { amount currency } } }`

// TestConfirmClaimsItsKeyWithItsPayment: a checkout's confirm claims its
// idempotency key in the transaction that writes its payment, not in one
// of its own before; it must still answer as any idempotent mutation does.
// A success is stored and replayed byte for byte, with no second charge; the
// key with another request is a CONFLICT that writes nothing; a refusal on
// the merits (the session already paid) is stored and replayed too; a
// refusal of bad input stores nothing, so the key still works.
func TestConfirmClaimsItsKeyWithItsPayment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		card := &slowCard{}
		e := slowCardEnv(t, db, card)
		post := poster(e)
		sys := viewer.SystemContext(context.Background())
		record := func(key string) *ent.IdempotencyRecord {
			t.Helper()
			r, err := db.Client.IdempotencyRecord.Query().Where(idempotencyrecord.Key(key)).Only(sys)
			if err != nil {
				t.Fatalf("record of %s: %v", key, err)
			}
			return r
		}
		confirm := func(cashier, cardToken, key string) reply {
			in := map[string]any{"method": "CARD", "idempotencyKey": key}
			if cardToken != "" {
				in["cardToken"] = cardToken
			}
			return postReply(e, cashier, confirmWithKey, map[string]any{"in": in})
		}

		cashier1, session1 := openSession(t, post, e.tokens["API_KEY"])
		card1 := tokenizeTestCard(t, post, cashier1)
		first := confirm(cashier1, card1, "confirm-1")
		if first.code != "" || !bytes.Contains(first.body, []byte(`"SUCCEEDED"`)) || first.replayed {
			t.Fatalf("first confirm: %s", first.body)
		}
		if r := record("confirm-1"); r.State != idempotencyrecord.StateCOMPLETED || !bytes.Equal(r.Response, first.body) {
			t.Fatalf("record of the first confirm: %s, %q", r.State, r.Response)
		}
		again := confirm(cashier1, card1, "confirm-1")
		if !again.replayed || !bytes.Equal(again.body, first.body) {
			t.Fatalf("retry: replayed %v, body %s; want the first body %s", again.replayed, again.body, first.body)
		}

		// The key again, for another session: another request.
		cashier2, session2 := openSession(t, post, e.tokens["API_KEY"])
		card2 := tokenizeTestCard(t, post, cashier2)
		if r := confirm(cashier2, card2, "confirm-1"); r.code != "CONFLICT" {
			t.Fatalf("the key for another session: %s", r.body)
		}
		if n := db.Client.Payment.Query().Where(payment.CheckoutSessionID(session2)).CountX(sys); n != 0 {
			t.Fatalf("the refused request made %d payments", n)
		}

		// A refusal on the merits: the first session is paid.
		paid := confirm(cashier1, card1, "confirm-2")
		if paid.code != "CONFLICT" {
			t.Fatalf("confirm of a paid session: %s", paid.body)
		}
		if r := record("confirm-2"); r.State != idempotencyrecord.StateCOMPLETED || !bytes.Equal(r.Response, paid.body) {
			t.Fatalf("the refusal was not stored: %s, %q", r.State, r.Response)
		}
		if r := confirm(cashier1, card1, "confirm-2"); !r.replayed || !bytes.Equal(r.body, paid.body) {
			t.Fatalf("retry of the refusal: replayed %v, %s", r.replayed, r.body)
		}

		// Bad input runs nothing and keeps nothing: the key then works.
		if r := confirm(cashier2, "", "confirm-3"); r.code != "BAD_USER_INPUT" {
			t.Fatalf("confirm without a card: %s", r.body)
		}
		if n := db.Client.IdempotencyRecord.Query().Where(idempotencyrecord.Key("confirm-3")).CountX(sys); n != 0 {
			t.Fatalf("bad input left %d records", n)
		}
		if r := confirm(cashier2, card2, "confirm-3"); r.code != "" || !bytes.Contains(r.body, []byte(`"SUCCEEDED"`)) {
			t.Fatalf("confirm after bad input: %s", r.body)
		}
		n := db.Client.Payment.Query().Where(payment.CheckoutSessionIDIn(session1, session2)).CountX(sys)
		if n != 2 || card.calls.Load() != 2 {
			t.Fatalf("%d payments and %d charges, want 2 of each", n, card.calls.Load())
		}
	})
}
