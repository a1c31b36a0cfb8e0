package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/straitpay/strait/payments"
)

// Config is what a Vault needs. Keys, Fingerprints and Store are required.
type Config struct {
	// Keys is the KEK ring (STRAIT_VAULT_KEYS).
	Keys *KeyRing
	// Fingerprints computes PAN fingerprints (STRAIT_VAULT_FINGERPRINT_KEY).
	Fingerprints *Fingerprinter
	Store        Store
	// BINs defaults to DefaultBINTable.
	BINs *BINTable
	// Now defaults to time.Now; tests pass a fixed clock.
	Now func() time.Time
	// CVCTTL defaults to DefaultCVCTTL.
	CVCTTL time.Duration
}

// Vault tokenizes cards and gives their numbers back to the connector call.
// Every read is scoped to a merchant: another merchant's token is ENOTFOUND,
// exactly like a token that does not exist.
type Vault struct {
	keys  *KeyRing
	fps   *Fingerprinter
	store Store
	bins  *BINTable
	now   func() time.Time
	cvcs  *CVCStore
}

// New returns a Vault. It returns an error if a required field is missing.
func New(c Config) (*Vault, error) {
	if c.Keys == nil || c.Fingerprints == nil || c.Store == nil {
		return nil, errors.New("vault: Keys, Fingerprints and Store are required")
	}
	if c.BINs == nil {
		c.BINs = DefaultBINTable
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Vault{
		keys: c.Keys, fps: c.Fingerprints, store: c.Store, bins: c.BINs, now: c.Now,
		cvcs: NewCVCStore(c.CVCTTL, c.Now),
	}, nil
}

// Tokenize validates a card and vaults it. It checks the number (characters,
// length, Luhn, a known scheme and a length that scheme issues), the expiry
// against the clock, and the CVC length for the scheme (the CVC may be empty, for
// cards collected without one). It returns a "card_" token attached to the
// customer when in.Save is set, and a "tok_" token otherwise. Saving a card the
// customer already saved (same fingerprint and expiry) returns the existing
// token. A "tok_" token is recorded with in.SessionID, the checkout session
// it may pay (Record.SessionID). A CVC is held in memory under the token for the authorization (see
// TakeCVC), never stored.
//
// Returns EINVALID with the field at fault ("number", "exp_month", "exp_year",
// "cvc", "customer_id", "merchant_id"); the messages never repeat card digits.
func (v *Vault) Tokenize(ctx context.Context, in CardInput) (Token, CardInfo, error) {
	if in.MerchantID == "" {
		return "", CardInfo{}, payments.FieldErrorf("merchant_id", "merchant is required")
	}
	if in.Save && in.CustomerID == "" {
		return "", CardInfo{}, payments.FieldErrorf("customer_id", "a saved card needs a customer")
	}
	pan, bin, err := ParsePAN(in.Number, v.bins)
	if err != nil {
		return "", CardInfo{}, err
	}
	exp, err := ParseExpiry(in.ExpMonth, in.ExpYear)
	if err != nil {
		return "", CardInfo{}, err
	}
	now := v.now()
	if err := exp.Check(now); err != nil {
		return "", CardInfo{}, err
	}
	var cvc CVC
	if in.CVC != "" {
		if cvc, err = ParseCVC(in.CVC, bin.Scheme); err != nil {
			return "", CardInfo{}, err
		}
	}

	info := CardInfo{
		MerchantID: in.MerchantID, CustomerID: in.CustomerID, Saved: in.Save,
		Scheme: bin.Scheme, Funding: bin.Funding, Country: bin.Country, Issuer: bin.Issuer,
		BIN: pan.BIN(), Last4: pan.Last4(), Length: len(pan.digits()), Expiry: exp, HolderName: in.HolderName,
		Fingerprint: v.fps.Fingerprint(pan), CreatedAt: now.UTC(),
	}
	if in.Save {
		existing, err := v.store.ListByCustomer(ctx, in.MerchantID, in.CustomerID)
		if err != nil {
			return "", CardInfo{}, fmt.Errorf("tokenize: list saved cards: %w", err)
		}
		for _, r := range existing {
			if r.Fingerprint == info.Fingerprint && r.Expiry == exp {
				v.holdCVC(r.Token, cvc)
				return r.Token, r.CardInfo, nil
			}
		}
		info.Token = newToken(SavedPrefix)
	} else {
		info.Token = newToken(OneTimePrefix)
	}

	env, err := v.keys.seal([]byte(pan.digits()), string(info.Token))
	if err != nil {
		return "", CardInfo{}, fmt.Errorf("tokenize: seal: %w", err)
	}
	rec := Record{CardInfo: info, Envelope: env}
	if !in.Save {
		rec.SessionID = in.SessionID
	}
	if err := v.store.Put(ctx, rec); err != nil {
		return "", CardInfo{}, fmt.Errorf("tokenize: store: %w", err)
	}
	v.holdCVC(info.Token, cvc)
	return info.Token, info, nil
}

func (v *Vault) holdCVC(t Token, c CVC) {
	if !c.IsZero() {
		v.cvcs.Put(t, c)
	}
}

// get returns a record only if it belongs to the merchant.
func (v *Vault) get(ctx context.Context, merchantID string, t Token) (Record, error) {
	r, err := v.store.Get(ctx, t)
	if err != nil {
		return Record{}, err
	}
	if r.MerchantID != merchantID {
		return Record{}, payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	return r, nil
}

// Info returns a vaulted card's clear details. Returns ENOTFOUND if the token
// does not exist or belongs to another merchant.
func (v *Vault) Info(ctx context.Context, merchantID string, t Token) (CardInfo, error) {
	r, err := v.get(ctx, merchantID, t)
	if err != nil {
		return CardInfo{}, err
	}
	return r.CardInfo, nil
}

// Detokenize decrypts a vaulted PAN, for the connector call only. Returns
// ENOTFOUND if the token does not exist or belongs to another merchant, and
// EINTERNAL if the envelope does not open (tampered, swapped, or its KEK was
// removed from the ring).
func (v *Vault) Detokenize(ctx context.Context, merchantID string, t Token) (PAN, error) {
	r, err := v.get(ctx, merchantID, t)
	if err != nil {
		return PAN{}, err
	}
	return v.open(r)
}

func (v *Vault) open(r Record) (PAN, error) {
	pt, err := v.keys.open(r.Envelope, string(r.Token))
	if err != nil {
		return PAN{}, fmt.Errorf("detokenize %s: %w", r.Token, err)
	}
	d := string(pt)
	clear(pt)
	if !Luhn(d) {
		return PAN{}, fmt.Errorf("detokenize %s: decrypted value is not a card number", r.Token)
	}
	return newPAN(d), nil
}

// TakeCVC removes and returns the CVC held for t; false if none is held (never
// given, already used, expired, or held on another replica). The caller wipes it
// after the authorization request.
func (v *Vault) TakeCVC(t Token) (CVC, bool) { return v.cvcs.Take(t) }

// Card assembles what an authorization needs: the PAN, the held CVC (taken, so
// zero on a second call), expiry, holder and scheme. Returns ENOTFOUND like
// Detokenize, and EINVALID (field "exp_year") if the card has expired since it
// was vaulted.
func (v *Vault) Card(ctx context.Context, merchantID string, t Token) (Card, error) {
	r, err := v.store.Get(ctx, t)
	if err != nil {
		return Card{}, err
	}
	return v.CardFrom(merchantID, t, r)
}

// Records reads the records of several tokens at once, for CardFrom: a
// caller serving many payments reads their cards in one query. Tokens with
// no card are missing from the map.
func (v *Vault) Records(ctx context.Context, ts []Token) (map[Token]Record, error) {
	rs, err := v.store.GetMany(ctx, ts)
	if err != nil {
		return nil, fmt.Errorf("vault records: %w", err)
	}
	return rs, nil
}

// CardFrom is Card for a record read with Records (the zero Record when the
// token had none): the same checks, the same errors.
func (v *Vault) CardFrom(merchantID string, t Token, r Record) (Card, error) {
	if r.Token != t || r.MerchantID != merchantID {
		return Card{}, payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	if r.Expiry.Expired(v.now()) {
		return Card{}, payments.FieldErrorf("exp_year", "card has expired")
	}
	pan, err := v.open(r)
	if err != nil {
		return Card{}, err
	}
	cvc, _ := v.TakeCVC(t)
	return Card{Token: t, PAN: pan, CVC: cvc, Expiry: r.Expiry, HolderName: r.HolderName, Scheme: r.Scheme, Info: r.CardInfo}, nil
}

// SavedCards returns a customer's saved cards, oldest first.
func (v *Vault) SavedCards(ctx context.Context, merchantID, customerID string) ([]CardInfo, error) {
	rs, err := v.store.ListByCustomer(ctx, merchantID, customerID)
	if err != nil {
		return nil, fmt.Errorf("saved cards: %w", err)
	}
	out := make([]CardInfo, len(rs))
	for i, r := range rs {
		out[i] = r.CardInfo
	}
	return out, nil
}

// DeleteCard removes a card and any CVC held for it. Returns ENOTFOUND if the
// token does not exist or belongs to another merchant.
func (v *Vault) DeleteCard(ctx context.Context, merchantID string, t Token) error {
	if _, err := v.get(ctx, merchantID, t); err != nil {
		return err
	}
	if c, ok := v.cvcs.Take(t); ok {
		c.Wipe()
	}
	return v.store.Delete(ctx, t)
}

// rotateBatch is how many records one Store call lists during rotation: small
// enough to keep a database round trip short, large enough to amortize it.
const rotateBatch = 200

// RotateResult counts what Rotate did.
type RotateResult struct {
	// Rewrapped is how many DEKs this call moved under the active KEK.
	Rewrapped int
	// Failed is how many records could not be rewrapped, because their KEK is not
	// in the ring or their envelope does not open.
	Failed int
}

// Rotate rewraps every DEK that is not under the active KEK, without touching
// any ciphertext. Records another replica rotates concurrently are skipped. Old
// KEKs keep decrypting until removed from the configuration; remove one only
// after a Rotate that reports Failed == 0. Returns an error if any record could
// not be rewrapped, with the counts so far.
func (v *Vault) Rotate(ctx context.Context) (RotateResult, error) {
	var res RotateResult
	active := v.keys.Active()
	var after Token
	for {
		rs, err := v.store.ListNotUnderKEK(ctx, active, after, rotateBatch)
		if err != nil {
			return res, fmt.Errorf("rotate: list: %w", err)
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			after = r.Token
			env, err := v.keys.rewrap(r.Envelope, string(r.Token))
			if err != nil {
				res.Failed++
				continue
			}
			err = v.store.UpdateKEK(ctx, r.Token, r.Envelope.KEKID, env.KEKID, env.WrappedDEK)
			switch payments.ErrorCode(err) {
			case "":
				res.Rewrapped++
			case payments.ECONFLICT, payments.ENOTFOUND:
				// Rotated by another replica, or deleted meanwhile.
			default:
				return res, fmt.Errorf("rotate %s: %w", r.Token, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("rotate: %d cards could not be rewrapped under %s", res.Failed, active)
	}
	return res, nil
}
