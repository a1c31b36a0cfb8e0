package entstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/vault/entstore"
	"github.com/straitpay/strait/payments/viewer"
)

func newVault(t *testing.T, db *store.DB, ring string, fp *vault.Fingerprinter) *vault.Vault {
	t.Helper()
	keys, err := vault.ParseKeyRing(ring)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(vault.Config{Keys: keys, Fingerprints: fp, Store: entstore.New(db.Client)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStoreRoundTripsAndRotates: cards vaulted through the ent store open
// again, saved cards list per customer, another merchant's token is
// ENOTFOUND, and a rotation to a new KEK rewraps every card exactly once
// while the cards keep opening.
func TestStoreRoundTripsAndRotates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		op := viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.Operator, Subject: "op"})
		m, err := tenancy.New(db.Client, time.Now).CreateMerchant(op, tenancy.MerchantInput{LegalName: "M", Country: "SG", SettlementCurrency: "SGD"})
		if err != nil {
			t.Fatal(err)
		}
		cus := db.Client.Customer.Create().SetMerchantID(m.ID).SaveX(viewer.SystemContext(ctx))
		fp, _ := vault.ParseFingerprintKey(vault.GenerateKey())
		k1 := "k1:" + vault.GenerateKey()
		v1 := newVault(t, db, k1, fp)
		var toks []vault.Token
		for _, n := range []string{"4242424242424242", "5555555555554444", "378282246310005"} {
			tok, _, err := v1.Tokenize(ctx, vault.CardInput{MerchantID: m.ID, CustomerID: cus.ID, Save: true, Number: n, ExpMonth: 12, ExpYear: 2031})
			if err != nil {
				t.Fatal(err)
			}
			toks = append(toks, tok)
		}
		again, _, err := v1.Tokenize(ctx, vault.CardInput{MerchantID: m.ID, CustomerID: cus.ID, Save: true, Number: "4242424242424242", ExpMonth: 12, ExpYear: 2031})
		if err != nil || again != toks[0] {
			t.Errorf("saving the same card again: %s %v, want %s", again, err, toks[0])
		}
		saved, err := v1.SavedCards(ctx, m.ID, cus.ID)
		if err != nil || len(saved) != 3 || saved[0].Token != toks[0] || saved[2].Last4 != "0005" {
			t.Errorf("saved = %+v %v", saved, err)
		}
		if _, err := v1.Detokenize(ctx, "mer_other", toks[0]); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("another merchant: %v", err)
		}

		v2 := newVault(t, db, "k2:"+vault.GenerateKey()+","+k1, fp)
		res, err := v2.Rotate(ctx)
		if err != nil || res.Rewrapped != 3 || res.Failed != 0 {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		if res, err := v2.Rotate(ctx); err != nil || res.Rewrapped != 0 {
			t.Errorf("second rotate: %+v %v", res, err)
		}
		for _, tok := range toks {
			pan, err := v2.Detokenize(ctx, m.ID, tok)
			if err != nil || pan.Last4() == "" {
				t.Errorf("after rotation %s: %v", tok, err)
			}
		}
		s := entstore.New(db.Client)
		if err := s.UpdateKEK(ctx, toks[0], "k1", "k3", []byte("x")); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Errorf("stale compare-and-swap: %v, want ECONFLICT", err)
		}
		if err := s.Delete(ctx, toks[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, toks[0]); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("deleted: %v", err)
		}
		if err := s.UpdateKEK(ctx, toks[0], "k2", "k3", []byte("x")); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("rewrap deleted: %v, want ENOTFOUND", err)
		}
	})
}
