package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// claims is the payload of a Strait access token.
type claims struct {
	Kind     viewer.Kind `json:"kind"`
	Role     viewer.Role `json:"role,omitempty"`
	Merchant string      `json:"mer,omitempty"`
	Session  string      `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// Validate is called by the jwt parser after the registered claims check out.
// The parser only checks iat when it is present; Strait's tokens always carry it.
func (c claims) Validate() error {
	if c.IssuedAt == nil {
		return errors.New("iat is missing")
	}
	// A cashier token Strait minted lives at most MaxCashierTTL: one that
	// claims longer was not minted by Strait's rules, whoever signed it.
	if c.Kind == viewer.Cashier && c.ExpiresAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxCashierTTL {
		return errors.New("a cashier token lives at most 30 minutes")
	}
	return checkPrincipal(c.viewer())
}

func (c claims) viewer() viewer.Viewer {
	return viewer.Viewer{
		Kind:       c.Kind,
		Subject:    c.Subject,
		MerchantID: c.Merchant,
		Role:       c.Role,
		SessionID:  c.Session,
	}
}

// need says whether a principal must carry a field or must leave it empty.
type need int

const (
	forbidden need = iota
	required
)

// principals lists who may hold a token and what each kind of token carries.
// Minting and verifying check the same table, so a token Strait would not mint
// is a token Strait does not accept. API keys are opaque secrets looked up in the
// database, and System is never granted to a request, so neither is here.
var principals = map[viewer.Kind]struct{ merchant, role, session need }{
	viewer.Operator:     {merchant: forbidden, role: forbidden, session: forbidden},
	viewer.MerchantUser: {merchant: required, role: required, session: forbidden},
	viewer.Cashier:      {merchant: required, role: forbidden, session: required},
}

func checkPrincipal(v viewer.Viewer) error {
	shape, ok := principals[v.Kind]
	if !ok {
		return fmt.Errorf("kind %q cannot hold an access token", v.Kind)
	}
	if v.Subject == "" {
		return errors.New("subject is missing")
	}
	if err := checkField("merchant id", v.MerchantID != "", shape.merchant); err != nil {
		return err
	}
	if err := checkField("role", v.Role != "", shape.role); err != nil {
		return err
	}
	if err := checkField("session id", v.SessionID != "", shape.session); err != nil {
		return err
	}
	switch {
	case v.Kind == viewer.MerchantUser && !validRole(v.Role):
		return fmt.Errorf("unknown role %q", v.Role)
	case v.Kind == viewer.Cashier && v.Subject != v.SessionID:
		return errors.New("a cashier's subject is its checkout session")
	}
	return nil
}

func checkField(name string, present bool, n need) error {
	switch {
	case n == required && !present:
		return fmt.Errorf("%s is required", name)
	case n == forbidden && present:
		return fmt.Errorf("%s is not allowed", name)
	}
	return nil
}

func validRole(r viewer.Role) bool {
	switch r {
	case viewer.RoleAdmin, viewer.RoleDeveloper, viewer.RoleAnalyst:
		return true
	}
	return false
}

// Mint returns a signed access token for v, valid for ttl from now.
//
// v must be an operator, a merchant user (MerchantID and Role required) or a
// cashier (MerchantID and SessionID required; an empty Subject becomes the
// SessionID). A cashier's ttl is cut to MaxCashierTTL. Returns EINVALID if v or
// ttl is not acceptable. Minting fails if no key is active, or if the active key
// retires before the token would expire, since the token would die with it.
func (ks *KeySet) Mint(v viewer.Viewer, ttl time.Duration) (string, error) {
	if v.Kind == viewer.Cashier {
		if v.Subject == "" {
			v.Subject = v.SessionID
		}
		ttl = min(ttl, MaxCashierTTL)
	}
	if err := checkPrincipal(v); err != nil {
		return "", payments.Errorf(payments.EINVALID, "mint token: %v", err)
	}
	if ttl <= 0 {
		return "", payments.Errorf(payments.EINVALID, "mint token: ttl must be positive, got %v", ttl)
	}

	now := ks.clock()
	key, err := ks.ring.Load().signer(now)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	exp := now.Add(ttl)
	if key.RetireAt != nil && key.RetireAt.Before(exp) {
		return "", fmt.Errorf("mint token: signing key %s retires at %s, before the token would expire; generate a new key", key.Kid, key.RetireAt.Format(time.RFC3339))
	}

	c := claims{
		Kind:     v.Kind,
		Role:     v.Role,
		Merchant: v.MerchantID,
		Session:  v.SessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   v.Subject,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			// A unique ID per token, so a revocation list can name one token.
			ID: rand.Text(),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["typ"] = TokenType
	tok.Header["kid"] = key.Kid
	signed, err := tok.SignedString(key.priv)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	// A token this process signed is remembered as verified, so its first use
	// here skips the signature check (a checkout's cashier token is minted by
	// createCheckoutSession and used at once). The entry is what Verify would
	// remember after checking it: the same viewer, kid, key and window, so it
	// is accepted exactly as long as Verify would accept the token (c holds
	// its times as the token states them: jwt.NewNumericDate truncates to
	// whole seconds, as the encoding does).
	ks.verified.add(tokenHash(sha256.Sum256([]byte(signed))), newVerified(&c, key.Kid, key.pub))
	return signed, nil
}

// Verify checks token and returns the viewer it stands for. Any failure (a
// missing, oversized, malformed, forged, expired or not-yet-valid token, an
// algorithm other than EdDSA, a kid that is unknown or retired, another typ,
// iss or aud, claims that do not describe a valid principal) returns an
// EUNAUTHORIZED *payments.Error.
//
// A token accepted once, or minted by this KeySet, is remembered, by its
// hash, for as long as it would be accepted again: its time checks and its
// key's presence are re-checked on every call, only the signature and claims
// are not. Refused tokens are never remembered.
func (ks *KeySet) Verify(token string) (viewer.Viewer, error) {
	switch {
	case token == "":
		return viewer.Viewer{}, unauthorized("missing token")
	case len(token) > MaxTokenSize:
		return viewer.Viewer{}, unauthorized("token too large")
	}

	ring := ks.ring.Load()
	h := tokenHash(sha256.Sum256([]byte(token)))
	if v, ok := ks.verified.get(h, ring, ks.clock()); ok {
		return v.viewer, nil
	}
	v, err := ks.verify(token, ring)
	if err != nil {
		return viewer.Viewer{}, err
	}
	ks.verified.add(h, v)
	return v.viewer, nil
}

// verify is Verify without the cache: it checks every byte of token against
// ring.
func (ks *KeySet) verify(token string, ring *keyring) (*verified, error) {
	var (
		c   claims
		kid string
		pub ed25519.PublicKey
	)
	_, err := ks.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// Header checks happen here, before the signature is checked: the parser
		// has already pinned alg to EdDSA, and the kid must name a key we hold.
		if typ, _ := t.Header["typ"].(string); typ != TokenType {
			return nil, errors.New("wrong typ")
		}
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 §4.1.11: a critical extension we do not understand
			// means we must refuse the token.
			return nil, errors.New("unsupported crit header")
		}
		kid, _ = t.Header["kid"].(string)
		var ok bool
		if pub, ok = ring.verifier(kid, ks.clock()); !ok {
			return nil, errors.New("unknown or retired kid")
		}
		return pub, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, unauthorized("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, unauthorized("token not valid yet")
	case err != nil:
		return nil, unauthorized("invalid token")
	}
	return newVerified(&c, kid, pub), nil
}
