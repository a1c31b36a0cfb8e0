package conformance_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/straitpay/strait/connectors/conformance"
)

// The kit passes against the host's test plugin, a connector that
// declares authorize, preauth, refund, query and webhooks.
func TestKitPassesForTheTestPlugin(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "testplugin")
	if out, err := exec.Command("go", "build", "-o", bin, "../host/internal/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	conformance.Run(t, conformance.Config{Binary: bin})
}
