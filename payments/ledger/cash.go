package ledger

import "github.com/straitpay/strait/payments/money"

// KindCash is the platform's cash at its banks: what the channels have paid
// in. Reconciliation (payments/recon) moves a settled line from the
// channel's receivable into it; like the receivable it is an asset, so its
// balance is negative while it holds money (the ledger's sign convention:
// a balance is what the platform holds for the owner).
const KindCash Kind = "cash"

// CashAccount returns the key of the platform's cash account in c.
func CashAccount(c money.Currency) AccountKey { return PlatformAccount(KindCash, c) }
