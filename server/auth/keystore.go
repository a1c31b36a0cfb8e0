package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/straitpay/strait/payments"
)

// The key directory holds one PEM file per Ed25519 private key (PKCS#8), named
// <kid>.pem with mode 0600, and keys.json, which lists them:
//
//	[{"kid": "...", "created_at": "2025-01-01T00:00:00Z", "retire_at": null}]
//
// keys.json is the source of truth: a PEM file it does not list is ignored. The
// key commands rewrite it atomically, but two of them must not run at once on
// the same directory.
const (
	manifestName = "keys.json"
	pemType      = "PRIVATE KEY"
	keyFileMode  = 0o600
	keyDirMode   = 0o700
)

// kidPattern bounds what a kid may be. A kid becomes a file name, so this is also
// what keeps "../" out of the key directory.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// kidEncoding gives 16 lowercase characters for 10 random bytes: URL- and
// file-name-safe, and never starting with "-".
var kidEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// KeyInfo describes one key listed in keys.json.
type KeyInfo struct {
	Kid       string     `json:"kid"`
	CreatedAt time.Time  `json:"created_at"`
	RetireAt  *time.Time `json:"retire_at"`
}

// Retired reports whether the key no longer verifies at now.
func (k KeyInfo) Retired(now time.Time) bool {
	return k.RetireAt != nil && !now.Before(*k.RetireAt)
}

// DefaultDir returns the key directory inside Strait's data directory.
func DefaultDir(dataDir string) string {
	return filepath.Join(dataDir, "keys")
}

// GenerateKey creates a new Ed25519 key in dir, creating dir if needed, and lists
// it in keys.json with created_at = now. It returns the new key's kid.
//
// The newest key whose created_at has passed signs new tokens, so the new key
// takes over signing at now. Passing a time in the future stages the key: every
// replica that reloads before then verifies its tokens, and it starts signing
// once that time comes.
func GenerateKey(dir string, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, keyDirMode); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	keys, err := readManifest(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("generate key: %w", err)
	}

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	kid := newKid()
	path := keyPath(dir, kid)
	if err := writeNewFile(path, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}

	keys = append(keys, KeyInfo{Kid: kid, CreatedAt: now.UTC()})
	if err := writeManifest(dir, keys); err != nil {
		// An unlisted key file is harmless, but do not leave secrets lying around.
		_ = os.Remove(path)
		return "", fmt.Errorf("generate key: %w", err)
	}
	return kid, nil
}

// RetireKey sets the retire_at of key kid in dir to at: from then on the key
// neither signs nor verifies. To rotate, generate a new key first, then retire
// the old one at the moment its last token expires. Returns ENOTFOUND if keys.json
// does not list kid.
func RetireKey(dir, kid string, at time.Time) error {
	keys, err := readManifest(dir)
	if err != nil {
		return fmt.Errorf("retire key: %w", err)
	}
	for i := range keys {
		if keys[i].Kid == kid {
			at := at.UTC()
			keys[i].RetireAt = &at
			if err := writeManifest(dir, keys); err != nil {
				return fmt.Errorf("retire key %s: %w", kid, err)
			}
			return nil
		}
	}
	return payments.Errorf(payments.ENOTFOUND, "key %q is not listed in %s", kid, filepath.Join(dir, manifestName))
}

// ListKeys returns the keys listed in dir's keys.json, in the order they were
// generated.
func ListKeys(dir string) ([]KeyInfo, error) {
	keys, err := readManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

func newKid() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead.
	return kidEncoding.EncodeToString(b[:])
}

func keyPath(dir, kid string) string {
	return filepath.Join(dir, kid+".pem")
}

// readManifest decodes keys.json strictly: an unknown field, a bad kid, a
// duplicate or a missing created_at is an error rather than a key silently
// skipped.
func readManifest(dir string) ([]KeyInfo, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var keys []KeyInfo
	if err := dec.Decode(&keys); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestName, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: trailing data after the key list", manifestName)
	}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		switch {
		case !kidPattern.MatchString(k.Kid):
			return nil, fmt.Errorf("%s: entry %d: kid %q must be 1-64 characters of A-Z a-z 0-9 _ -", manifestName, i, k.Kid)
		case seen[k.Kid]:
			return nil, fmt.Errorf("%s: kid %q is listed twice", manifestName, k.Kid)
		case k.CreatedAt.IsZero():
			return nil, fmt.Errorf("%s: kid %q has no created_at", manifestName, k.Kid)
		}
		seen[k.Kid] = true
	}
	return keys, nil
}

// writeManifest replaces keys.json atomically, so a crash or a concurrent
// reader never sees half a list.
func writeManifest(dir string, keys []KeyInfo) error {
	if keys == nil {
		keys = []KeyInfo{}
	}
	data, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".keys-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(keyFileMode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, manifestName))
}

// writeNewFile writes a file that must not exist yet, with mode 0600 from the
// moment it is created.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// readPrivateKey loads <kid>.pem. It refuses a file that group or others can
// read or write, as ssh does: a signing key anyone on the box can read mints
// operator tokens for anyone on the box.
func readPrivateKey(dir, kid string) (ed25519.PrivateKey, error) {
	path := keyPath(dir, kid)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %#o; a private key must not be accessible by group or others (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != pemType || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s: want exactly one PEM block of type %q", path, pemType)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %T is not an Ed25519 key", path, parsed)
	}
	return priv, nil
}
