package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/straitpay/strait/payments/viewer"
)

// verifyOnce verifies tok and checks that the cache now holds it.
func (e *env) verifyOnce(t testing.TB, tok string) viewer.Viewer {
	t.Helper()
	v, err := e.ks.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !e.cached(tok) {
		t.Fatal("an accepted token is not in the cache")
	}
	return v
}

func (e *env) cached(tok string) bool {
	_, ok := e.ks.verified.lru.Peek(tokenHash(sha256.Sum256([]byte(tok))))
	return ok
}

func TestCachedTokenHonoursItsValidityWindow(t *testing.T) {
	tests := []struct {
		name  string
		at    time.Duration // from t0, after the token was cached at t0
		msg   string        // empty: still accepted
		evict bool          // the refusal drops the entry
	}{
		{name: "a second before exp plus leeway", at: time.Hour + Leeway - time.Second},
		{name: "at exp plus leeway", at: time.Hour + Leeway, msg: "token expired", evict: true},
		{name: "a day later", at: 24 * time.Hour, msg: "token expired", evict: true},
		{name: "clock set back within the leeway", at: -Leeway},
		{name: "clock set back past the leeway", at: -Leeway - time.Second, msg: "token not valid yet", evict: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			v := viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}
			tok := e.mint(t, v, time.Hour)
			e.verifyOnce(t, tok)

			e.clock.now = t0.Add(tt.at)
			got, err := e.ks.Verify(tok)
			if tt.msg == "" {
				if err != nil || got != v {
					t.Fatalf("Verify = %+v, %v; want %+v", got, err, v)
				}
				return
			}
			wantUnauthorized(t, err, tok, tt.msg)
			if e.cached(tok) != !tt.evict {
				t.Errorf("cached after refusal = %v, want %v", e.cached(tok), !tt.evict)
			}
		})
	}
}

func TestCachedTokenStopsVerifyingWhenItsKeyLeaves(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, e *env)
		reload bool
	}{
		{name: "key retired, then reloaded", reload: true, change: func(t *testing.T, e *env) {
			retire(t, e.dir, e.kid, t0)
		}},
		{name: "key removed from keys.json, then reloaded", reload: true, change: func(t *testing.T, e *env) {
			keys, err := ListKeys(e.dir)
			if err != nil {
				t.Fatal(err)
			}
			keys = slices.DeleteFunc(keys, func(k KeyInfo) bool { return k.Kid == e.kid })
			if err := writeManifest(e.dir, keys); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "retire_at passes without a reload", change: func(t *testing.T, e *env) {
			retire(t, e.dir, e.kid, t0.Add(time.Minute))
			if err := e.ks.Reload(); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.mint(t, viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, time.Hour)
			e.verifyOnce(t, tok)

			generate(t, e.dir, t0) // so the key set never runs empty
			tt.change(t, e)
			if tt.reload {
				if err := e.ks.Reload(); err != nil {
					t.Fatal(err)
				}
				if e.cached(tok) {
					t.Error("Reload kept a token whose key is gone")
				}
			}
			_, err := e.ks.Verify(tok)
			wantUnauthorized(t, err, tok, "invalid token")
		})
	}
}

func TestReloadKeepsCachedTokensOfKeysStillHeld(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(t, viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, time.Hour)
	e.verifyOnce(t, tok)
	generate(t, e.dir, t0)
	if err := e.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	if !e.cached(tok) {
		t.Error("Reload dropped a token whose key is still held")
	}
}

func TestCacheDoesNotAcceptAForgeryOfACachedToken(t *testing.T) {
	e := newEnv(t)
	c := e.claims()
	tok := sign(t, jwt.SigningMethodEdDSA, e.priv, e.header(), c)
	e.verifyOnce(t, tok)

	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	forgeries := map[string]string{
		"same claims, another key under our kid": sign(t, jwt.SigningMethodEdDSA, otherPriv, e.header(), c),
		"same claims, one signature bit flipped": parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig),
		"same claims, signature stripped":        parts[0] + "." + parts[1] + ".",
	}
	for name, forged := range forgeries {
		t.Run(name, func(t *testing.T) {
			_, err := e.ks.Verify(forged)
			wantUnauthorized(t, err, forged, "invalid token")
			if e.cached(forged) {
				t.Error("a refused token is in the cache")
			}
		})
	}
}

