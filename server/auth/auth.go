// Package auth mints and verifies Strait's access tokens: JWTs signed with
// Ed25519 keys that live as files in a key directory and rotate without downtime.
//
// It knows nothing of HTTP. The server reads the bearer token, calls
// KeySet.Verify, and puts the resulting viewer.Viewer in the request context.
// Every verification failure is a *payments.Error with code
// payments.EUNAUTHORIZED and a message that is safe to show to the caller.
package auth

import (
	"time"

	"github.com/straitpay/strait/payments"
)

// Fixed parts of every Strait access token. They are checked on every Verify, so
// a JWT minted by some other system for some other purpose, even with a key we
// trust, is refused.
const (
	// Issuer is the iss claim.
	Issuer = "strait"
	// Audience is the value the aud claim must contain.
	Audience = "strait-api"
	// TokenType is the typ header. An explicit type (RFC 8725 §3.11) stops a
	// token of another kind signed by the same key from passing as an access token.
	TokenType = "strait-access+jwt"
)

// Limits.
const (
	// MaxTokenSize bounds the token Verify will look at. A Strait token is a few
	// hundred bytes; 8 KiB leaves room for long IDs while refusing a 1 MB header
	// before any base64 or JSON decoding is spent on it.
	MaxTokenSize = 8 << 10
	// Leeway absorbs clock skew between the replica that minted a token and the
	// one verifying it, for exp, nbf and iat. It does not extend a key's retire_at.
	Leeway = 30 * time.Second
	// MaxCashierTTL caps a cashier token's lifetime: it rides in a buyer's
	// browser for one checkout, so it must be worth little once the checkout is over.
	MaxCashierTTL = 30 * time.Minute
)

// unauthorized returns the error every verification failure turns into. The
// message is fixed text: it never carries the token or what was inside it.
func unauthorized(msg string) *payments.Error {
	return payments.Errorf(payments.EUNAUTHORIZED, "%s", msg)
}
