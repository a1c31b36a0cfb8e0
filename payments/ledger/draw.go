package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// DrawOrder is the one order in which money owed by a merchant (a dispute's
// hold, a refund) is taken from its balances: available first (funds
// already released to it), then pending (captured, not settled yet), then
// reserve (held back against exactly such losses). docs/settlement.md
// ("Draw order") and docs/disputes.md state it.
var DrawOrder = []Kind{KindAvailable, KindPending, KindReserve}

// Draw returns the postings that take amount from the merchant's accounts in
// DrawOrder, each at most its balance in balances (a negative balance
// counts as zero), and the part no account could cover (short). The
// postings are negative, one per account drawn on; the caller adds the
// other side of the entry and decides what a short draw means.
func Draw(merchantID string, amount money.Amount, balances map[Kind]int64) (postings []Posting, short int64) {
	left := amount.Minor
	for _, k := range DrawOrder {
		take := min(left, max(balances[k], 0))
		if take > 0 {
			postings = append(postings, Posting{Account: MerchantAccount(merchantID, k, amount.Currency),
				Amount: money.Amount{Minor: -take, Currency: amount.Currency}})
			left -= take
		}
	}
	return postings, max(left, 0)
}

// MerchantBalancesTx reads, in tx, the merchant's balance of every account
// kind in currency c (a kind it never held is absent: zero). Balances read
// so are what Draw needs; PostTx locks and checks them again, so a balance
// that fell in between is an ECONFLICT overdraft, never a negative balance.
func MerchantBalancesTx(ctx context.Context, tx *ent.Tx, merchantID string, c money.Currency) (map[Kind]int64, error) {
	accs, err := tx.LedgerAccount.Query().Where(ledgeraccount.OwnerTypeEQ(ledgeraccount.OwnerTypeMERCHANT),
		ledgeraccount.OwnerID(merchantID), ledgeraccount.Currency(c.Code())).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("balances of %s: %w", merchantID, err)
	}
	out := make(map[Kind]int64, len(accs))
	for _, a := range accs {
		out[Kind(strings.ToLower(string(a.Kind)))] = a.Balance
	}
	return out, nil
}

// PostedEntry rebuilds the entry posted for source, with its stored
// postings, so that a later movement (a refund's reversal) can turn around
// exactly what was posted, whichever accounts the draw took it from.
// Returns ENOTFOUND if the source never posted.
func (l *Ledger) PostedEntry(ctx context.Context, source Source) (Entry, error) {
	sys := viewer.SystemContext(ctx)
	row, err := l.client.JournalEntry.Query().Where(journalentry.SourceTypeEQ(source.Type), journalentry.SourceIDEQ(source.ID)).
		WithPostings(func(q *ent.PostingQuery) { q.WithAccount() }).Only(sys)
	if ent.IsNotFound(err) {
		return Entry{}, payments.Errorf(payments.ENOTFOUND, "no entry for %s", source)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("entry of %s: %w", source, err)
	}
	e := Entry{Source: source, Description: row.Description, Reference: row.Reference, EffectiveAt: row.EffectiveAt}
	for _, p := range row.Edges.Postings {
		key, err := KeyOf(p.Edges.Account)
		if err != nil {
			return Entry{}, err
		}
		e.Postings = append(e.Postings, Posting{Account: key, Amount: money.Amount{Minor: p.Amount, Currency: key.Currency}})
	}
	return e, nil
}
