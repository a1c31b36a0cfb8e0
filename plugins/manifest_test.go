package plugins_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/straitpay/strait/connectors/host"
)

// runManifest runs plugins/manifest.sh on dir, which holds stand-ins for
// the four reference binaries.
func runManifest(t *testing.T, dir string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", "manifest.sh", dir)
	cmd.Env = append(os.Environ(), "SANDBOX_URL=http://127.0.0.1:8090", "STRAIT_PUBLIC_URL=http://127.0.0.1:8080")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := host.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name+":"+e.Binary)
	}
	return n
}

// make build rewrites the manifest on every build: it keeps the connectors
// dropped into manifest.d/, lets a drop-in replace a reference entry, and
// refuses to drop an entry somebody added to manifest.json by hand.
func TestManifestKeepsThirdPartyConnectors(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"cardnet", "bank", "wallet", "fx"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runManifest(t, dir); err != nil {
		t.Fatalf("manifest.sh: %v\n%s", err, out)
	}
	if got := strings.Join(names(t, dir), " "); got != "cardnet:cardnet bank:bank wallet:wallet fx:fx" {
		t.Fatalf("reference manifest: %s", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, host.ManifestFile))
	if !strings.Contains(string(b), `"webhook_secret": "${SANDBOX_WEBHOOK_SECRET}"`) {
		t.Errorf("the reference entries name ${SANDBOX_WEBHOOK_SECRET}:\n%s", b)
	}

	// A third-party connector and a replaced fx, as drop-ins.
	d := filepath.Join(dir, "manifest.d")
	os.Mkdir(d, 0o755)
	acme := `{"name": "acme", "binary": "/opt/acme/acme", "sha256": "` + strings.Repeat("ab", 32) + `",
  "config": {"base_url": "http://127.0.0.1:9999", "api_key": "${ACME_API_KEY}"}}`
	fx := `{"name": "fx", "binary": "fx", "sha256": "` + strings.Repeat("cd", 32) + `", "enabled": false}`
	os.WriteFile(filepath.Join(d, "acme.json"), []byte(acme+"\n"), 0o644)
	os.WriteFile(filepath.Join(d, "fx.json"), []byte(fx), 0o644)
	for range 2 { // and again: a rebuild keeps them
		if out, err := runManifest(t, dir); err != nil {
			t.Fatalf("manifest.sh with drop-ins: %v\n%s", err, out)
		}
	}
	got := strings.Join(names(t, dir), " ")
	if got != "cardnet:cardnet bank:bank wallet:wallet acme:/opt/acme/acme fx:fx" {
		t.Fatalf("merged manifest: %s", got)
	}
	entries, _ := host.ReadManifest(dir)
	if e := entries[4]; e.Enabled == nil || *e.Enabled || e.SHA256 != strings.Repeat("cd", 32) {
		t.Errorf("the fx drop-in did not replace the generated entry: %+v", e)
	}

	// An entry added to manifest.json by hand is not silently dropped.
	os.Remove(filepath.Join(d, "acme.json"))
	before, _ := os.ReadFile(filepath.Join(dir, host.ManifestFile))
	out, err := runManifest(t, dir)
	if err == nil || !strings.Contains(out, `entry for "acme" that is not in`) {
		t.Fatalf("manifest.sh dropped a hand-added entry: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, host.ManifestFile)); string(after) != string(before) {
		t.Error("manifest.sh changed a manifest it refused")
	}
}

// make build builds the connectors as docs/connectors.md promises, static
// binaries (CGO_ENABLED=0), and a connector built so has no ELF
// interpreter: it needs no C library on the host.
func TestMakeBuildsStaticConnectors(t *testing.T) {
	out, err := exec.Command("make", "-C", "..", "-n", "build").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "./plugins/cardnet") && strings.Contains(l, " build ") {
			line = l
		}
	}
	if !strings.HasPrefix(line, "CGO_ENABLED=0 ") {
		t.Fatalf("make build builds the connectors with %q, want CGO_ENABLED=0", line)
	}
	bin := filepath.Join(t.TempDir(), "fx")
	cmd := exec.Command("go", "build", "-o", bin, "./fx")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Skipf("not an ELF binary on this platform: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the connector is dynamically linked")
		}
	}
}
