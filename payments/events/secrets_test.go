package events

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// testRing is a key ring of the given KEK ids, active first; each id's key
// is derived from the id, so two rings naming one id share that key.
func testRing(t testing.TB, ids ...string) *vault.KeyRing {
	t.Helper()
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = bytes.Repeat([]byte(id[len(id)-1:]), vault.KeySize)
	}
	r, err := vault.NewKeyRing(ids, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// columns reads every endpoint's secret columns as the database holds them.
func columns(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.SQL.QueryContext(context.Background(), "SELECT secret, COALESCE(previous_secret, '') FROM webhook_endpoints")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, a, b)
	}
	return out
}

func TestWebhookSecretsAreSealedAtRestAndStillVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		w, relay := webhookSetup(t, db, time.Now, r)
		ctx := merchantCtx("mer_1")
		ep, secret, err := w.CreateEndpoint(ctx, EndpointInput{URL: r.srv.URL + "/hooks"})
		if err != nil {
			t.Fatal(err)
		}
		_, rotated, err := w.RotateSecret(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Both the current and the rotated (24 h) secret: sealed, no whsec_.
		cols := columns(t, db)
		if len(cols) != 2 {
			t.Fatalf("columns %d", len(cols))
		}
		for _, c := range cols {
			if strings.Contains(c, "whsec_") || !vault.IsSealed(c) || strings.Contains(c, strings.TrimPrefix(secret, "whsec_")) {
				t.Fatalf("a secret column holds %.20q…, not a sealed secret", c)
			}
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 1)
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		sendAll(t, w)
		got := r.deliveries()
		if len(got) != 1 {
			t.Fatalf("%d deliveries", len(got))
		}
		for _, s := range []string{secret, rotated} {
			v, _ := standardwebhooks.NewWebhook(s)
			if err := v.Verify(got[0].body, got[0].header); err != nil {
				t.Fatalf("secret %.10s… refused: %v", s, err)
			}
		}
		// A sealed secret copied onto another endpoint does not open there.
		other, _, err := w.CreateEndpoint(ctx, EndpointInput{URL: r.srv.URL + "/other"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL.ExecContext(context.Background(), "UPDATE webhook_endpoints SET secret = ? WHERE id = ?", cols[0], other.ID); err != nil {
			t.Fatal(err)
		}
		o, _ := db.Client.WebhookEndpoint.Get(viewer.SystemContext(context.Background()), other.ID)
		if _, err := w.signingSecrets(o, time.Now()); err == nil {
			t.Fatal("a secret moved to another endpoint opened")
		}

		// Without keys: no endpoint can be created (nothing stored in clear).
		bare := NewWebhooks(WebhookConfig{Client: db.Client, Dialect: db.Dialect, Policy: TargetPolicy{AllowPrivate: true}})
		if _, _, err := bare.CreateEndpoint(ctx, EndpointInput{URL: r.srv.URL + "/x"}); payments.ErrorCode(err) != payments.EUNAVAILABLE {
			t.Fatalf("create without keys: %v", err)
		}
	})
}

func TestWebhookSecretsInClearAreSealedOnStartAndRewrappedAfterAKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		w, relay := webhookSetup(t, db, time.Now, r)
		ctx := merchantCtx("mer_1")
		// Rows as a release before sealing wrote them: secrets in clear,
		// one endpoint mid-rotation.
		sys := viewer.SystemContext(context.Background())
		old, prev := "whsec_"+strings.Repeat("QUFB", 8), "whsec_"+strings.Repeat("QkJC", 8)
		exp := time.Now().Add(time.Hour)
		legacy, err := db.Client.WebhookEndpoint.Create().SetMerchantID("mer_1").SetURL(r.srv.URL + "/legacy").
			SetSecret(old).SetPreviousSecret(prev).SetPreviousSecretExpiresAt(exp).Save(sys)
		if err != nil {
			t.Fatal(err)
		}
		// Until the sweep, the clear secrets still sign (read as they are).
		if s, err := w.signingSecrets(legacy, time.Now()); err != nil || len(s) != 2 || s[0] != old || s[1] != prev {
			t.Fatalf("clear secrets = %v, %v", s, err)
		}
		res, err := w.SealSecrets(ctx)
		if err != nil || res.Sealed != 2 || res.Rewrapped != 0 {
			t.Fatalf("seal = %+v, %v", res, err)
		}
		for _, c := range columns(t, db) {
			if !vault.IsSealed(c) || strings.Contains(c, "whsec_") {
				t.Fatalf("after the sweep a column holds %.20q…", c)
			}
		}
		if res, err := w.SealSecrets(ctx); err != nil || res != (SealResult{}) {
			t.Fatalf("a second sweep changed %+v, %v", res, err)
		}

		// A KEK rotation: k2 active, k1 still in the ring; the sweep rewraps.
		w.cfg.Keys = testRing(t, "k2", "k1")
		if res, err := w.SealSecrets(ctx); err != nil || res.Rewrapped != 2 {
			t.Fatalf("rewrap = %+v, %v", res, err)
		}
		for _, c := range columns(t, db) {
			if !strings.HasPrefix(c, "sealed:v1:k2:") {
				t.Fatalf("after rotation a column holds %.16q…", c)
			}
		}
		// k1 removed: deliveries still sign with both secrets.
		w.cfg.Keys = testRing(t, "k2")
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 1)
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		sendAll(t, w)
		got := r.deliveries()
		if len(got) != 1 {
			t.Fatalf("%d deliveries", len(got))
		}
		for _, s := range []string{old, prev} {
			v, _ := standardwebhooks.NewWebhook(s)
			if err := v.Verify(got[0].body, got[0].header); err != nil {
				t.Fatalf("secret %.10s… refused: %v", s, err)
			}
		}
	})
}
