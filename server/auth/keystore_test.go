package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

func TestGenerateKeyWritesPrivateFilesAndListsThem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	kid, err := GenerateKey(dir, t0)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if len(kid) != 16 || !kidPattern.MatchString(kid) {
		t.Errorf("kid = %q, want 16 URL-safe characters", kid)
	}

	modes := map[string]os.FileMode{
		dir:                              keyDirMode,
		keyPath(dir, kid):                0o600,
		filepath.Join(dir, manifestName): 0o600,
	}
	for path, want := range modes {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %#o, want %#o", filepath.Base(path), got, want)
		}
	}

	data, err := os.ReadFile(keyPath(dir, kid))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.ParseEdPrivateKeyFromPEM(data); err != nil {
		t.Errorf("key file is not a PKCS#8 Ed25519 PEM: %v", err)
	}

	keys, err := ListKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Kid != kid || !keys[0].CreatedAt.Equal(t0) || keys[0].RetireAt != nil {
		t.Errorf("ListKeys = %+v", keys)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, manifestName))
	if want := `"created_at": "2030-06-01T12:00:00Z"`; !strings.Contains(string(manifest), want) {
		t.Errorf("keys.json = %s, want RFC 3339 times like %s", manifest, want)
	}
	if !strings.Contains(string(manifest), `"retire_at": null`) {
		t.Errorf("keys.json = %s, want retire_at null", manifest)
	}
}

func TestGenerateKeyGivesDistinctKids(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 5 {
		kid, err := GenerateKey(dir, t0)
		if err != nil {
			t.Fatal(err)
		}
		if seen[kid] {
			t.Fatalf("kid %q repeated", kid)
		}
		seen[kid] = true
	}
	keys, err := ListKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 {
		t.Errorf("keys.json lists %d keys, want 5", len(keys))
	}
}

func TestRetireKeyRefusesAnUnknownKid(t *testing.T) {
	e := newEnv(t)
	err := RetireKey(e.dir, "nosuchkid", t0)
	if code := payments.ErrorCode(err); code != payments.ENOTFOUND {
		t.Errorf("RetireKey: %v (code %q), want %q", err, code, payments.ENOTFOUND)
	}
}

func TestLoadKeySetFailsClearly(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{
			name:    "empty directory",
			setup:   func(t *testing.T, dir string) {},
			wantErr: "generate a signing key",
		},
		{
			name: "every key retired",
			setup: func(t *testing.T, dir string) {
				kid := generate(t, dir, t0.Add(-2*time.Hour))
				retire(t, dir, kid, t0.Add(-time.Hour))
			},
			wantErr: "retired",
		},
		{
			name: "key file missing",
			setup: func(t *testing.T, dir string) {
				kid := generate(t, dir, t0)
				os.Remove(keyPath(dir, kid))
			},
			wantErr: "no such file",
		},
		{
			name: "key file readable by others",
			setup: func(t *testing.T, dir string) {
				kid := generate(t, dir, t0)
				os.Chmod(keyPath(dir, kid), 0o644)
			},
			wantErr: "chmod 600",
		},
		{
			name: "key file not PEM",
			setup: func(t *testing.T, dir string) {
				kid := generate(t, dir, t0)
				os.WriteFile(keyPath(dir, kid), []byte("hello"), 0o600)
			},
			wantErr: "PEM block",
		},
		{
			name: "RSA key instead of Ed25519",
			setup: func(t *testing.T, dir string) {
				kid := generate(t, dir, t0)
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					t.Fatal(err)
				}
				der, _ := x509.MarshalPKCS8PrivateKey(k)
				os.WriteFile(keyPath(dir, kid), pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), 0o600)
			},
			wantErr: "not an Ed25519 key",
		},
		{
			name:    "unknown field in keys.json",
			setup:   manifest(`[{"kid":"abc","created_at":"2030-01-01T00:00:00Z","retire_at":null,"alg":"HS256"}]`),
			wantErr: "unknown field",
		},
		{
			name:    "kid that escapes the directory",
			setup:   manifest(`[{"kid":"../../etc/key","created_at":"2030-01-01T00:00:00Z","retire_at":null}]`),
			wantErr: "kid",
		},
		{
			name:    "duplicate kid",
			setup:   manifest(`[{"kid":"abc","created_at":"2030-01-01T00:00:00Z"},{"kid":"abc","created_at":"2030-01-02T00:00:00Z"}]`),
			wantErr: "listed twice",
		},
		{
			name:    "missing created_at",
			setup:   manifest(`[{"kid":"abc","retire_at":null}]`),
			wantErr: "created_at",
		},
		{
			name:    "trailing data",
			setup:   manifest(`[] []`),
			wantErr: "trailing data",
		},
		{
			name:    "not JSON",
			setup:   manifest(`kid=abc`),
			wantErr: "keys.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			ks, err := LoadKeySet(dir, func() time.Time { return t0 })
			if err == nil {
				t.Fatalf("LoadKeySet succeeded with %d keys, want an error", len(ks.Keys()))
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadKeySet: %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadKeySetSkipsRetiredKeysWhoseFilesAreGone(t *testing.T) {
	dir := t.TempDir()
	old := generate(t, dir, t0.Add(-48*time.Hour))
	current := generate(t, dir, t0.Add(-24*time.Hour))
	retire(t, dir, old, t0.Add(-time.Hour))
	if err := os.Remove(keyPath(dir, old)); err != nil {
		t.Fatal(err)
	}
	ks, err := LoadKeySet(dir, func() time.Time { return t0 })
	if err != nil {
		t.Fatalf("LoadKeySet: %v", err)
	}
	if keys := ks.Keys(); len(keys) != 1 || keys[0].Kid != current {
		t.Errorf("Keys = %+v, want only %s", keys, current)
	}
}

func TestRetiredKeyVerifiesUntilItsRetireAtOnly(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(t, viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, 3*time.Hour)

	generate(t, e.dir, t0)
	retire(t, e.dir, e.kid, t0.Add(time.Hour))
	if err := e.ks.Reload(); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Hour - time.Second)
	if _, err := e.ks.Verify(tok); err != nil {
		t.Errorf("a second before retire_at: %v", err)
	}
	// The token itself is good for two more hours; only its key has gone. The
	// leeway is for clock skew on the token's own times, not for retire_at.
	e.clock.Advance(time.Second)
	_, err := e.ks.Verify(tok)
	wantUnauthorized(t, err, tok, "invalid token")

	// A reload after retire_at drops the key altogether.
	if err := e.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	_, err = e.ks.Verify(tok)
	wantUnauthorized(t, err, tok, "invalid token")
}

func TestRotationSignsWithTheNewKeyAndKeepsOldTokensValid(t *testing.T) {
	e := newEnv(t)
	v := viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: "mer_1", Role: viewer.RoleDeveloper}
	oldTok := e.mint(t, v, time.Hour)

	e.clock.Advance(time.Minute)
	newKid := generate(t, e.dir, e.clock.Now())
	retire(t, e.dir, e.kid, e.clock.Now().Add(time.Hour))
	if err := e.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	newTok := e.mint(t, v, time.Hour)

	if got := kidOf(t, newTok); got != newKid {
		t.Errorf("new token signed by %s, want the new key %s", got, newKid)
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if got, err := e.ks.Verify(tok); err != nil || got != v {
			t.Errorf("%s token: Verify = %+v, %v", name, got, err)
		}
	}
}

