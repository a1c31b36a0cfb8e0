package app_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/server/app"
)

// TestVaultKeysDevGeneratesOnceAndProductionRefuses: dev mode makes keys once
// and reuses them across restarts (the same card keeps its fingerprint);
// outside dev mode no keys means no vault.
func TestVaultKeysDevGeneratesOnceAndProductionRefuses(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{Dev: true, DataDir: dir}
	first, err := app.LoadVaultKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "vault.keys"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	second, err := app.LoadVaultKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pan, _, err := vault.ParsePAN("4242424242424242", vault.DefaultBINTable)
	if err != nil {
		t.Fatal(err)
	}
	if first.Ring.Active() != second.Ring.Active() || first.Fingerprints.Fingerprint(pan) != second.Fingerprints.Fingerprint(pan) {
		t.Error("a restart in dev mode got different keys")
	}
	if _, err := app.LoadVaultKeys(app.Config{DataDir: t.TempDir()}); err == nil {
		t.Error("outside dev mode, missing keys must keep the vault off")
	}
	if _, err := app.LoadVaultKeys(app.Config{VaultKeys: "k1:short", VaultFingerprintKey: vault.GenerateKey()}); err == nil {
		t.Error("a malformed key ring was accepted")
	}
}
