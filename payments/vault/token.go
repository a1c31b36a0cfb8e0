package vault

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/straitpay/strait/payments"
)

// Token names a card in the vault. Its body is letters only, so it is never
// Luhn-valid and has no digit run that a scan for card numbers could flag.
type Token string

// Token prefixes. A "tok_" token is for one checkout; a "card_" token is a card
// saved to a customer.
const (
	OneTimePrefix = "tok_"
	SavedPrefix   = "card_"
)

// tokenBodyLen letters from a 26-letter alphabet give log2(26^24) ≈ 112 bits of
// randomness: unguessable, and short enough for logs and URLs.
const tokenBodyLen = 24

const letters = "abcdefghijklmnopqrstuvwxyz"

// newToken returns prefix followed by tokenBodyLen random lowercase letters.
func newToken(prefix string) Token {
	b := make([]byte, 0, len(prefix)+tokenBodyLen)
	b = append(b, prefix...)
	var buf [64]byte
	for len(b) < cap(b) {
		_, _ = rand.Read(buf[:])
		for _, c := range buf {
			// 234 = 9*26: rejecting the top 22 byte values keeps every letter
			// equally likely.
			if c < 234 && len(b) < cap(b) {
				b = append(b, letters[c%26])
			}
		}
	}
	return Token(b)
}

// ParseToken checks that s has a known prefix and a well-formed body. Returns
// EINVALID with field "token" otherwise.
func ParseToken(s string) (Token, error) {
	body, ok := strings.CutPrefix(s, OneTimePrefix)
	if !ok {
		body, ok = strings.CutPrefix(s, SavedPrefix)
	}
	if !ok || len(body) != tokenBodyLen || strings.Trim(body, letters) != "" {
		return "", payments.FieldErrorf("token", "not a card token")
	}
	return Token(s), nil
}

// IsSaved reports whether t names a saved card.
func (t Token) IsSaved() bool { return strings.HasPrefix(string(t), SavedPrefix) }

// String returns the token.
func (t Token) String() string { return string(t) }

// Fingerprinter computes PAN fingerprints: HMAC-SHA256 of the digits under a key
// kept apart from the key ring, so the same card always gets the same
// fingerprint (for dedupe and velocity) while the fingerprint alone, even with
// the database, cannot be brute-forced back to a PAN without the key.
type Fingerprinter struct{ key []byte }

// NewFingerprinter returns a Fingerprinter for a key of at least 32 bytes (the
// decoded value of STRAIT_VAULT_FINGERPRINT_KEY). Changing the key changes every
// fingerprint, which resets dedupe and velocity history; it is not rotated with
// the KEKs.
func NewFingerprinter(key []byte) (*Fingerprinter, error) {
	if len(key) < 32 {
		return nil, errors.New("vault: fingerprint key must have at least 32 bytes")
	}
	return &Fingerprinter{key: append([]byte(nil), key...)}, nil
}

// ParseFingerprintKey decodes the configuration form of the fingerprint key
// (base64, like the KEKs) into a Fingerprinter.
func ParseFingerprintKey(s string) (*Fingerprinter, error) {
	k, err := decodeKey(s)
	if err != nil {
		return nil, errors.New("vault: fingerprint key " + err.Error())
	}
	return NewFingerprinter(k)
}

// Fingerprint returns "fp_" followed by the MAC in a letters-only hex alphabet
// (a-p for 0-f): digits never appear, for the same reason as in tokens.
func (f *Fingerprinter) Fingerprint(p PAN) string {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(p.digits()))
	sum := m.Sum(nil)
	out := make([]byte, 0, 3+2*len(sum))
	out = append(out, "fp_"...)
	for _, c := range sum {
		out = append(out, 'a'+c>>4, 'a'+c&0x0f)
	}
	return string(out)
}
