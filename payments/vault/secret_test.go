package vault

import (
	"strings"
	"testing"
)

func TestSealedSecretOpensOnlyForItsRecordAndRewrapsOnRotation(t *testing.T) {
	old := mustKeyRing(t, "k1:"+testKey(1))
	secret := "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	sealed, err := old.SealSecret([]byte(secret), "webhook_endpoint:we_1")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || strings.Contains(sealed, "whsec_") || IsSealed(secret) {
		t.Fatalf("sealed form %q", sealed)
	}
	if len(sealed) > 300 {
		t.Fatalf("sealed form is %d bytes, documented as at most 300", len(sealed))
	}
	if got, err := old.OpenSecret(sealed, "webhook_endpoint:we_1"); err != nil || string(got) != secret {
		t.Fatalf("open = %q, %v", got, err)
	}
	// Another record, a PAN's AAD, a tampered or clear value: all refused alike.
	if _, err := old.OpenSecret(sealed, "webhook_endpoint:we_2"); err != errOpen {
		t.Fatalf("another record opened it: %v", err)
	}
	if _, err := old.open(mustParse(t, sealed), "webhook_endpoint:we_1"); err != errOpen {
		t.Fatalf("opened as a PAN: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := old.OpenSecret(tampered, "webhook_endpoint:we_1"); err != errOpen {
		t.Fatalf("tampered opened: %v", err)
	}
	if _, err := old.OpenSecret(secret, "webhook_endpoint:we_1"); err != errOpen {
		t.Fatalf("clear value opened: %v", err)
	}

	// Rotation: a new active KEK rewraps, the ciphertext stays, the old
	// KEK is no longer needed.
	both := mustKeyRing(t, "k2:"+testKey(2)+",k1:"+testKey(1))
	moved, changed, err := both.RewrapSecret(sealed, "webhook_endpoint:we_1")
	if err != nil || !changed || !strings.HasPrefix(moved, sealedPrefix+"k2:") {
		t.Fatalf("rewrap = %q, %v, %v", moved, changed, err)
	}
	if mustParse(t, moved).Ciphertext == nil || string(mustParse(t, moved).Ciphertext) != string(mustParse(t, sealed).Ciphertext) {
		t.Fatal("rewrap touched the ciphertext")
	}
	again, changed, err := both.RewrapSecret(moved, "webhook_endpoint:we_1")
	if err != nil || changed || again != moved {
		t.Fatalf("a second rewrap changed %v: %v", changed, err)
	}
	newOnly := mustKeyRing(t, "k2:"+testKey(2))
	if got, err := newOnly.OpenSecret(moved, "webhook_endpoint:we_1"); err != nil || string(got) != secret {
		t.Fatalf("open after rotation = %q, %v", got, err)
	}
	if _, err := newOnly.OpenSecret(sealed, "webhook_endpoint:we_1"); err != errOpen {
		t.Fatalf("opened under a removed KEK: %v", err)
	}
}

func mustParse(t *testing.T, s string) Envelope {
	t.Helper()
	e, ok := parseSealed(s)
	if !ok {
		t.Fatalf("not a sealed form: %q", s)
	}
	return e
}
