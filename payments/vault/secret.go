package vault

import (
	"encoding/base64"
	"strings"
)

// sealedPrefix starts every sealed secret's text form, so a stored value
// says by itself whether it is sealed (a value written before sealing
// existed is in clear).
const sealedPrefix = "sealed:v1:"

// secretAAD is the associated data of a secret sealed for record: it
// cannot collide with a PAN's (a token id), and an envelope copied onto
// another record does not open.
func secretAAD(record string) string { return "secret:" + record }

// SealSecret encrypts a secret Strait must read back in clear (a webhook
// signing secret) for the record named by record (e.g.
// "webhook_endpoint:we_…"), the way a PAN is: a fresh DEK under
// AES-256-GCM, wrapped by the active KEK, both bound to the record. It
// returns the envelope's text form ("sealed:v1:<kek>:…", at most 300 bytes
// for a secret of up to 64 bytes), which names its KEK so rotation can
// rewrap it.
func (r *KeyRing) SealSecret(plaintext []byte, record string) (string, error) {
	e, err := r.sealData("", plaintext, secretAAD(record))
	if err != nil {
		return "", err
	}
	return sealedText(e), nil
}

// OpenSecret decrypts what SealSecret returned for the same record. It
// returns an error, the same for every cause (not sealed, malformed,
// tampered, another record's, or a KEK no longer in the ring), which never
// quotes the value.
func (r *KeyRing) OpenSecret(sealed, record string) ([]byte, error) {
	e, ok := parseSealed(sealed)
	if !ok {
		return nil, errOpen
	}
	return r.openData("", e, secretAAD(record))
}

// RewrapSecret returns sealed with its DEK wrapped under the active KEK,
// the ciphertext untouched (what Rotate does to a card), and whether that
// changed anything: a secret already under the active KEK is returned as it
// is. Returns OpenSecret's error for a value that does not open.
func (r *KeyRing) RewrapSecret(sealed, record string) (string, bool, error) {
	e, ok := parseSealed(sealed)
	if !ok {
		return "", false, errOpen
	}
	if e.KEKID == r.active {
		return sealed, false, nil
	}
	e, err := r.rewrap(e, secretAAD(record))
	if err != nil {
		return "", false, err
	}
	return sealedText(e), true, nil
}

// IsSealed reports whether a stored value is a sealed secret's text form
// (and not a value still in clear).
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

func sealedText(e Envelope) string {
	enc := base64.RawURLEncoding
	return sealedPrefix + e.KEKID + ":" + enc.EncodeToString(e.WrappedDEK) + ":" +
		enc.EncodeToString(e.Nonce) + ":" + enc.EncodeToString(e.Ciphertext)
}

func parseSealed(s string) (Envelope, bool) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return Envelope{}, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 4 || !keyIDPattern.MatchString(parts[0]) {
		return Envelope{}, false
	}
	enc := base64.RawURLEncoding
	var e Envelope
	var err1, err2, err3 error
	e.KEKID = parts[0]
	e.WrappedDEK, err1 = enc.DecodeString(parts[1])
	e.Nonce, err2 = enc.DecodeString(parts[2])
	e.Ciphertext, err3 = enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil {
		return Envelope{}, false
	}
	return e, true
}
