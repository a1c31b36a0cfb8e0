package checkout

import (
	"context"
	"slices"
	"strings"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/vocab/sessionstatus"
)

// checkoutMethods are the methods a checkout session can be paid with.
// A direct debit pulls from a mandate the buyer signed beforehand
// (agreements), never from a checkout.
var checkoutMethods = []routing.Method{routing.Card, routing.Wallet, routing.BankTransfer}

// refusal is the one rule of what pays a checkout session, which
// AvailableMethods offers by and Confirm checks first. Method m can pay
// sess when:
//
//   - m is a checkout method (card, wallet, bank transfer; not a direct
//     debit) and the session allows it;
//   - for a wallet, the session has a return URL: the wallet sends the
//     buyer back to it;
//   - for anything but a card, the buyer's country is known (country:
//     the session's buyerCountry, or at confirm the billing country given
//     with it); a card's country, when the buyer's is not known, is its
//     issuer's, learnt from the card;
//
// and, checked by routing (offered: the preview, AvailableMethods; at
// confirm: Route), a connector takes m for the amount due, in its
// currency, from that country (any country it serves while a card's is
// not known yet). It returns the refusal, an EINVALID error on field
// "method", or nil.
func refusal(sess *ent.CheckoutSession, m routing.Method, country string) error {
	switch {
	case m == "":
		return payments.FieldErrorf("method", "a payment method is required")
	case !slices.Contains(checkoutMethods, m):
		return payments.FieldErrorf("method", "%s cannot pay a checkout session", m)
	case !slices.ContainsFunc(AllowedMethods(sess), func(a routing.Method) bool { return strings.EqualFold(string(a), string(m)) }):
		return payments.FieldErrorf("method", "this checkout does not accept %s", m)
	case m == routing.Wallet && sess.ReturnURL == "":
		return payments.FieldErrorf("method", "a wallet payment needs a checkout session with a returnURL")
	case m != routing.Card && country == "":
		return payments.FieldErrorf("method", "a %s payment needs the buyer's country: set buyerCountry on the checkout session or billingCountry", m)
	}
	return nil
}

// AvailableMethods returns the methods the buyer can use on sess now: those
// refusal allows with the session's buyerCountry, and that at least one
// connector takes for the amount due, its currency and the buyer's country
// (routing's preview; any country a connector serves when the session has
// none, for cards). A session that is not open, or has nothing left to
// pay, offers none.
func (s *Service) AvailableMethods(ctx context.Context, sess *ent.CheckoutSession) ([]routing.Method, error) {
	if s.router == nil || sess.Status != sessionstatus.Open || sess.Amount <= 0 {
		return nil, nil
	}
	due, _, _, err := Amounts(sess)
	if err != nil {
		return nil, err
	}
	ms, err := s.router.AvailableMethods(ctx, due, sess.BuyerCountry)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ms, func(m routing.Method) bool { return refusal(sess, m, sess.BuyerCountry) != nil }), nil
}

// buyerCountry is the buyer's country as a confirm knows it before the
// card: the session's, or the billing country given with the confirm.
func buyerCountry(sess *ent.CheckoutSession, in ConfirmInput) string {
	if sess.BuyerCountry != "" {
		return sess.BuyerCountry
	}
	return strings.ToUpper(in.BillingCountry)
}
