package auth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/straitpay/strait/payments/viewer"
)

// verifiedCacheSize bounds how many verified tokens a KeySet remembers. An entry
// is a few hundred bytes, so a full cache stays under 8 MB; 16384 holds every
// cashier and dashboard session a busy replica serves within a few minutes, and
// a token evicted early costs one more signature check, nothing else.
const verifiedCacheSize = 1 << 14

// tokenHash keys the cache: the SHA-256 of the whole token, signature included,
// so the cache holds no bearer credential and a token that differs from a
// verified one in any byte misses it and is verified in full.
type tokenHash [sha256.Size]byte

// verified is what Verify learnt from a token it accepted: enough to accept the
// same token again without checking its signature, for as long as Verify itself
// would accept it.
type verified struct {
	viewer viewer.Viewer
	kid    string
	// pub is the key that checked the signature. A key directory edited by hand
	// could list another key under the same kid; comparing keys, not names,
	// keeps such a token from riding on the old key's verdict.
	pub ed25519.PublicKey
	// from and until are the token's validity window with the parser's leeway
	// applied: Verify accepts at now when from <= now < until.
	from, until time.Time
}

// newVerified describes the accepted token c, signed by pub under kid.
func newVerified(c *claims, kid string, pub ed25519.PublicKey) *verified {
	from := c.IssuedAt.Time
	if c.NotBefore != nil && c.NotBefore.After(from) {
		from = c.NotBefore.Time
	}
	return &verified{
		viewer: c.viewer(),
		kid:    kid,
		pub:    pub,
		from:   from.Add(-Leeway),
		until:  c.ExpiresAt.Add(Leeway),
	}
}

// usable says whether Verify would still accept the token at now with ring:
// inside its validity window, and its key still held and not retired.
func (v *verified) usable(ring *keyring, now time.Time) bool {
	if now.Before(v.from) || !now.Before(v.until) {
		return false
	}
	pub, ok := ring.verifier(v.kid, now)
	return ok && pub.Equal(v.pub)
}

// verifiedCache is a bounded, concurrency-safe set of accepted tokens; the least
// recently used entry goes first when it is full.
type verifiedCache struct {
	lru *lru.Cache[tokenHash, *verified]
}

func newVerifiedCache(size int) *verifiedCache {
	c, err := lru.New[tokenHash, *verified](size)
	if err != nil {
		panic(err) // only for a size <= 0, which is a programming error
	}
	return &verifiedCache{lru: c}
}

// get returns the entry for token if one is usable at now with ring. An entry
// that is not usable any more is dropped, so the caller verifies in full and
// returns the same error Verify always did.
func (c *verifiedCache) get(h tokenHash, ring *keyring, now time.Time) (*verified, bool) {
	v, ok := c.lru.Get(h)
	if !ok {
		return nil, false
	}
	if !v.usable(ring, now) {
		c.lru.Remove(h)
		return nil, false
	}
	return v, true
}

func (c *verifiedCache) add(h tokenHash, v *verified) { c.lru.Add(h, v) }

// forgetKeysNotIn drops the tokens whose key ring no longer verifies with at
// now. It frees their entries at once; get checks the key on every hit as well,
// so a token verified concurrently with the old ring cannot outlive its key.
func (c *verifiedCache) forgetKeysNotIn(ring *keyring, now time.Time) {
	for _, h := range c.lru.Keys() {
		v, ok := c.lru.Peek(h)
		if !ok {
			continue
		}
		if pub, ok := ring.verifier(v.kid, now); !ok || !pub.Equal(v.pub) {
			c.lru.Remove(h)
		}
	}
}
