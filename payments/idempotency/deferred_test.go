package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// claimInTx runs Held and ClaimIn for ds in one transaction, as a batch of
// work does, and commits unless fail is set (then it rolls back). It
// returns which keys Held found and ClaimIn's or the commit's error.
func claimInTx(t *testing.T, db *store.DB, ds []*idempotency.Deferred, fail bool) (map[*idempotency.Deferred]bool, error) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	held := map[*idempotency.Deferred]bool{}
	var committed func()
	_, err := store.WithTx(ctx, db.Client, func(tx *ent.Tx) (struct{}, error) {
		if err := store.ReadTogether(ctx, tx.Client(), db.Dialect, idempotency.Held(ds, held)); err != nil {
			return struct{}{}, err
		}
		var free []*idempotency.Deferred
		for _, d := range ds {
			if !held[d] {
				free = append(free, d)
			}
		}
		var err error
		if committed, err = idempotency.ClaimIn(ctx, tx, free); err != nil {
			return struct{}{}, err
		}
		if fail {
			return struct{}{}, errors.New("the work failed")
		}
		return struct{}{}, nil
	})
	if err == nil {
		committed()
	}
	return held, err
}

func deferClaim(t *testing.T, s *idempotency.Service, scope, key, op, hash string) *idempotency.Deferred {
	t.Helper()
	d, err := s.Defer(scope, key, op, hash)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDeferredClaimsCommitWithTheWork: claims written by the work's own
// transaction (ClaimIn) hold their keys once it commits, exactly as Begin's
// would: the answer is stored and replayed, and duplicates find the key held.
func TestDeferredClaimsCommitWithTheWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		defer s.Close()
		ctx := context.Background()
		d1 := deferClaim(t, s, "mer_a", "k1", "confirm", "h1")
		d2 := deferClaim(t, s, "mer_a", "k2", "confirm", "h2")
		if _, ok := d1.Claimed(); ok || d1.Settled() {
			t.Fatal("a deferred claim is claimed before its work writes it")
		}
		held, err := claimInTx(t, db, []*idempotency.Deferred{d1, d2}, false)
		if err != nil || len(held) != 0 {
			t.Fatalf("claim in the work's transaction: held %v, err %v", held, err)
		}
		tok, ok := d1.Claimed()
		if !ok || !d1.Settled() || tok.Attempt() != 1 {
			t.Fatalf("after the commit: claimed %v, settled %v, attempt %d", ok, d1.Settled(), tok.Attempt())
		}
		if err := d1.Claim(ctx); err != nil {
			t.Fatalf("Claim after the work claimed: %v", err)
		}
		answer := []byte(`{"data":{"confirm":{"status":"SUCCEEDED"}}}`)
		if err := s.Complete(ctx, tok, answer); err != nil {
			t.Fatal(err)
		}
		if out := begin(t, s, "mer_a", "k1", "confirm", "h1"); !bytes.Equal(out.Replay, answer) {
			t.Fatalf("retry of k1 = %+v, want the stored answer", out)
		}

		// A later request with k1 or k2 finds the key held: its work must
		// leave the key to Claim, which replays, refuses or waits.
		again := deferClaim(t, s, "mer_a", "k1", "confirm", "h1")
		other := deferClaim(t, s, "mer_a", "k2", "confirm", "h-other")
		fresh := deferClaim(t, s, "mer_a", "k3", "confirm", "h3")
		held, err = claimInTx(t, db, []*idempotency.Deferred{again, other, fresh}, false)
		if err != nil || !held[again] || !held[other] || held[fresh] {
			t.Fatalf("Held = %v (err %v), want k1 and k2 held, k3 free", held, err)
		}
		if err := again.Claim(ctx); !errors.Is(err, idempotency.ErrReplayed) || !bytes.Equal(again.Replay(), answer) {
			t.Fatalf("Claim of a completed key = %v, replay %q", err, again.Replay())
		}
		if _, ok := again.Claimed(); ok {
			t.Fatal("a replayed key is claimed")
		}
		// k2 is held by d2's request, still running, and other asks with
		// another request: a conflict, without waiting.
		wantCode(t, other.Claim(ctx), payments.ECONFLICT)
		if !other.Settled() || other.Claim(ctx) == nil {
			t.Fatal("a refused Claim does not stay refused")
		}
		if _, ok := fresh.Claimed(); !ok {
			t.Fatal("k3 was not claimed with its work")
		}
	})
}

// TestDeferredClaimsRollBackWithTheWork: when the work's transaction rolls
// back, nothing was claimed, and Claim then claims the key on its own.
func TestDeferredClaimsRollBackWithTheWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		defer s.Close()
		ctx := context.Background()
		d := deferClaim(t, s, "mer_a", "k1", "confirm", "h1")
		if _, err := claimInTx(t, db, []*idempotency.Deferred{d}, true); err == nil {
			t.Fatal("the failing work's transaction committed")
		}
		if _, ok := d.Claimed(); ok || d.Settled() {
			t.Fatal("a claim of a rolled-back transaction holds its key")
		}
		if n := db.Client.IdempotencyRecord.Query().CountX(viewer.SystemContext(ctx)); n != 0 {
			t.Fatalf("%d records after the rollback, want 0", n)
		}
		if err := d.Claim(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := d.Claimed(); !ok {
			t.Fatal("Claim did not claim a free key")
		}
		// The key is held now: a concurrent request's work that did not see
		// it (it read before the claim) fails its transaction rather than
		// claim the key twice.
		late := deferClaim(t, s, "mer_a", "k1", "confirm", "h1")
		ctxSys := viewer.SystemContext(ctx)
		_, err := store.WithTx(ctxSys, db.Client, func(tx *ent.Tx) (struct{}, error) {
			_, err := idempotency.ClaimIn(ctxSys, tx, []*idempotency.Deferred{late})
			return struct{}{}, err
		})
		if err == nil {
			t.Fatal("a second claim of a held key committed")
		}
		if _, ok := late.Claimed(); ok {
			t.Fatal("the failed claim holds the key")
		}
	})
}

// TestClaimInRefusesAKeyTwice: one transaction never claims a key twice.
func TestClaimInRefusesAKeyTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		defer s.Close()
		a := deferClaim(t, s, "mer_a", "k1", "confirm", "h1")
		b := deferClaim(t, s, "mer_a", "k1", "confirm", "h1")
		if _, err := claimInTx(t, db, []*idempotency.Deferred{a, b}, false); err == nil {
			t.Fatal("two claims of one key in one transaction committed")
		}
		if _, err := s.Defer("mer_a", "bad key!", "confirm", "h1"); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("Defer of a malformed key = %v, want EINVALID", err)
		}
	})
}
