// Package tenancy manages merchants and who may act for them: merchant users
// with roles, and API keys for server-to-server calls. Every change is written
// with its audit-log entry in one transaction.
package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math/big"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/apikey"
	"github.com/straitpay/strait/ent/merchant"
	"github.com/straitpay/strait/ent/merchantuser"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// Service manages merchants, their users and their API keys.
type Service struct {
	client *ent.Client
	now    func() time.Time
}

// New returns a Service over client. now is the clock (time.Now in production).
func New(client *ent.Client, now func() time.Time) *Service {
	return &Service{client: client, now: now}
}

// MerchantInput describes a new merchant.
type MerchantInput struct {
	LegalName          string
	Country            string // ISO 3166-1 alpha-2
	SettlementCurrency string // ISO 4217
	RiskTier           merchant.RiskTier
}

// CreateMerchant creates a merchant. Only operators may; the privacy layer
// refuses anyone else. Returns EINVALID for a blank name, an unknown country or
// currency.
func (s *Service) CreateMerchant(ctx context.Context, in MerchantInput) (*ent.Merchant, error) {
	name := strings.TrimSpace(in.LegalName)
	if name == "" || len(name) > 200 {
		return nil, payments.FieldErrorf("legalName", "legal name must be 1 to 200 characters")
	}
	country, err := ParseCountry(in.Country)
	if err != nil {
		return nil, err
	}
	cur, err := money.ParseCurrency(in.SettlementCurrency)
	if err != nil {
		return nil, payments.FieldErrorf("settlementCurrency", "unknown currency %q", in.SettlementCurrency)
	}
	if in.RiskTier == "" {
		in.RiskTier = merchant.RiskTierSTANDARD
	}
	if err := merchant.RiskTierValidator(in.RiskTier); err != nil {
		return nil, payments.FieldErrorf("riskTier", "unknown risk tier %q", in.RiskTier)
	}
	return store.WithTx(ctx, s.client, func(tx *ent.Tx) (*ent.Merchant, error) {
		m, err := tx.Merchant.Create().
			SetLegalName(name).SetCountry(country).
			SetSettlementCurrency(cur.Code()).SetRiskTier(in.RiskTier).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("create merchant: %w", err)
		}
		return m, audit.Record(ctx, tx, audit.Entry{
			MerchantID: m.ID, Action: "merchant.create", TargetType: "merchant", TargetID: m.ID,
		})
	})
}

// UserInput describes a new merchant user.
type UserInput struct {
	MerchantID string // required for operators; merchant principals act for their own merchant
	Email      string
	Name       string
	Role       merchantuser.Role
}

// CreateUser adds a person to a merchant. Returns EINVALID for a bad email or
// role, ENOTFOUND when the merchant is not visible to the caller, and ECONFLICT
// when the email is already a user of that merchant.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (*ent.MerchantUser, error) {
	mid, err := s.targetMerchant(ctx, in.MerchantID)
	if err != nil {
		return nil, err
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(in.Email))
	if err != nil || addr.Name != "" || len(addr.Address) > 254 {
		return nil, payments.FieldErrorf("email", "not a valid email address")
	}
	if err := merchantuser.RoleValidator(in.Role); err != nil {
		return nil, payments.FieldErrorf("role", "unknown role %q", in.Role)
	}
	return store.WithTx(ctx, s.client, func(tx *ent.Tx) (*ent.MerchantUser, error) {
		u, err := tx.MerchantUser.Create().
			SetMerchantID(mid).SetEmail(strings.ToLower(addr.Address)).
			SetName(strings.TrimSpace(in.Name)).SetRole(in.Role).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return nil, payments.FieldErrorf("email", "%s is already a user of this merchant", addr.Address)
		}
		if err != nil {
			return nil, fmt.Errorf("create merchant user: %w", err)
		}
		return u, audit.Record(ctx, tx, audit.Entry{
			MerchantID: mid, Action: "merchant_user.create", TargetType: "merchant_user", TargetID: u.ID,
			Details: map[string]string{"role": string(in.Role)},
		})
	})
}

// APIKeyInput describes a new API key.
type APIKeyInput struct {
	MerchantID string // required for operators
	Name       string
	ExpiresAt  *time.Time
}

// secretPrefix starts every API key secret, so leaked keys are easy to spot by
// secret scanners and never mistaken for JWTs.
const secretPrefix = "sk_"

// visiblePrefixLen is how much of the secret is stored in clear to find the
// key: "sk_" and 9 random characters (about 53 bits), unique across keys.
const visiblePrefixLen = len(secretPrefix) + 9

// CreateAPIKey creates an API key and returns it with its secret, which is
// shown this once: only its SHA-256 is stored. Returns EINVALID for a blank name
// or an expiry in the past, ENOTFOUND for a merchant the caller cannot see.
func (s *Service) CreateAPIKey(ctx context.Context, in APIKeyInput) (*ent.APIKey, string, error) {
	mid, err := s.targetMerchant(ctx, in.MerchantID)
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		return nil, "", payments.FieldErrorf("name", "name must be 1 to 100 characters")
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		return nil, "", payments.FieldErrorf("expiresAt", "expiry must be in the future")
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	digest := sha256.Sum256([]byte(secret))
	v, _ := viewer.FromContext(ctx)
	key, err := store.WithTx(ctx, s.client, func(tx *ent.Tx) (*ent.APIKey, error) {
		k, err := tx.APIKey.Create().
			SetMerchantID(mid).SetName(name).
			SetPrefix(secret[:visiblePrefixLen]).SetSecretHash(digest[:]).
			SetCreatedBy(v.Subject).SetNillableExpiresAt(in.ExpiresAt).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("create api key: %w", err)
		}
		return k, audit.Record(ctx, tx, audit.Entry{
			MerchantID: mid, Action: "api_key.create", TargetType: "api_key", TargetID: k.ID,
		})
	})
	if err != nil {
		return nil, "", err
	}
	return key, secret, nil
}

