package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/ent/posting"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Balance returns the current balance of the account with key; an account
// never posted to has a zero balance. Returns EINVALID for an invalid key.
// Tenant rules apply: a merchant asking for another owner's account gets
// ENOTFOUND.
func (l *Ledger) Balance(ctx context.Context, key AccountKey) (money.Amount, error) {
	a, err := l.FindAccount(ctx, key)
	if payments.ErrorCode(err) == payments.ENOTFOUND && visibleTo(ctx, key) {
		return money.Amount{Currency: key.Currency}, nil
	}
	if err != nil {
		return money.Amount{}, err
	}
	return money.Amount{Minor: a.Balance, Currency: key.Currency}, nil
}

// BalanceAsOf returns the balance of the account with key counting only the
// postings of entries effective at or before at: the sum of those postings.
// Returns what Balance returns for unknown accounts.
func (l *Ledger) BalanceAsOf(ctx context.Context, key AccountKey, at time.Time) (money.Amount, error) {
	a, err := l.FindAccount(ctx, key)
	if payments.ErrorCode(err) == payments.ENOTFOUND && visibleTo(ctx, key) {
		return money.Amount{Currency: key.Currency}, nil
	}
	if err != nil {
		return money.Amount{}, err
	}
	var sums []struct {
		Sum *int64 `json:"sum"`
	}
	err = l.client.Posting.Query().
		Where(posting.AccountIDEQ(a.ID), posting.EffectiveAtLTE(at.UTC())).
		Aggregate(ent.As(ent.Sum(posting.FieldAmount), "sum")).
		Scan(ctx, &sums)
	if err != nil {
		return money.Amount{}, fmt.Errorf("balance of %s as of %s: %w", key, at, err)
	}
	var total int64
	if len(sums) == 1 && sums[0].Sum != nil {
		total = *sums[0].Sum
	}
	return money.Amount{Minor: total, Currency: key.Currency}, nil
}

// MerchantBalance is a merchant's money in one currency, by account kind.
type MerchantBalance struct {
	Currency  money.Currency
	Pending   money.Amount
	Available money.Amount
	Reserve   money.Amount
}

