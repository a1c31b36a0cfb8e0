package auth

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// KeySet is the set of keys loaded from a key directory. It mints and verifies
// tokens, and is safe for concurrent use; Reload swaps in a new set without
// disturbing requests in flight.
type KeySet struct {
	dir    string
	clock  func() time.Time
	ring   atomic.Pointer[keyring]
	parser *jwt.Parser
	// verified remembers accepted tokens, so a client's next requests with the
	// same token skip the Ed25519 check (about 5 % of a confirm's CPU).
	verified *verifiedCache
}

// keyring is one immutable snapshot of the key directory.
type keyring struct {
	byKid map[string]*signingKey
	// newestFirst orders keys by created_at, newest first; on a tie the one
	// listed later in keys.json counts as newer.
	newestFirst []*signingKey
}

type signingKey struct {
	KeyInfo
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// LoadKeySet reads the keys in dir. clock is the time source for minting,
// verifying and deciding which keys are retired; nil means time.Now.
//
// It fails if dir has no keys.json or every listed key is retired, and if a key
// that is not retired cannot be read, so a broken key directory stops the server
// at start-up rather than failing every request.
func LoadKeySet(dir string, clock func() time.Time) (*KeySet, error) {
	if clock == nil {
		clock = time.Now
	}
	ks := &KeySet{dir: dir, clock: clock, verified: newVerifiedCache(verifiedCacheSize)}
	ks.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(clock),
		// Refuse non-canonical base64, so one token has exactly one spelling.
		jwt.WithStrictDecoding(),
	)
	if err := ks.Reload(); err != nil {
		return nil, err
	}
	return ks, nil
}

// Reload re-reads the key directory, so a key generated or retired after
// start-up takes effect without a restart; tokens signed by a key that is gone
// or retired stop verifying at once, cached or not. If the directory is
// unusable, Reload returns the error and keeps the keys it had.
func (ks *KeySet) Reload() error {
	now := ks.clock()
	ring, err := loadKeyring(ks.dir, now)
	if err != nil {
		return fmt.Errorf("load keys from %s: %w", ks.dir, err)
	}
	ks.ring.Store(ring)
	ks.verified.forgetKeysNotIn(ring, now)
	return nil
}

// Keys describes the keys the set currently holds, newest first. Keys already
// retired when the set was loaded are left out.
func (ks *KeySet) Keys() []KeyInfo {
	ring := ks.ring.Load()
	infos := make([]KeyInfo, len(ring.newestFirst))
	for i, k := range ring.newestFirst {
		infos[i] = k.KeyInfo
		if k.RetireAt != nil {
			at := *k.RetireAt // the caller must not be able to move a retirement
			infos[i].RetireAt = &at
		}
	}
	return infos
}

func loadKeyring(dir string, now time.Time) (*keyring, error) {
	infos, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no %s: generate a signing key first (strait keys)", manifestName)
	}
	if err != nil {
		return nil, err
	}
	ring := &keyring{byKid: make(map[string]*signingKey, len(infos))}
	for _, info := range infos {
		// A retired key never comes back, so its file is not needed (and may
		// already be deleted).
		if info.Retired(now) {
			continue
		}
		priv, err := readPrivateKey(dir, info.Kid)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", info.Kid, err)
		}
		k := &signingKey{KeyInfo: info, priv: priv, pub: priv.Public().(ed25519.PublicKey)}
		ring.byKid[info.Kid] = k
		ring.newestFirst = append(ring.newestFirst, k)
	}
	if len(ring.newestFirst) == 0 {
		return nil, fmt.Errorf("every key in %s is retired: generate a new signing key (strait keys)", manifestName)
	}
	slices.Reverse(ring.newestFirst)
	slices.SortStableFunc(ring.newestFirst, func(a, b *signingKey) int {
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return ring, nil
}

// signer returns the key that signs at now: the newest one already created and
// not yet retired.
func (r *keyring) signer(now time.Time) (*signingKey, error) {
	for _, k := range r.newestFirst {
		if !k.CreatedAt.After(now) && !k.Retired(now) {
			return k, nil
		}
	}
	return nil, errors.New("no signing key is active: generate a new one (strait keys)")
}

// verifier returns the public key for kid if it still verifies at now.
func (r *keyring) verifier(kid string, now time.Time) (ed25519.PublicKey, bool) {
	k, ok := r.byKid[kid]
	if !ok || k.Retired(now) {
		return nil, false
	}
	return k.pub, true
}