func TestReloadPicksUpAKeyGeneratedElsewhere(t *testing.T) {
	// Two replicas share a key directory; one generates a key and signs with it.
	e := newEnv(t)
	other, err := LoadKeySet(e.dir, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	generate(t, e.dir, t0)
	if err := other.Reload(); err != nil {
		t.Fatal(err)
	}
	tok, err := other.Mint(viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	_, err = e.ks.Verify(tok)
	wantUnauthorized(t, err, tok, "invalid token")
	if err := e.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ks.Verify(tok); err != nil {
		t.Errorf("after Reload: %v", err)
	}
}

func TestReloadKeepsTheOldKeysWhenTheDirectoryIsBroken(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(t, viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, time.Minute)
	if err := os.WriteFile(filepath.Join(e.dir, manifestName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.ks.Reload(); err == nil {
		t.Fatal("Reload of a broken keys.json succeeded")
	}
	if _, err := e.ks.Verify(tok); err != nil {
		t.Errorf("Verify after a failed Reload: %v", err)
	}
}

func TestStagedKeyVerifiesAtOnceAndSignsFromItsCreatedAt(t *testing.T) {
	e := newEnv(t)
	staged := generate(t, e.dir, t0.Add(10*time.Minute))
	if err := e.ks.Reload(); err != nil {
		t.Fatal(err)
	}
	v := viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}
	if got := kidOf(t, e.mint(t, v, time.Minute)); got != e.kid {
		t.Errorf("before created_at, signed by %s, want %s", got, e.kid)
	}

	// Another replica that already has the staged key may sign with it early
	// (its clock runs ahead); this one verifies such tokens.
	c := e.claims()
	h := map[string]any{"typ": TokenType, "kid": staged}
	stagedPriv, err := readPrivateKey(e.dir, staged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ks.Verify(sign(t, jwt.SigningMethodEdDSA, stagedPriv, h, c)); err != nil {
		t.Errorf("token from the staged key: %v", err)
	}

	e.clock.Advance(10 * time.Minute)
	if got := kidOf(t, e.mint(t, v, time.Minute)); got != staged {
		t.Errorf("after created_at, signed by %s, want %s", got, staged)
	}
}

func generate(t *testing.T, dir string, at time.Time) string {
	t.Helper()
	kid, err := GenerateKey(dir, at)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return kid
}

func retire(t *testing.T, dir, kid string, at time.Time) {
	t.Helper()
	if err := RetireKey(dir, kid, at); err != nil {
		t.Fatalf("RetireKey: %v", err)
	}
}

func manifest(content string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &claims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

func TestReloadIsSafeWhileVerifying(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(t, viewer.Viewer{Kind: viewer.Operator, Subject: "ops"}, time.Hour)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if err := e.ks.Reload(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		if _, err := e.ks.Verify(tok); err != nil {
			t.Fatalf("Verify during Reload: %v", err)
		}
	}
	<-done
}
