package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeySize is the size of a key-encryption key (KEK) and of each data-encryption
// key (DEK): 32 bytes, for AES-256.
const KeySize = 32

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// KeyRing holds the key-encryption keys (KEKs) by id. The first key is active:
// new envelopes and rotation wrap DEKs under it. The others only unwrap, until
// an operator removes them from the configuration after a rotation. The raw key
// bytes are not kept, only the AES-GCM instances built from them, so a KeyRing
// cannot leak key material through fmt or a heap dump of its fields.
type KeyRing struct {
	active string
	order  []string
	aeads  map[string]cipher.AEAD
}

// ParseKeyRing reads a key ring from its configuration form, the value of
// STRAIT_VAULT_KEYS: comma-separated "id:base64" pairs, active key first, e.g.
// "k2:base64...,k1:base64...". Ids are 1 to 32 characters of [A-Za-z0-9_.-];
// keys are standard or URL base64 (padded or not) of exactly 32 bytes. Returns an
// error for an empty ring, a malformed pair, a bad key size or a duplicate id; the
// error never quotes key material.
func ParseKeyRing(spec string) (*KeyRing, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("vault: key ring is empty")
	}
	r := &KeyRing{aeads: map[string]cipher.AEAD{}}
	for i, pair := range strings.Split(spec, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("vault: key ring entry %d: want id:base64 with a 1-32 character id", i+1)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("vault: key %s: %w", id, err)
		}
		if err := r.add(id, key); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// NewKeyRing builds a key ring from raw keys, active first. It is for tests and
// for callers that fetch keys from a KMS; ParseKeyRing is the configuration path.
func NewKeyRing(ids []string, keys [][]byte) (*KeyRing, error) {
	if len(ids) == 0 || len(ids) != len(keys) {
		return nil, errors.New("vault: key ring needs one id per key and at least one key")
	}
	r := &KeyRing{aeads: map[string]cipher.AEAD{}}
	for i, id := range ids {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("vault: bad key id %q", id)
		}
		if err := r.add(id, keys[i]); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *KeyRing) add(id string, key []byte) error {
	if _, dup := r.aeads[id]; dup {
		return fmt.Errorf("vault: duplicate key id %q", id)
	}
	if len(key) != KeySize {
		return fmt.Errorf("vault: key %s has %d bytes, want %d", id, len(key), KeySize)
	}
	a, err := newGCM(key)
	if err != nil {
		return fmt.Errorf("vault: key %s: %w", id, err)
	}
	if r.active == "" {
		r.active = id
	}
	r.order = append(r.order, id)
	r.aeads[id] = a
	return nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("has %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("is not valid base64")
}

// Active returns the id of the active KEK.
func (r *KeyRing) Active() string { return r.active }

// IDs returns the key ids, active first.
func (r *KeyRing) IDs() []string { return append([]string(nil), r.order...) }

// GenerateKey returns a fresh random 256-bit key in the base64 form
// ParseKeyRing reads; operators use it (through the strait CLI) to add a KEK.
func GenerateKey() string {
	return base64.StdEncoding.EncodeToString(randomBytes(KeySize))
}

// Envelope is a PAN encrypted at rest. The PAN is sealed with a fresh random DEK
// under AES-256-GCM; the DEK is sealed under the KEK named by KEKID. Both seals
// take the token id as associated data, so an envelope copied onto another
// record fails to open. Rotation replaces KEKID and WrappedDEK only.
type Envelope struct {
	KEKID string
	// WrappedDEK is the GCM nonce followed by the sealed DEK.
	WrappedDEK []byte
	// Nonce is the GCM nonce of Ciphertext.
	Nonce []byte
	// Ciphertext is the sealed PAN digits, with the GCM tag.
	Ciphertext []byte
}

// errOpen is what every failure to open an envelope becomes: a tampered
// ciphertext, a swapped envelope and an unknown key are not told apart, so the
// error gives an attacker nothing to probe with.
var errOpen = errors.New("vault: envelope does not open")

// seal encrypts a PAN for the record named by aad.
func (r *KeyRing) seal(plaintext []byte, aad string) (Envelope, error) {
	return r.sealData("pan:", plaintext, aad)
}

// sealData encrypts plaintext under a fresh DEK with kind+aad as its
// associated data, and wraps the DEK under the active KEK for aad.
func (r *KeyRing) sealData(kind string, plaintext []byte, aad string) (Envelope, error) {
	dek := randomBytes(KeySize)
	defer clear(dek)
	d, err := newGCM(dek)
	if err != nil {
		return Envelope{}, err
	}
	nonce := randomBytes(d.NonceSize())
	ct := d.Seal(nil, nonce, plaintext, []byte(kind+aad))
	wrapped, err := r.wrap(r.active, dek, aad)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{KEKID: r.active, WrappedDEK: wrapped, Nonce: nonce, Ciphertext: ct}, nil
}

// open decrypts a PAN's envelope sealed for aad.
func (r *KeyRing) open(e Envelope, aad string) ([]byte, error) {
	return r.openData("pan:", e, aad)
}

// openData decrypts an envelope sealed by sealData(kind, …, aad).
func (r *KeyRing) openData(kind string, e Envelope, aad string) ([]byte, error) {
	dek, err := r.unwrap(e, aad)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	d, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	if len(e.Nonce) != d.NonceSize() {
		return nil, errOpen
	}
	pt, err := d.Open(nil, e.Nonce, e.Ciphertext, []byte(kind+aad))
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// rewrap returns e with its DEK wrapped under the active KEK; the ciphertext is
// untouched.
func (r *KeyRing) rewrap(e Envelope, aad string) (Envelope, error) {
	dek, err := r.unwrap(e, aad)
	if err != nil {
		return Envelope{}, err
	}
	defer clear(dek)
	wrapped, err := r.wrap(r.active, dek, aad)
	if err != nil {
		return Envelope{}, err
	}
	e.KEKID, e.WrappedDEK = r.active, wrapped
	return e, nil
}

// wrapAAD binds a wrapped DEK to its KEK id and its record.
func wrapAAD(kekID, aad string) []byte { return []byte("dek:" + kekID + ":" + aad) }

func (r *KeyRing) wrap(kekID string, dek []byte, aad string) ([]byte, error) {
	k, ok := r.aeads[kekID]
	if !ok {
		return nil, fmt.Errorf("vault: no key %q", kekID)
	}
	nonce := randomBytes(k.NonceSize())
	return k.Seal(nonce, nonce, dek, wrapAAD(kekID, aad)), nil
}

func (r *KeyRing) unwrap(e Envelope, aad string) ([]byte, error) {
	k, ok := r.aeads[e.KEKID]
	if !ok || len(e.WrappedDEK) < k.NonceSize() {
		return nil, errOpen
	}
	n := k.NonceSize()
	dek, err := k.Open(nil, e.WrappedDEK[:n], e.WrappedDEK[n:], wrapAAD(e.KEKID, aad))
	if err != nil || len(dek) != KeySize {
		return nil, errOpen
	}
	return dek, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// randomBytes returns n bytes from crypto/rand, which never fails on the
// platforms Go supports (it panics if the OS source is broken).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