// MerchantBalances returns the merchant's balances, one per currency it has
// ever held, ordered by currency code. Merchant accounts are created on first
// posting, so a new merchant has none.
func (l *Ledger) MerchantBalances(ctx context.Context, merchantID string) ([]MerchantBalance, error) {
	rows, err := l.client.LedgerAccount.Query().
		Where(ledgeraccount.OwnerTypeEQ(ledgeraccount.OwnerTypeMERCHANT), ledgeraccount.OwnerIDEQ(merchantID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("balances of %s: %w", merchantID, err)
	}
	byCur := map[money.Currency]*MerchantBalance{}
	for _, row := range rows {
		key, err := KeyOf(row)
		if err != nil {
			return nil, err
		}
		mb := byCur[key.Currency]
		if mb == nil {
			zero := money.Amount{Currency: key.Currency}
			mb = &MerchantBalance{Currency: key.Currency, Pending: zero, Available: zero, Reserve: zero}
			byCur[key.Currency] = mb
		}
		amt := money.Amount{Minor: row.Balance, Currency: key.Currency}
		switch key.Kind {
		case KindPending:
			mb.Pending = amt
		case KindAvailable:
			mb.Available = amt
		case KindReserve:
			mb.Reserve = amt
		}
	}
	out := make([]MerchantBalance, 0, len(byCur))
	for _, mb := range byCur {
		out = append(out, *mb)
	}
	slices.SortFunc(out, func(a, b MerchantBalance) int { return cmp.Compare(a.Currency.Code(), b.Currency.Code()) })
	return out, nil
}

// Statement returns a page of the account's postings, newest first, keyset
// paginated on the account's posting sequence: pass the last page's end
// cursor as after. Tenant rules apply to the account and its postings.
// Returns ENOTFOUND if the account does not exist or is not visible.
func (l *Ledger) Statement(ctx context.Context, accountID string, after *ent.Cursor, first *int) (*ent.PostingConnection, error) {
	exists, err := l.client.LedgerAccount.Query().Where(ledgeraccount.IDEQ(accountID)).Exist(ctx)
	if err != nil {
		return nil, fmt.Errorf("statement of %s: %w", accountID, err)
	}
	if !exists {
		return nil, payments.Errorf(payments.ENOTFOUND, "account %s not found", accountID)
	}
	return l.client.Posting.Query().Where(posting.AccountIDEQ(accountID)).
		Paginate(ctx, after, first, nil, nil,
			ent.WithPostingOrder(&ent.PostingOrder{Field: ent.PostingOrderFieldSeq, Direction: entDesc}))
}

// MerchantStatement is Statement for the merchant's account of kind in
// currency; an account never posted to has an empty statement. Returns
// EINVALID for an invalid kind or currency.
func (l *Ledger) MerchantStatement(ctx context.Context, merchantID string, kind Kind, c money.Currency, after *ent.Cursor, first *int) (*ent.PostingConnection, error) {
	if c.IsZero() {
		return nil, payments.FieldErrorf("currency", "unknown currency")
	}
	a, err := l.FindAccount(ctx, MerchantAccount(merchantID, kind, c))
	if payments.ErrorCode(err) == payments.ENOTFOUND {
		return &ent.PostingConnection{Edges: []*ent.PostingEdge{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return l.Statement(ctx, a.ID, after, first)
}

// AccountFilter narrows Accounts; zero fields match everything.
type AccountFilter struct {
	OwnerType OwnerType
	OwnerID   string
	Currency  string
}

// Accounts returns a page of the accounts the viewer may see, oldest first.
func (l *Ledger) Accounts(ctx context.Context, f AccountFilter, after *ent.Cursor, first *int) (*ent.LedgerAccountConnection, error) {
	q := l.client.LedgerAccount.Query()
	if f.OwnerType != "" {
		q = q.Where(ledgeraccount.OwnerTypeEQ(entOwnerType(f.OwnerType)))
	}
	if f.OwnerID != "" {
		q = q.Where(ledgeraccount.OwnerIDEQ(f.OwnerID))
	}
	if f.Currency != "" {
		q = q.Where(ledgeraccount.CurrencyEQ(f.Currency))
	}
	return q.Paginate(ctx, after, first, nil, nil)
}

// Entries returns a page of the journal entries of a source type (and of one
// source if sourceID is not empty), oldest first. Only operators and the
// system may read entries.
func (l *Ledger) Entries(ctx context.Context, sourceType, sourceID string, after *ent.Cursor, first *int) (*ent.JournalEntryConnection, error) {
	q := l.client.JournalEntry.Query().Where(journalentry.SourceTypeEQ(sourceType))
	if sourceID != "" {
		q = q.Where(journalentry.SourceIDEQ(sourceID))
	}
	return q.Paginate(ctx, after, first, nil, nil)
}

// EntriesBySource returns the journal entries of a source type, or of one
// source when sourceID is not empty (at most one entry). Only operators and
// the system may read entries.
func (l *Ledger) EntriesBySource(ctx context.Context, sourceType, sourceID string) ([]*ent.JournalEntry, error) {
	q := l.client.JournalEntry.Query().Where(journalentry.SourceTypeEQ(sourceType))
	if sourceID != "" {
		q = q.Where(journalentry.SourceIDEQ(sourceID))
	}
	return q.Order(journalentry.ByID()).WithPostings().All(ctx)
}

// TrialBalanceLine sums one currency over every account: Debits are the
// negative balances (as a positive amount), Credits the positive ones. The
// ledger is balanced when Net, Credits − Debits, is zero and PostingsNet, the
// sum of every posting ever made in the currency, is zero too.
type TrialBalanceLine struct {
	Currency    money.Currency
	Accounts    int
	Debits      money.Amount
	Credits     money.Amount
	Net         money.Amount
	PostingsNet money.Amount
}

// TrialBalance returns one line per currency, ordered by code. It reads
// balances and postings in one transaction so they describe the same moment.
func (l *Ledger) TrialBalance(ctx context.Context) ([]TrialBalanceLine, error) {
	tx, err := l.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var accRows []struct {
		Currency string `json:"currency"`
		N        int    `json:"n"`
		Debits   *int64 `json:"debits"`
		Credits  *int64 `json:"credits"`
	}
	err = tx.LedgerAccount.Query().GroupBy(ledgeraccount.FieldCurrency).
		Aggregate(
			ent.As(ent.Count(), "n"),
			sumWhere(ledgeraccount.FieldBalance, "<", "debits"),
			sumWhere(ledgeraccount.FieldBalance, ">", "credits"),
		).Scan(ctx, &accRows)
	if err != nil {
		return nil, fmt.Errorf("trial balance: %w", err)
	}
	var postRows []struct {
		Currency string `json:"currency"`
		Sum      *int64 `json:"sum"`
	}
	err = tx.Posting.Query().GroupBy(posting.FieldCurrency).
		Aggregate(ent.As(ent.Sum(posting.FieldAmount), "sum")).Scan(ctx, &postRows)
	if err != nil {
		return nil, fmt.Errorf("trial balance postings: %w", err)
	}
	postNet := map[string]int64{}
	for _, r := range postRows {
		if r.Sum != nil {
			postNet[r.Currency] = *r.Sum
		}
	}
	lines := make([]TrialBalanceLine, 0, len(accRows))
	for _, r := range accRows {
		c, err := money.ParseCurrency(r.Currency)
		if err != nil {
			return nil, fmt.Errorf("trial balance: %w", err)
		}
		deb, cred := deref(r.Debits), deref(r.Credits)
		lines = append(lines, TrialBalanceLine{
			Currency:    c,
			Accounts:    r.N,
			Debits:      money.Amount{Minor: -deb, Currency: c},
			Credits:     money.Amount{Minor: cred, Currency: c},
			Net:         money.Amount{Minor: cred + deb, Currency: c},
			PostingsNet: money.Amount{Minor: postNet[r.Currency], Currency: c},
		})
	}
	slices.SortFunc(lines, func(a, b TrialBalanceLine) int { return cmp.Compare(a.Currency.Code(), b.Currency.Code()) })
	return lines, nil
}

// Discrepancy is an account whose stored balance or version disagrees with its
// postings. The ledger never produces one; Verify exists to prove it.
type Discrepancy struct {
	AccountID   string
	Balance     int64
	PostingsSum int64
	Version     int64
	Postings    int64
}

// Verify recomputes every account's balance and version from its postings and
// returns the accounts where they differ (none, on a healthy ledger).
func (l *Ledger) Verify(ctx context.Context) ([]Discrepancy, error) {
	tx, err := l.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var sums []struct {
		AccountID string `json:"account_id"`
		Sum       *int64 `json:"sum"`
		N         int64  `json:"n"`
		MaxSeq    *int64 `json:"max_seq"`
	}
	err = tx.Posting.Query().GroupBy(posting.FieldAccountID).
		Aggregate(ent.As(ent.Sum(posting.FieldAmount), "sum"), ent.As(ent.Count(), "n"), ent.As(ent.Max(posting.FieldSeq), "max_seq")).
		Scan(ctx, &sums)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	accs, err := tx.LedgerAccount.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	type agg struct{ sum, n, maxSeq int64 }
	by := map[string]agg{}
	for _, s := range sums {
		by[s.AccountID] = agg{deref(s.Sum), s.N, deref(s.MaxSeq)}
	}
	var out []Discrepancy
	for _, a := range accs {
		g := by[a.ID]
		if g.sum != a.Balance || g.n != a.Version || g.maxSeq != a.Version {
			out = append(out, Discrepancy{AccountID: a.ID, Balance: a.Balance, PostingsSum: g.sum, Version: a.Version, Postings: g.n})
		}
	}
	return out, nil
}

// visibleTo reports whether the viewer in ctx may see the account of key if it
// existed: operators and the system see all, a merchant only its own.
func visibleTo(ctx context.Context, key AccountKey) bool {
	v, ok := viewer.FromContext(ctx)
	switch {
	case !ok:
		return false
	case v.IsPrivileged():
		return true
	}
	return key.OwnerType == OwnerMerchant && key.OwnerID == v.MerchantID && v.MerchantID != ""
}

const entDesc = entgql.OrderDirectionDesc

func sumWhere(column, op, as string) ent.AggregateFunc {
	return func(s *sql.Selector) string {
		c := s.C(column)
		return sql.As(fmt.Sprintf("SUM(CASE WHEN %s %s 0 THEN %s ELSE 0 END)", c, op, c), as)
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
