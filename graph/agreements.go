package graph

import (
	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/money"
)

// agreementInput turns signAgreement's input, with its checked maxAmount,
// into the domain's.
func agreementInput(in model.SignAgreementInput, maxAmount *money.Amount) cashier.AgreementInput {
	out := cashier.AgreementInput{
		Connector: deref(in.Connector), CustomerID: deref(in.CustomerID), Currency: parseCurrency(in.Currency),
		MaxAmount: maxAmount, ReturnURL: deref(in.ReturnURL), IdempotencyKey: in.IdempotencyKey,
	}
	if a := in.Account; a != nil {
		out.Account = connectors.BankAccount{Holder: a.Holder, Number: a.Number, BankCode: deref(a.BankCode), Country: deref(a.Country)}
	}
	return out
}
