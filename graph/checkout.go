package graph

import (
	"context"
	"strings"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/customer"
	"github.com/straitpay/strait/ent/vaultcard"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments/checkout"
	"github.com/straitpay/strait/payments/coupons"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// checkedMoney turns a MoneyInput into the domain's unchecked input: the
// domain checks currency, exponent and sign with its own field names.
func checkedMoney(in *model.MoneyInput) *money.Input {
	if in == nil {
		return nil
	}
	return &money.Input{Minor: int64(in.Amount), Currency: in.Currency, Exponent: in.Exponent}
}

func methodsIn(ms []model.PaymentMethodType) []routing.Method {
	out := make([]routing.Method, len(ms))
	for i, m := range ms {
		out[i] = routing.Method(strings.ToLower(string(m)))
	}
	return out
}

func methodsOut(ms []routing.Method, err error) ([]model.PaymentMethodType, error) {
	out := make([]model.PaymentMethodType, len(ms))
	for i, m := range ms {
		out[i] = model.PaymentMethodType(strings.ToUpper(string(m)))
	}
	return out, err
}

func createSessionInput(in model.CreateCheckoutSessionInput) checkout.CreateInput {
	out := checkout.CreateInput{
		Amount: *checkedMoney(in.Amount), MerchantReference: deref(in.MerchantReference),
		CustomerID: deref(in.CustomerID), CaptureMethod: deref(in.CaptureMethod),
		AllowedMethods: methodsIn(in.AllowedMethods), ReturnURL: deref(in.ReturnURL), ExpiresAt: in.ExpiresAt,
		BuyerCountry: deref(in.BuyerCountry), BuyerCurrency: deref(in.BuyerCurrency), IdempotencyKey: deref(in.IdempotencyKey),
	}
	if a := in.ShippingAddress; a != nil {
		out.ShippingAddress = map[string]string{"line1": deref(a.Line1), "line2": deref(a.Line2), "city": deref(a.City),
			"state": deref(a.State), "postal_code": deref(a.PostalCode), "country": deref(a.Country)}
	}
	if in.ExpiresIn != nil {
		d := time.Duration(*in.ExpiresIn) * time.Second
		out.ExpiresIn = &d
	}
	for _, e := range in.Metadata {
		out.Metadata = append(out.Metadata, checkout.MetadataEntry{Key: e.Key, Value: e.Value})
	}
	return out
}

func createdPayload(c checkout.Created, err error) (*model.CreateCheckoutSessionPayload, error) {
	if err != nil {
		return nil, err
	}
	return &model.CreateCheckoutSessionPayload{CheckoutSession: c.Session, CashierToken: c.CashierToken, CashierTokenExpiresAt: c.TokenExpiresAt}, nil
}

func cashierToken(tok string, exp time.Time, err error) (*model.CashierToken, error) {
	if err != nil {
		return nil, err
	}
	return &model.CashierToken{Token: tok, ExpiresAt: exp}, nil
}

func cardInput(in model.TokenizeCardInput) checkout.CardInput {
	return checkout.CardInput{
		Number: in.Number, CVC: deref(in.Cvc), ExpMonth: in.ExpMonth, ExpYear: in.ExpYear,
		HolderName: deref(in.HolderName), Save: deref(in.Save),
	}
}

func tokenized(info vault.CardInfo, err error) (*model.TokenizedCard, error) {
	if err != nil {
		return nil, err
	}
	return &model.TokenizedCard{Token: string(info.Token), Card: &info}, nil
}

func couponInput(in model.CreateCouponInput) coupons.CreateInput {
	return coupons.CreateInput{
		Code: in.Code, Name: deref(in.Name), Kind: in.Kind, AmountOff: checkedMoney(in.AmountOff),
		PercentOffBps: in.PercentOffBps, Currency: deref(in.Currency), MinimumAmount: checkedMoney(in.MinimumAmount),
		MaxRedemptions: in.MaxRedemptions, MaxRedemptionsPerCustomer: in.MaxRedemptionsPerCustomer,
		ValidFrom: in.ValidFrom, ValidUntil: in.ValidUntil, Public: deref(in.Public),
	}
}

func customerInput(in model.CreateCustomerInput) checkout.CustomerInput {
	return checkout.CustomerInput{
		Email: deref(in.Email), Name: deref(in.Name), Phone: deref(in.Phone),
		Country: deref(in.Country), MerchantReference: deref(in.MerchantReference),
	}
}

// couponAmount returns one of a coupon's amounts as Money, nil when unset.
func couponAmount(c *ent.Coupon, minor *int64) (*money.Amount, error) {
	if minor == nil || c.Currency == "" {
		return nil, nil
	}
	return amount(*minor, c.Currency)
}

var couponsNewestFirst = ent.WithCouponOrder(&ent.CouponOrder{Direction: entgql.OrderDirectionDesc, Field: ent.DefaultCouponOrder.Field})

var customersNewestFirst = ent.WithCustomerOrder(&ent.CustomerOrder{Direction: entgql.OrderDirectionDesc, Field: ent.DefaultCustomerOrder.Field})

// customers pages the merchant's customers with their saved cards loaded in
// one query for the whole page (Customer.savedCards reads them).
func (r *Resolver) customers(ctx context.Context, after *entgql.Cursor[string], first *int, before *entgql.Cursor[string], last *int, f *model.CustomerListFilter) (*ent.CustomerConnection, error) {
	q := r.Client.Customer.Query().WithVaultCards(func(q *ent.VaultCardQuery) {
		q.Where(vaultcard.Saved(true)).Order(ent.Asc(vaultcard.FieldCreatedAt), ent.Asc(vaultcard.FieldID))
	})
	if f != nil && f.Email != nil {
		q.Where(customer.Email(strings.ToLower(strings.TrimSpace(*f.Email))))
	}
	if f != nil && f.MerchantReference != nil {
		q.Where(customer.MerchantReference(*f.MerchantReference))
	}
	return q.Paginate(ctx, after, first, before, last, customersNewestFirst)
}

// savedCards returns a customer's saved cards, from the page's eager load when
// there was one.
func (r *Resolver) savedCards(ctx context.Context, c *ent.Customer) ([]*vault.CardInfo, error) {
	rows, err := c.Edges.VaultCardsOrErr()
	if err != nil {
		if rows, err = c.QueryVaultCards().Where(vaultcard.Saved(true)).
			Order(ent.Asc(vaultcard.FieldCreatedAt), ent.Asc(vaultcard.FieldID)).All(ctx); err != nil {
			return nil, err
		}
	}
	return ptrs(checkout.CardInfos(rows), nil)
}

// sessionOf is the cashier's checkout session; @auth has required a cashier.
func sessionOf(ctx context.Context) string {
	v, _ := viewer.FromContext(ctx)
	return v.SessionID
}

// confirmInput maps the GraphQL input to the checkout's, with the
// request's idempotency claim, which the confirm writes with its payment
// (claimedByWork).
func confirmInput(ctx context.Context, in model.ConfirmCheckoutSessionInput) checkout.ConfirmInput {
	out := checkout.ConfirmInput{
		Claim:          claimFor(ctx),
		Method:         routing.Method(strings.ToLower(string(in.Method))),
		CardToken:      deref(in.CardToken),
		Email:          deref(in.Email),
		BillingCountry: deref(in.BillingCountry),
		DeviceID:       deref(in.DeviceID),
		IdempotencyKey: in.IdempotencyKey,
	}
	if in.WalletFlow != nil {
		out.WalletFlow = strings.ToLower(string(*in.WalletFlow))
	}
	return out
}
