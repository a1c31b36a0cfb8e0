package conformance_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/conformance"
	"github.com/straitpay/strait/connectors/sdk"
)

const secret = "whsec_kit"

// kitConfig is the kit's configuration for internal/kitsubject built into
// bin, misbehaving as named ("" for not at all).
func kitConfig(bin, misbehave string) conformance.Config {
	return conformance.Config{
		Binary: bin,
		Config: map[string]string{"webhook_secret": secret, "misbehave": misbehave},
		WaitingAuthorize: connectors.AuthorizeRequest{Card: &connectors.Card{Number: "4000000000000069", ExpMonth: 12,
			ExpYear: time.Now().Year() + 2, CVC: "123"}},
		SignedWebhook: func(t *testing.T, p conformance.Payment) connectors.HTTPRequest {
			body, _ := json.Marshal(map[string]string{"id": "n_" + p.Reference, "paymentID": p.ID, "reference": p.Reference})
			ts := fmt.Sprint(time.Now().Unix())
			return connectors.HTTPRequest{Method: http.MethodPost, Path: "/webhook", Body: body, Headers: http.Header{
				"Content-Type": {"application/json"}, "Kit-Timestamp": {ts},
				"Kit-Signature": {sdk.Webhook{Secret: []byte(secret)}.Sign([]byte(ts), body)},
			}}
		},
	}
}

func buildSubject(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kitsubject")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/kitsubject").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// The kit passes a connector that keeps the contract.
func TestKitPassesAConformingConnector(t *testing.T) {
	conformance.Run(t, kitConfig(buildSubject(t), ""))
}

// TestKitSubject runs the kit against the subject misbehaving as
// $KIT_SUBJECT_MISBEHAVE; TestKitCatches runs it in a child process, since
// the kit failing is the point.
func TestKitSubject(t *testing.T) {
	mode, bin := os.Getenv("KIT_SUBJECT_MISBEHAVE"), os.Getenv("KIT_SUBJECT_BINARY")
	if bin == "" {
		t.Skip("run by TestKitCatches")
	}
	cfg := kitConfig(bin, mode)
	if mode == "no_signed_webhook" {
		cfg.SignedWebhook = nil
	}
	conformance.Run(t, cfg)
}

// The kit fails a connector that answers 401 to every webhook, that takes
// an unsigned one, that leaves a voided payment waiting for the buyer, or
// that answers an unknown reference with an error; and it refuses to pass a
// webhook connector without a way to sign a notification. Each fault fails
// its own check and no other.
func TestKitCatches(t *testing.T) {
	bin := buildSubject(t)
	for mode, check := range map[string]string{
		"webhook_401":       "SignedWebhookIsAccepted",
		"webhook_unsigned":  "ForgedWebhookIsRefused",
		"void_waiting":      "VoidWhileWaitingForTheBuyer",
		"unknown_error":     "UnknownReferenceIsNotFound",
		"no_signed_webhook": "SignedWebhookIsAccepted",
	} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestKitSubject$", "-test.v")
			cmd.Env = append(os.Environ(), "KIT_SUBJECT_MISBEHAVE="+mode, "KIT_SUBJECT_BINARY="+bin)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed a connector misbehaving as %s:\n%s", mode, out)
			}
			var failed []string
			for _, line := range strings.Split(string(out), "\n") {
				if f, ok := strings.CutPrefix(strings.TrimSpace(line), "--- FAIL: TestKitSubject/"); ok {
					failed = append(failed, strings.Fields(f)[0])
				}
			}
			if len(failed) != 1 || failed[0] != check {
				t.Fatalf("misbehaving as %s failed %v, want only %s:\n%s", mode, failed, check, out)
			}
		})
	}
}
