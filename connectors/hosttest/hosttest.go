// Package hosttest runs connector plugins under the real plugin host for
// tests: it builds Strait's reference plugins once per test binary, installs
// binaries in a plugin directory with a manifest that carries their checksums,
// starts a host.Manager, and gives the reference plugins the settings that
// reach a channel (Channel). It knows nothing of the sandbox: the kit that
// starts one with a host is sandbox/sandboxtest.
//
// A package that calls Binary runs its tests through Main, so the binaries
// it built are removed afterwards:
//
//	func TestMain(m *testing.M) { hosttest.Main(m) }
package hosttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/straitpay/strait/connectors/host"
)

// pluginPackage is where the reference plugins live; building by import path
// works from any package directory of the module.
const pluginPackage = "github.com/straitpay/strait/plugins/"

// built holds the reference plugins built by this test binary, by name. A
// plugin is built once, on first use: go build's own cache makes compiling
// cheap, but linking a plugin takes a second or two every time.
var built struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*binary
}

type binary struct {
	once sync.Once
	path string
	err  error
}

// Main runs m's tests, removes the plugin binaries Binary built, and exits
// with the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	built.mu.Lock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	built.mu.Unlock()
	os.Exit(code)
}

// Binary returns the path of the reference plugin plugins/<name>, built on
// first use and shared by every test of this test binary. The file must not
// be changed; Install copies it.
func Binary(t testing.TB, name string) string {
	t.Helper()
	built.mu.Lock()
	if built.bins == nil {
		built.bins = map[string]*binary{}
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "strait-plugins-")
		if err != nil {
			built.mu.Unlock()
			t.Fatalf("hosttest: %v", err)
		}
		built.dir = dir
	}
	b, ok := built.bins[name]
	if !ok {
		b = &binary{path: filepath.Join(built.dir, name)}
		built.bins[name] = b
	}
	built.mu.Unlock()

	// Outside the lock, so that parallel tests build different plugins at once.
	b.once.Do(func() {
		if out, err := exec.Command("go", "build", "-o", b.path, pluginPackage+name).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build plugin %s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("hosttest: %v", b.err)
	}
	return b.path
}

// Connector is one entry of a plugin directory's manifest.
type Connector struct {
	// Name is the connector's name in the manifest.
	Name string
	// Binary is the path of the plugin binary; Install copies it.
	Binary string
	// Config is handed to the plugin through Configure.
	Config map[string]string
}

// Install copies each connector's binary into dir and writes dir's manifest,
// each entry with the SHA-256 of the bytes it copied. Connectors sharing a
// binary share its copy.
func Install(t testing.TB, dir string, conns ...Connector) {
	t.Helper()
	entries := make([]host.Entry, 0, len(conns))
	for _, c := range conns {
		raw, err := os.ReadFile(c.Binary)
		if err != nil {
			t.Fatalf("hosttest: %v", err)
		}
		file := filepath.Base(c.Binary)
		if err := os.WriteFile(filepath.Join(dir, file), raw, 0o755); err != nil {
			t.Fatalf("hosttest: %v", err)
		}
		sum := sha256.Sum256(raw)
		entries = append(entries, host.Entry{Name: c.Name, Binary: file, SHA256: hex.EncodeToString(sum[:]), Config: c.Config})
	}
	manifest, err := json.Marshal(entries)
	if err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, host.ManifestFile), manifest, 0o644); err != nil {
		t.Fatalf("hosttest: %v", err)
	}
}

// Start starts a host on cfg.Dir, closes it when the test ends, and fails the
// test unless every connector in the manifest came up. A nil cfg.Logger
// discards the host's and the plugins' logs.
func Start(t testing.TB, cfg host.Config) *host.Manager {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := host.New(cfg)
	if err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("hosttest: start host: %v", err)
	}
	for _, st := range m.List() {
		if st.Health != host.HealthUp {
			t.Fatalf("hosttest: connector %s is %s (%s)", st.Name, st.Health, st.LastError)
		}
	}
	return m
}