func TestRefusedTokenIsNotCached(t *testing.T) {
	e := newEnv(t)
	c := e.claims()
	c.NotBefore = jwt.NewNumericDate(t0.Add(time.Minute + Leeway))
	tok := sign(t, jwt.SigningMethodEdDSA, e.priv, e.header(), c)

	_, err := e.ks.Verify(tok)
	wantUnauthorized(t, err, tok, "token not valid yet")
	if n := e.ks.verified.lru.Len(); n != 0 {
		t.Fatalf("cache holds %d entries after a refusal", n)
	}
	e.clock.Advance(time.Minute)
	e.verifyOnce(t, tok)
}

func TestCacheEvictsTheLeastRecentlyUsedToken(t *testing.T) {
	e := newEnv(t)
	e.ks.verified = newVerifiedCache(2)
	toks := make([]string, 3)
	for i := range toks {
		toks[i] = e.mint(t, viewer.Viewer{Kind: viewer.Operator, Subject: fmt.Sprint("ops", i)}, time.Hour)
	}
	e.verifyOnce(t, toks[0])
	e.verifyOnce(t, toks[1])
	e.verifyOnce(t, toks[0]) // now the most recent
	e.verifyOnce(t, toks[2])
	if e.cached(toks[1]) {
		t.Error("the least recently used token was kept")
	}
	if n := e.ks.verified.lru.Len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
	// Eviction costs a signature check, never an answer.
	if got := e.verifyOnce(t, toks[1]); got.Subject != "ops1" {
		t.Errorf("evicted token verified as %+v", got)
	}
}

func TestCachedVerifyIsSafeConcurrently(t *testing.T) {
	e := newEnv(t)
	e.ks.verified = newVerifiedCache(4) // smaller than the token set, so entries churn
	toks := make([]string, 8)
	want := make([]viewer.Viewer, len(toks))
	for i := range toks {
		want[i] = viewer.Viewer{Kind: viewer.Cashier, Subject: fmt.Sprint("cs_", i), MerchantID: "mer_1", SessionID: fmt.Sprint("cs_", i)}
		toks[i] = e.mint(t, want[i], time.Minute)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if err := e.ks.Reload(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := (g + i) % len(toks)
				if got, err := e.ks.Verify(toks[k]); err != nil || got != want[k] {
					t.Errorf("Verify = %+v, %v; want %+v", got, err, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkVerify compares a token's first verification (signature and claims)
// with the later ones, served from the cache.
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b)
	tok := e.mint(b, viewer.Viewer{Kind: viewer.Cashier, MerchantID: "mer_1", SessionID: "cs_01JZ8Q2X4K9V7M3N5P6R8S0T1W"}, time.Minute)
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.ks.verified.lru.Purge()
			if _, err := e.ks.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.ks.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMintedTokenIsRememberedAsVerifyWouldRememberIt: the entry Mint leaves
// is the one a full check of the token gives, so a token minted here is
// accepted, and stops being accepted, exactly as one verified here.
func TestMintedTokenIsRememberedAsVerifyWouldRememberIt(t *testing.T) {
	e := newEnv(t)
	// A clock between whole seconds, and a ttl that is not whole seconds:
	// the token's times are whole seconds.
	e.clock.now = t0.Add(1500 * time.Millisecond)
	v := viewer.Viewer{Kind: viewer.Cashier, MerchantID: "mer_1", SessionID: "cs_1", Subject: "cs_1"}
	tok := e.mint(t, v, 10*time.Minute+300*time.Millisecond)
	if !e.cached(tok) {
		t.Fatal("a minted token is not remembered")
	}
	minted, _ := e.ks.verified.lru.Peek(tokenHash(sha256.Sum256([]byte(tok))))
	checked, err := e.ks.verify(tok, e.ks.ring.Load())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if minted.viewer != checked.viewer || minted.kid != checked.kid || !minted.pub.Equal(checked.pub) ||
		!minted.from.Equal(checked.from) || !minted.until.Equal(checked.until) {
		t.Fatalf("minted entry %+v, verified entry %+v", minted, checked)
	}
	// And it is refused at the same instant as a verified one would be.
	e.clock.now = checked.until
	wantUnauthorized(t, func() error { _, err := e.ks.Verify(tok); return err }(), tok, "token expired")
}
