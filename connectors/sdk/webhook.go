package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// DefaultWebhookTolerance is how far a webhook's timestamp may be from our
// clock. Five minutes is the common industry window: wide enough for clock
// skew and retries in flight, narrow enough to make a captured request
// useless for replay soon after.
const DefaultWebhookTolerance = 5 * time.Minute

// ErrBadSignature is returned (wrapped) for a forged or stale webhook.
var ErrBadSignature = errors.New("webhook signature invalid")

// Webhook verifies HMAC-SHA256 webhook signatures. The signed message is
// the parts passed to Verify joined by ".", the usual shape (Stripe signs
// "timestamp.body", the sandbox "id.timestamp.body").
type Webhook struct {
	Secret    []byte
	Tolerance time.Duration    // zero means DefaultWebhookTolerance
	Now       func() time.Time // nil means time.Now; tests fix the clock
}

// Verify checks that signatureHex is the HMAC-SHA256 of parts joined by
// "." and that timestamp (Unix seconds) is within the tolerance. The
// comparison runs in constant time.
func (w Webhook) Verify(timestamp, signatureHex string, parts ...[]byte) error {
	if len(w.Secret) == 0 {
		return fmt.Errorf("%w: no webhook secret configured", ErrBadSignature)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, timestamp)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	tol := w.Tolerance
	if tol == 0 {
		tol = DefaultWebhookTolerance
	}
	if d := now().Sub(time.Unix(ts, 0)); d > tol || d < -tol {
		return fmt.Errorf("%w: timestamp off by %s", ErrBadSignature, d.Round(time.Second))
	}
	got, err := hex.DecodeString(signatureHex)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	if !hmac.Equal(got, sum(w.Secret, parts)) {
		return fmt.Errorf("%w: mismatch", ErrBadSignature)
	}
	return nil
}

// Sign returns the hex HMAC-SHA256 of parts joined by ".", as Verify
// expects it. Tests use it to forge good webhooks.
func (w Webhook) Sign(parts ...[]byte) string { return hex.EncodeToString(sum(w.Secret, parts)) }

func sum(secret []byte, parts [][]byte) []byte {
	m := hmac.New(sha256.New, secret)
	for i, p := range parts {
		if i > 0 {
			m.Write([]byte{'.'})
		}
		m.Write(p)
	}
	return m.Sum(nil)
}
