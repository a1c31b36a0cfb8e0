// Package ledger is Strait's double-entry ledger. Every movement of money is a
// journal Entry whose Postings balance per currency; postings are never updated
// or deleted, and account balances move only by posting.
//
// Sign convention: a balance is what the platform holds for the account's owner.
// Crediting a merchant's available account makes its balance grow; a channel's
// receivable account goes negative while the channel owes the platform the funds
// it captured. Because every entry sums to zero per currency, so does the sum of
// all balances of a currency (the trial balance).
package ledger

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// OwnerType says who an account belongs to.
type OwnerType string

// Owner types.
const (
	OwnerMerchant OwnerType = "merchant"
	OwnerPlatform OwnerType = "platform"
	OwnerChannel  OwnerType = "channel"
	OwnerPartner  OwnerType = "partner"
)

// PlatformOwnerID is the owner id of the platform's own accounts: there is one
// platform.
const PlatformOwnerID = "platform"

// Kind says what an account holds.
type Kind string

// Account kinds. Which owner may hold which kind is fixed by ownerKinds.
const (
	KindPending     Kind = "pending"      // merchant funds captured but not yet released
	KindAvailable   Kind = "available"    // merchant or partner funds that can be paid out or converted
	KindReserve     Kind = "reserve"      // merchant funds held back against disputes
	KindDisputeHold Kind = "dispute_hold" // merchant funds held while a chargeback is open
	KindReceivable  Kind = "receivable"   // what a channel owes the platform (negative while owed)
	KindFees        Kind = "fees"         // the platform's fee income
	KindFX          Kind = "fx"           // the platform's FX position; carries FX gains and losses
	KindSuspense    Kind = "suspense"     // the platform's unexplained differences, awaiting investigation
	KindInTransit   Kind = "in_transit"   // merchant funds on their way to its bank account (a payout sent, not yet paid)
)

// ownerKinds is the chart of accounts: the kinds each owner type may hold, and
// whether such an account may go negative. Merchant and partner money is never
// lent out, so their accounts refuse overdrafts; the platform's and channels'
// accounts are positions that swing both ways.
var ownerKinds = map[OwnerType]map[Kind]bool{
	OwnerMerchant: {KindPending: false, KindAvailable: false, KindReserve: false, KindDisputeHold: false, KindInTransit: false},
	OwnerPartner:  {KindAvailable: false},
	OwnerChannel:  {KindReceivable: true},
	OwnerPlatform: {KindFees: true, KindFX: true, KindSuspense: true, KindCash: true},
}

// OwnerTypes returns every owner type, in a stable order.
func OwnerTypes() []OwnerType {
	return []OwnerType{OwnerMerchant, OwnerPlatform, OwnerChannel, OwnerPartner}
}

// Kinds returns every account kind, in a stable order.
func Kinds() []Kind {
	return []Kind{KindPending, KindAvailable, KindReserve, KindDisputeHold, KindReceivable, KindFees, KindFX, KindSuspense, KindInTransit, KindCash}
}

var ownerIDPattern = regexp.MustCompile(`^[A-Za-z0-9_\-.:]{1,64}$`)

// AccountKey names an account by its owner, kind and currency. There is at most
// one account per key; the ledger creates it on first use.
type AccountKey struct {
	OwnerType OwnerType
	OwnerID   string
	Kind      Kind
	Currency  money.Currency
}

// MerchantAccount returns the key of a merchant's account of the given kind.
func MerchantAccount(merchantID string, kind Kind, c money.Currency) AccountKey {
	return AccountKey{OwnerType: OwnerMerchant, OwnerID: merchantID, Kind: kind, Currency: c}
}

// PlatformAccount returns the key of the platform's account of the given kind.
func PlatformAccount(kind Kind, c money.Currency) AccountKey {
	return AccountKey{OwnerType: OwnerPlatform, OwnerID: PlatformOwnerID, Kind: kind, Currency: c}
}

// ChannelAccount returns the key of a channel's receivable account.
func ChannelAccount(channel string, c money.Currency) AccountKey {
	return AccountKey{OwnerType: OwnerChannel, OwnerID: channel, Kind: KindReceivable, Currency: c}
}

// PartnerAccount returns the key of a partner's available account.
func PartnerAccount(partnerID string, c money.Currency) AccountKey {
	return AccountKey{OwnerType: OwnerPartner, OwnerID: partnerID, Kind: KindAvailable, Currency: c}
}

// Validate returns EINVALID (field "account") unless the owner type is known,
// the owner id is 1–64 characters of [A-Za-z0-9_-.:], the owner may hold the
// kind, the platform's id is PlatformOwnerID, and the currency is set.
func (k AccountKey) Validate() error {
	kinds, ok := ownerKinds[k.OwnerType]
	switch {
	case !ok:
		return payments.FieldErrorf("account", "unknown owner type %q", k.OwnerType)
	case !ownerIDPattern.MatchString(k.OwnerID):
		return payments.FieldErrorf("account", "invalid owner id %q", k.OwnerID)
	case k.OwnerType == OwnerPlatform && k.OwnerID != PlatformOwnerID:
		return payments.FieldErrorf("account", "platform accounts belong to %q", PlatformOwnerID)
	case k.Currency.IsZero():
		return payments.FieldErrorf("account", "account currency is required")
	}
	if _, ok := kinds[k.Kind]; !ok {
		return payments.FieldErrorf("account", "a %s account cannot be of kind %q", k.OwnerType, k.Kind)
	}
	return nil
}

// AllowsNegative reports whether an account with this key may go below zero:
// platform and channel accounts may, merchant and partner accounts may not.
func (k AccountKey) AllowsNegative() bool { return ownerKinds[k.OwnerType][k.Kind] }

// String returns "owner_type/owner_id/kind/CUR", the canonical form used in
// posting hashes and logs.
func (k AccountKey) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", k.OwnerType, k.OwnerID, k.Kind, k.Currency.Code())
}

// Compare orders keys by their canonical string; the ledger creates missing
// accounts in this order.
func (k AccountKey) Compare(o AccountKey) int {
	return slices.Compare([]string{string(k.OwnerType), k.OwnerID, string(k.Kind), k.Currency.Code()},
		[]string{string(o.OwnerType), o.OwnerID, string(o.Kind), o.Currency.Code()})
}