// RevokeAPIKey revokes a key at once. Revoking a revoked key returns it
// unchanged. Returns ENOTFOUND for a key the caller cannot see.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) (*ent.APIKey, error) {
	return store.WithTx(ctx, s.client, func(tx *ent.Tx) (*ent.APIKey, error) {
		k, err := tx.APIKey.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, payments.Errorf(payments.ENOTFOUND, "api key %s not found", id)
		}
		if err != nil {
			return nil, fmt.Errorf("revoke api key %s: %w", id, err)
		}
		if k.RevokedAt != nil {
			return k, nil
		}
		if k, err = k.Update().SetRevokedAt(s.now()).Save(ctx); err != nil {
			return nil, fmt.Errorf("revoke api key %s: %w", id, err)
		}
		// The outbox event closes the key's open websockets on every
		// replica (docs/events.md) and tells the merchant's webhooks.
		if err := tx.Event.Create().SetMerchantID(k.MerchantID).SetType("api_key.revoked").SetObjectID(k.ID).
			SetData(map[string]any{"api_key_id": k.ID, "name": k.Name}).Exec(ctx); err != nil {
			return nil, fmt.Errorf("revoke api key %s: outbox: %w", id, err)
		}
		return k, audit.Record(ctx, tx, audit.Entry{
			MerchantID: k.MerchantID, Action: "api_key.revoke", TargetType: "api_key", TargetID: k.ID,
		})
	})
}

// errBadKey is the one answer to every API key failure, so callers cannot tell
// an unknown key from a revoked or expired one.
var errBadKey = payments.Errorf(payments.EUNAUTHORIZED, "invalid API key")

// AuthenticateAPIKey returns the viewer for an API key secret. Returns
// EUNAUTHORIZED for an unknown, revoked, expired or malformed key, or a key of a
// merchant that is not active; EUNAVAILABLE when the database fails
// (store.Classify): the key may be good.
func (s *Service) AuthenticateAPIKey(ctx context.Context, secret string) (viewer.Viewer, error) {
	if !strings.HasPrefix(secret, secretPrefix) || len(secret) < visiblePrefixLen || len(secret) > 128 {
		return viewer.Viewer{}, errBadKey
	}
	sys := viewer.SystemContext(ctx)
	// The merchant's status is a condition of the key's own query (one round
	// trip, not two): a key of a merchant that is not active is not found,
	// which is the same errBadKey.
	k, err := s.client.APIKey.Query().
		Where(apikey.Prefix(secret[:visiblePrefixLen]),
			apikey.HasMerchantWith(merchant.StatusEQ(merchant.StatusACTIVE))).
		Only(sys)
	if ent.IsNotFound(err) {
		return viewer.Viewer{}, errBadKey
	}
	if err != nil {
		return viewer.Viewer{}, store.Classify(fmt.Errorf("authenticate api key: %w", err))
	}
	digest := sha256.Sum256([]byte(secret))
	now := s.now()
	switch {
	case subtle.ConstantTimeCompare(digest[:], k.SecretHash) != 1,
		k.RevokedAt != nil,
		k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		return viewer.Viewer{}, errBadKey
	}
	// Recording use costs a write; once a minute per key is enough to show
	// which keys are alive.
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		_ = s.client.APIKey.UpdateOneID(k.ID).SetLastUsedAt(now).Exec(sys)
	}
	return viewer.Viewer{Kind: viewer.APIKey, Subject: k.ID, MerchantID: k.MerchantID}, nil
}

// targetMerchant returns the merchant an action is for: the operator's explicit
// choice, or the merchant principal's own. A merchant principal naming another
// merchant gets ENOTFOUND, as if it did not exist.
func (s *Service) targetMerchant(ctx context.Context, requested string) (string, error) {
	v, ok := viewer.FromContext(ctx)
	if !ok {
		return "", payments.Errorf(payments.EUNAUTHORIZED, "not authenticated")
	}
	if !v.IsPrivileged() {
		if requested != "" && requested != v.MerchantID {
			return "", payments.Errorf(payments.ENOTFOUND, "merchant %s not found", requested)
		}
		return v.MerchantID, nil
	}
	if requested == "" {
		return "", payments.FieldErrorf("merchantID", "merchantID is required")
	}
	exists, err := s.client.Merchant.Query().Where(merchant.ID(requested)).Exist(ctx)
	if err != nil {
		return "", fmt.Errorf("find merchant %s: %w", requested, err)
	}
	if !exists {
		return "", payments.Errorf(payments.ENOTFOUND, "merchant %s not found", requested)
	}
	return requested, nil
}

// ParseCountry returns the upper-case ISO 3166-1 alpha-2 code for a country.
// Returns EINVALID (field "country") for anything else.
func ParseCountry(code string) (string, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	r, err := language.ParseRegion(code)
	if len(code) != 2 || err != nil || !r.IsCountry() {
		return "", payments.FieldErrorf("country", "unknown country %q", code)
	}
	return code, nil
}

const secretAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newSecret returns "sk_" and 40 random base62 characters (about 238 bits).
func newSecret() (string, error) {
	var b strings.Builder
	b.WriteString(secretPrefix)
	max := big.NewInt(int64(len(secretAlphabet)))
	for range 40 {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("api key secret: %w", err)
		}
		b.WriteByte(secretAlphabet[n.Int64()])
	}
	return b.String(), nil
}
