package checkout

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/vaultcard"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/vault/entstore"
	"github.com/straitpay/strait/payments/viewer"
)

// CardInput is a card as the buyer types it into the cashier. Like
// vault.CardInput, it never prints its number or CVC.
type CardInput struct {
	Number     string
	CVC        string
	ExpMonth   int
	ExpYear    int
	HolderName string
	// Save saves the card to the session's customer.
	Save bool
}

// String masks the card.
func (in CardInput) String() string { return in.vaultInput("", "", "").String() }

func (in CardInput) vaultInput(merchantID, customerID, sessionID string) vault.CardInput {
	return vault.CardInput{
		MerchantID: merchantID, CustomerID: customerID, SessionID: sessionID, Number: in.Number, CVC: in.CVC,
		ExpMonth: in.ExpMonth, ExpYear: in.ExpYear, HolderName: in.HolderName, Save: in.Save,
	}
}

// vaultFields maps the vault's error fields to the GraphQL input's.
var vaultFields = map[string]string{"exp_month": "expMonth", "exp_year": "expYear", "customer_id": "save"}

// TokenizeCard vaults a card for the cashier's session in ctx and returns its
// token with the card's display details. Returns EINVALID with the input field
// at fault ("number", "cvc", "expMonth", "expYear", "save"; messages never
// repeat card digits), ECONFLICT when the session is not open, and
// EUNAVAILABLE when the vault has no keys.
func (s *Service) TokenizeCard(ctx context.Context, in CardInput) (vault.CardInfo, error) {
	if s.vault == nil {
		return vault.CardInfo{}, payments.Errorf(payments.EUNAVAILABLE, "the card vault is not configured")
	}
	v, err := cashierSession(ctx)
	if err != nil {
		return vault.CardInfo{}, err
	}
	sess, err := s.Confirmable(ctx, v.SessionID)
	if err != nil {
		return vault.CardInfo{}, err
	}
	if in.HolderName != "" && len(in.HolderName) > 200 {
		return vault.CardInfo{}, payments.FieldErrorf("holderName", "holderName must be at most 200 characters")
	}
	customerID := ""
	if in.Save {
		if sess.CustomerID == "" {
			return vault.CardInfo{}, payments.FieldErrorf("save", "saving a card needs a checkout session with a customer")
		}
		customerID = sess.CustomerID
	}
	_, info, err := s.vault.Tokenize(ctx, in.vaultInput(sess.MerchantID, customerID, sess.ID))
	if f := payments.ErrorField(err); vaultFields[f] != "" {
		return vault.CardInfo{}, payments.FieldErrorf(vaultFields[f], "%s", payments.ErrorMessage(err))
	}
	return info, err
}

// SavedCards returns the cards saved to the session's customer, oldest first.
func (s *Service) SavedCards(ctx context.Context, sess *ent.CheckoutSession) ([]vault.CardInfo, error) {
	if sess.CustomerID == "" {
		return nil, nil
	}
	rows, err := s.client.VaultCard.Query().
		Where(vaultcard.MerchantID(sess.MerchantID), vaultcard.CustomerID(sess.CustomerID), vaultcard.Saved(true)).
		Order(ent.Asc(vaultcard.FieldCreatedAt), ent.Asc(vaultcard.FieldID)).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("saved cards: %w", err)
	}
	return CardInfos(rows), nil
}

// CardInfos returns vault rows as display details, keeping only saved cards.
func CardInfos(rows []*ent.VaultCard) []vault.CardInfo {
	out := make([]vault.CardInfo, 0, len(rows))
	for _, r := range rows {
		if r.Saved {
			out = append(out, entstore.Info(r))
		}
	}
	return out
}

// CardForSession returns the card a session pays with, for the connector
// call: the PAN from its envelope and the CVC held since tokenization (taken:
// zero on a second call). A one-time token must have been made for this
// session and not used yet; a saved card must be the session customer's.
// Returns EINVALID (field "token") for a malformed token, ENOTFOUND for a
// one-time token of another session or already used, and for another
// merchant's or another customer's card (exactly like an unknown one: the
// caller never learns which), EINVALID (field "expYear") for a card that has
// expired since, and EUNAVAILABLE without a vault. The caller wipes the card
// (Card.Wipe) once the authorization request is sent.
func (s *Service) CardForSession(ctx context.Context, sess *ent.CheckoutSession, token string) (vault.Card, error) {
	return s.cardForSession(ctx, sess, token, nil, tokenUse{}, nil)
}

// tokenUse is how a confirm uses a one-time token: key is its idempotency
// key (a one-time token it used already, a retry, is still its own), and
// with mark set cardForSession marks the token used by it
// (useOneTimeToken); without, the caller marks it in its own transaction
// (markOneTimeToken). The zero tokenUse only reads: a token used by any
// confirm is refused.
type tokenUse struct {
	key  string
	mark bool
}

