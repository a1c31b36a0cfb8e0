package sdk

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// IdempotencyKey derives the key a connector sends to its channel from
// Strait's idempotency key and the operation ("authorize", "capture",
// "refund", …). The same inputs always give the same key, so a retry of
// the same Strait attempt is a replay at the channel, never a second
// charge; different operations never collide. The result is 32 characters
// of lower-case base32, which every channel we know accepts.
func IdempotencyKey(operation, straitKey string) string {
	h := sha256.Sum256([]byte("strait/" + operation + "/" + straitKey))
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:20])
	return strings.ToLower(s)
}
