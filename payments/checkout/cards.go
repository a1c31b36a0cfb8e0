package checkout

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/vaultcard"
	"github.com/straitpay/strait/payments"
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
func (in CardInput) String() string { return in.vaultInput("", "").String() }

func (in CardInput) vaultInput(merchantID, customerID string) vault.CardInput {
	return vault.CardInput{
		MerchantID: merchantID, CustomerID: customerID, Number: in.Number, CVC: in.CVC,
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
	_, info, err := s.vault.Tokenize(ctx, in.vaultInput(sess.MerchantID, customerID))
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
// zero on a second call). A one-time token must be the session merchant's; a
// saved card must also be the session customer's. Returns EINVALID (field
// "token") for a malformed token, ENOTFOUND for another merchant's or another
// customer's card (exactly like an unknown one), EINVALID (field "expYear") for
// a card that has expired since, and EUNAVAILABLE without a vault. The caller
// wipes the card (Card.Wipe) once the authorization request is sent.
func (s *Service) CardForSession(ctx context.Context, sess *ent.CheckoutSession, token string) (vault.Card, error) {
	return s.cardForSession(ctx, sess, token, nil)
}

// cardForSession is CardForSession with the token's vault record when the
// caller read it already (rec; nil: read it here).
func (s *Service) cardForSession(ctx context.Context, sess *ent.CheckoutSession, token string, rec *vault.Record) (vault.Card, error) {
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
	c, err := s.vault.CardFrom(sess.MerchantID, t, *rec)
	if payments.ErrorField(err) == "exp_year" {
		return vault.Card{}, payments.FieldErrorf("expYear", "%s", payments.ErrorMessage(err))
	}
	return c, err
}