// heldCard is the card a confirm took from the vault, kept for the
// confirm's lifetime and wiped when it ends: the vault hands out a card's
// CVC once, and a confirm whose transaction did not commit is decided again
// (the executor runs it again, or alone, or Confirm runs it again after
// claiming its key) with the card it already holds.
type heldCard struct{ card *vault.Card }

// wipe wipes the held card's CVC, if any.
func (h *heldCard) wipe() {
	if h != nil && h.card != nil {
		h.card.Wipe()
	}
}

// cardForSession is CardForSession with the token's vault record when the
// caller read it already (rec; nil: read it here), for a confirm (use). A
// card held already (held, nil for none) is checked again and returned
// rather than taken from the vault again; one taken is held.
func (s *Service) cardForSession(ctx context.Context, sess *ent.CheckoutSession, token string, rec *vault.Record, use tokenUse, held *heldCard) (vault.Card, error) {
	if s.vault == nil {
		return vault.Card{}, payments.Errorf(payments.EUNAVAILABLE, "the card vault is not configured")
	}
	t, err := vault.ParseToken(token)
	if err != nil {
		return vault.Card{}, err
	}
	if rec == nil {
		r, err := s.vault.Records(ctx, []vault.Token{t})
		if err != nil {
			return vault.Card{}, err
		}
		found := r[t]
		rec = &found
	}
	if t.IsSaved() && (rec.CustomerID == "" || rec.CustomerID != sess.CustomerID) {
		return vault.Card{}, payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	if !t.IsSaved() && (rec.SessionID != sess.ID || (rec.UsedBy != "" && (use.key == "" || rec.UsedBy != use.key))) {
		return vault.Card{}, payments.Errorf(payments.ENOTFOUND, "card %s not found", t)
	}
	if use.mark {
		if err := s.useOneTimeToken(ctx, sess, t, *rec, use.key); err != nil {
			return vault.Card{}, err
		}
	}
	if held != nil && held.card != nil && held.card.Token == t {
		return *held.card, nil
	}
	c, err := s.vault.CardFrom(sess.MerchantID, t, *rec)
	if payments.ErrorField(err) == "exp_year" {
		return vault.Card{}, payments.FieldErrorf("expYear", "%s", payments.ErrorMessage(err))
	}
	if err == nil && held != nil {
		held.wipe()
		held.card = &c
	}
	return c, err
}

// useOneTimeToken marks a one-time token used by the confirm with
// idempotency key key (a mark of its own when there is none), before the
// confirm writes its payment: no other confirm may use it after, whether
// this one is charged, declined or fails. A retry of the same confirm
// (the same key; the idempotency layer holds it to the same request) may
// use it again. The mark is a conditional UPDATE, so of two confirms
// racing for one token only one gets it. Saved cards ("card_…") are not
// marked: they are reusable. Returns ENOTFOUND, as for a token that does
// not exist, when the token is not this session's or is used already.
func (s *Service) useOneTimeToken(ctx context.Context, sess *ent.CheckoutSession, token vault.Token, rec vault.Record, key string) error {
	if token.IsSaved() || (key != "" && rec.UsedBy == key) {
		return nil
	}
	key = useMark(key)
	n, err := s.client.VaultCard.Update().
		Where(vaultcard.ID(string(token)), vaultcard.MerchantID(sess.MerchantID), vaultcard.CheckoutSessionID(sess.ID), vaultcard.UsedByIsNil()).
		SetUsedBy(key).Save(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("use card token: %w", err)
	}
	if n != 1 {
		return payments.Errorf(payments.ENOTFOUND, "card %s not found", token)
	}
	return nil
}

// useMark is what marks a one-time token used by a confirm: its idempotency
// key, or a mark of its own when it has none.
func useMark(key string) string {
	if key == "" {
		return pulid.New("use")
	}
	return key
}

// markOneTimeToken is useOneTimeToken in tx, for a confirm whose session tx
// holds locked (confirmMany): the mark goes with the transaction's COMMIT
// (store.DeferToCommit), no round trip of its own. It needs no answer: the
// session's lock serializes the confirms that could use the token (it pays
// that session only), and the token was read unused under it.
func markOneTimeToken(ctx context.Context, tx *ent.Tx, token vault.Token, key string) error {
	_, err := tx.ExecContext(store.DeferToCommit(ctx),
		"UPDATE `vault_cards` SET `used_by` = ? WHERE `id` = ? AND `used_by` IS NULL", key, string(token))
	if err != nil {
		return fmt.Errorf("use card token: %w", err)
	}
	return nil
}
