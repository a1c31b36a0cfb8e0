package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/ent/predicate"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// account is what the ledger needs of an account row besides its balance; all
// of it is immutable, so it is cached.
type account struct {
	id            string
	key           AccountKey
	merchantID    string
	allowNegative bool
}

func entOwnerType(o OwnerType) ledgeraccount.OwnerType {
	return ledgeraccount.OwnerType(strings.ToUpper(string(o)))
}

func entKind(k Kind) ledgeraccount.Kind { return ledgeraccount.Kind(strings.ToUpper(string(k))) }

// KeyOf returns the key of a stored account. Returns EINTERNAL for a currency
// the row should never have held.
func KeyOf(a *ent.LedgerAccount) (AccountKey, error) {
	c, err := money.ParseCurrency(a.Currency)
	if err != nil {
		return AccountKey{}, fmt.Errorf("ledger account %s: %w", a.ID, err)
	}
	return AccountKey{
		OwnerType: OwnerType(strings.ToLower(string(a.OwnerType))),
		OwnerID:   a.OwnerID,
		Kind:      Kind(strings.ToLower(string(a.Kind))),
		Currency:  c,
	}, nil
}

func keyPredicate(k AccountKey) predicate.LedgerAccount {
	return ledgeraccount.And(
		ledgeraccount.OwnerTypeEQ(entOwnerType(k.OwnerType)),
		ledgeraccount.OwnerIDEQ(k.OwnerID),
		ledgeraccount.KindEQ(entKind(k.Kind)),
		ledgeraccount.CurrencyEQ(k.Currency.Code()),
	)
}

func (l *Ledger) remember(a *ent.LedgerAccount) (account, error) {
	key, err := KeyOf(a)
	if err != nil {
		return account{}, err
	}
	acc := account{id: a.ID, key: key, allowNegative: a.AllowNegative, merchantID: a.MerchantID}
	l.accounts.Store(key, acc)
	return acc, nil
}

// resolve returns the accounts of keys, creating the missing ones with a
// zero balance. Creation is an idempotent upsert outside any posting
// transaction, so concurrent first uses of one key end with one account.
func (l *Ledger) resolve(ctx context.Context, keys []AccountKey) (map[AccountKey]account, error) {
	out := make(map[AccountKey]account, len(keys))
	var missing []AccountKey
	for _, k := range keys {
		if a, ok := l.accounts.Load(k); ok {
			out[k] = a.(account)
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	slices.SortFunc(missing, AccountKey.Compare)
	missing = slices.Compact(missing)
	for attempt := 0; attempt < 2; attempt++ {
		preds := make([]predicate.LedgerAccount, len(missing))
		for i, k := range missing {
			preds[i] = keyPredicate(k)
		}
		rows, err := l.client.LedgerAccount.Query().Where(ledgeraccount.Or(preds...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("load accounts: %w", err)
		}
		for _, row := range rows {
			acc, err := l.remember(row)
			if err != nil {
				return nil, err
			}
			out[acc.key] = acc
		}
		missing = slices.DeleteFunc(missing, func(k AccountKey) bool { _, ok := out[k]; return ok })
		if len(missing) == 0 || attempt == 1 {
			break
		}
		// One plain INSERT per account, each its own statement: a multi-row
		// upsert would lock existing rows in key order while holding others,
		// and could deadlock with posting transactions that lock by id. A
		// duplicate means a concurrent first use created it: fine.
		for _, k := range missing {
			c := l.client.LedgerAccount.Create().
				SetOwnerType(entOwnerType(k.OwnerType)).
				SetOwnerID(k.OwnerID).
				SetKind(entKind(k.Kind)).
				SetCurrency(k.Currency.Code()).
				SetAllowNegative(k.AllowsNegative())
			if k.OwnerType == OwnerMerchant {
				c.SetMerchantID(k.OwnerID)
			}
			if err := c.Exec(ctx); err != nil && !ent.IsConstraintError(err) {
				return nil, fmt.Errorf("create account %s: %w", k, err)
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("ledger: accounts %v not created", missing)
	}
	return out, nil
}

// Account returns the stored account of key, creating it with a zero balance
// if it does not exist yet. Returns EINVALID for an invalid key.
func (l *Ledger) Account(ctx context.Context, key AccountKey) (*ent.LedgerAccount, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	accs, err := l.resolve(ctx, []AccountKey{key})
	if err != nil {
		return nil, err
	}
	return l.client.LedgerAccount.Get(ctx, accs[key].id)
}

// FindAccount returns the stored account of key without creating it. Returns
// EINVALID for an invalid key and ENOTFOUND if the account does not exist or
// the viewer in ctx may not see it.
func (l *Ledger) FindAccount(ctx context.Context, key AccountKey) (*ent.LedgerAccount, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	a, err := l.client.LedgerAccount.Query().Where(keyPredicate(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "account %s not found", key)
	}
	return a, err
}
