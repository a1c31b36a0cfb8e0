// Package examples_test keeps examples/connector-template working: it is
// built and tested as a connector author would, outside this repository.
package examples_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// copyTree copies the directory src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The template is copied to a folder of its own with its replace directive
// pointing at this checkout (what docs/connectors.md tells an author to do
// with a clone), then its conformance test runs there: the connector
// builds from Strait's public packages alone and passes the kit against its
// fake channel. A reference plugin copied next to it builds too, so the
// plugins a connector author is told to copy import nothing internal.
func TestConnectorTemplateBuildsOutsideTheRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module and runs the conformance kit")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "acme-connector")
	copyTree(t, "connector-template", dir)
	gomod := filepath.Join(dir, "go.mod")
	b, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	const local = "replace github.com/straitpay/strait => ../.."
	if !strings.Contains(string(b), local) {
		t.Fatalf("go.mod lacks %q", local)
	}
	os.WriteFile(gomod, []byte(strings.Replace(string(b), local, "replace github.com/straitpay/strait => "+root, 1)), 0o644)
	copyTree(t, filepath.Join(root, "plugins", "cardnet"), filepath.Join(dir, "cmd", "cardnet"))

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in a copy of the template: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("vet", "./...")
	out := run("test", "-count=1", "-v", "-run", "TestConformance", ".")
	for _, want := range []string{"--- PASS: TestConformance/SignedWebhookIsAccepted", "--- PASS: TestConformance/VoidWhileWaitingForTheBuyer", "ok  \texample.com/acme-connector"} {
		if !strings.Contains(out, want) {
			t.Errorf("the template's conformance run lacks %q:\n%s", want, out)
		}
	}
}
