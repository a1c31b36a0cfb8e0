package vault

import (
	"bytes"
	"encoding/base64"
	"sync"
	"testing"
	"time"
)

// clock is a settable fixed clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testKey returns a deterministic 32-byte key in base64, different per seed.
func testKey(seed byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{seed}, KeySize))
}

func mustKeyRing(t *testing.T, spec string) *KeyRing {
	t.Helper()
	r, err := ParseKeyRing(spec)
	if err != nil {
		t.Fatalf("ParseKeyRing: %v", err)
	}
	return r
}

type fixture struct {
	vault *Vault
	store *MemStore
	clock *clock
}

func newFixture(t *testing.T, keys string) fixture {
	t.Helper()
	fp, err := ParseFingerprintKey(testKey(0xf0))
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{store: NewMemStore(), clock: newClock()}
	f.vault, err = New(Config{Keys: mustKeyRing(t, keys), Fingerprints: fp, Store: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// withKeys returns a Vault over the same store and clock with another key ring,
// as after a configuration change and restart.
func (f fixture) withKeys(t *testing.T, keys string) *Vault {
	t.Helper()
	v, err := New(Config{Keys: mustKeyRing(t, keys), Fingerprints: f.vault.fps, Store: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func visaInput() CardInput {
	return CardInput{MerchantID: "mer_a", Number: "4242 4242 4242 4242", CVC: "123", ExpMonth: 12, ExpYear: 2030, HolderName: "Ada Lovelace"}
}
