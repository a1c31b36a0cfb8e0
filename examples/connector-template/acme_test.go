package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/conformance"

	"example.com/acme-connector/fakechannel"
)

// TestConformance builds the connector and runs Strait's conformance kit
// against it, talking to the fake channel.
func TestConformance(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "acme")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	channel := fakechannel.Start(t)
	conformance.Run(t, conformance.Config{
		Binary: bin,
		Config: channel.Config(),
		// The card that needs 3-D Secure: the kit voids it while it waits.
		WaitingAuthorize: connectors.AuthorizeRequest{Card: &connectors.Card{Number: "4000000000000069", ExpMonth: 12, ExpYear: 2040, CVC: "123"}},
		CompleteAction:   channel.Approve,
		SignedWebhook:    channel.SignedWebhook,
	})
}
