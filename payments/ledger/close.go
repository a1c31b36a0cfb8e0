package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dayclose"
	"github.com/straitpay/strait/ent/dayclosebalance"
	"github.com/straitpay/strait/ent/dayclosestatement"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/ent/ledgercutoff"
	"github.com/straitpay/strait/ent/posting"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/runs"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// cutoffID names the ledger's closed-through mark (LedgerCutoff).
const cutoffID = "ledger"

// shareLock is a shared row lock that MySQL 8 and MariaDB both spell so.
var shareLock = sql.WithLockClause("LOCK IN SHARE MODE")

// cutoffRead returns the read of the closed-through mark into dst (left
// as is when no day was ever closed). On MySQL it takes a shared lock on
// the mark: posting transactions share it, and a close takes it
// exclusively, so a transaction that read the mark commits before the
// close reads the day, and one that reads it after sees the new mark.
// SQLite runs one writer at a time.
func (l *Ledger) cutoffRead(dst *time.Time) store.Read {
	return func(ctx context.Context, c *ent.Client) error {
		q := c.LedgerCutoff.Query().Where(ledgercutoff.ID(cutoffID))
		if l.dialect == dialect.MySQL {
			q = q.ForShare(shareLock)
		}
		rows, err := q.All(ctx)
		if err != nil {
			return fmt.Errorf("read the closed-through mark: %w", err)
		}
		if len(rows) == 1 {
			*dst = rows[0].ClosedThrough.UTC()
		}
		return nil
	}
}

// lockForPosting locks the accounts ids on c and reads the closed-through
// mark, in one round trip on MySQL, unless locked holds them (Locks): the
// lock-ahead read took both, under the same locks, and nothing is read
// again. Every posting path calls it, so no entry commits into a closed
// day whoever posts it.
func (l *Ledger) lockForPosting(ctx context.Context, c *ent.Client, ids []string, locked *Locks) ([]*ent.LedgerAccount, time.Time, error) {
	var closed time.Time
	if rows := locked.covering(ids); rows != nil {
		return rows, locked.closedThrough, nil
	}
	var rows []*ent.LedgerAccount
	lock := func(ctx context.Context, c *ent.Client) (err error) {
		rows, err = l.lockAccounts(ctx, c, ids)
		return err
	}
	err := store.ReadTogether(ctx, c, l.dialect, lock, l.cutoffRead(&closed))
	return rows, closed, err
}

// DayClose is a closed business day: its period, when it was closed, how
// many journal entries took effect in it and how many accounts' statements
// it froze, and its trial balance.
type DayClose struct {
	ID string
	Period
	Entries  int
	Accounts int
	ClosedAt time.Time
	Balances []DayBalance
}

// CloseDay closes the business day day in timezone: it freezes the day's
// trial balance (one line per currency) and every account's statement
// (opening balance, the day's debits and credits, closing balance) into
// snapshot rows, and moves the closed-through mark to the day's end, all
// in one transaction. From then on an entry effective in the day (or
// before) takes effect at the start of the next open day, on every
// posting path (openDay); the time it asked for is kept on the entry
// (original_effective_at).
//
// The close holds the mark's exclusive lock while it reads the day, so
// posting waits for it, and every entry committed before it is in it.
// Errors: PlanPeriod's (a malformed day or timezone, a day not over, an
// open day in the middle: EINVALID; a day closed already: ECONFLICT, also
// when two closes race) and PlanTrialBalance's (ECONFLICT, field
// "trialBalance"); nothing is written then.
//
// The close is a run (payments/runs) of one day: close.run_started,
// run_progress and run_completed (FAILED with the error when refused).
func (l *Ledger) CloseDay(ctx context.Context, day, timezone string) (*DayClose, error) {
	tr := runs.Start(ctx, l.client, runs.Close, day+" "+timezone, "days", 1, l.now, nil)
	dc, err := l.closeDay(ctx, day, timezone)
	tr.Step(ctx, itemOf(err))
	tr.Finish(ctx, err)
	return dc, err
}

func itemOf(err error) runs.Outcome {
	if err != nil {
		return runs.ItemFailed
	}
	return runs.ItemDone
}

// closeDay is CloseDay without its run's events.
func (l *Ledger) closeDay(ctx context.Context, day, timezone string) (*DayClose, error) {
	sys := viewer.SystemContext(ctx)
	if err := l.ensureCutoff(sys); err != nil {
		return nil, err
	}
	tx, err := l.client.Tx(sys)
	if err != nil {
		return nil, fmt.Errorf("close %s: begin: %w", day, err)
	}
	dc, err := l.closeInTx(sys, tx, day, timezone)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("close %s: commit: %w", day, err)
	}
	return dc, nil
}

// ensureCutoff creates the closed-through mark if it is missing, so that
// a close has a row to lock; a concurrent first close creates the same.
func (l *Ledger) ensureCutoff(ctx context.Context) error {
	err := l.client.LedgerCutoff.Create().SetID(cutoffID).SetClosedThrough(time.Unix(0, 0).UTC()).
		OnConflictColumns(ledgercutoff.FieldID).DoNothing().Exec(ctx)
	if err != nil && !isNoRows(err) {
		return fmt.Errorf("create the closed-through mark: %w", err)
	}
	return nil
}

func (l *Ledger) closeInTx(ctx context.Context, tx *ent.Tx, day, timezone string) (*DayClose, error) {
	q := tx.LedgerCutoff.Query().Where(ledgercutoff.ID(cutoffID))
	if l.dialect == dialect.MySQL {
		q = q.ForUpdate()
	}
	if _, err := q.Only(ctx); err != nil {
		return nil, fmt.Errorf("close %s: lock the closed-through mark: %w", day, err)
	}
	var last *PriorClose
	latest, err := tx.DayClose.Query().Order(ent.Desc(dayclose.FieldEndsAt)).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("close %s: latest close: %w", day, err)
	default:
		last = &PriorClose{Day: latest.Day, End: latest.EndsAt.UTC()}
	}
	p, err := PlanPeriod(day, timezone, last, l.now())
	if err != nil {
		return nil, err
	}
	accounts, err := l.readDay(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	balances, err := PlanTrialBalance(accounts)
	if err != nil {
		return nil, err
	}
	entries, err := tx.JournalEntry.Query().
		Where(journalentry.EffectiveAtGTE(p.Start), journalentry.EffectiveAtLT(p.End)).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("close %s: count entries: %w", day, err)
	}
	dc := &DayClose{Period: p, Entries: entries, Accounts: len(accounts), ClosedAt: l.now(), Balances: balances}
	row, err := tx.DayClose.Create().SetDay(p.Day).SetTimezone(p.Timezone).SetStartsAt(p.Start).SetEndsAt(p.End).
		SetEntries(entries).SetAccounts(len(accounts)).SetClosedAt(dc.ClosedAt).Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, &payments.Error{Code: payments.ECONFLICT, Field: "day", Message: "day " + p.Day + " is closed already"}
	}
	if err != nil {
		return nil, fmt.Errorf("close %s: %w", day, err)
	}
	dc.ID = row.ID
	bs := make([]*ent.DayCloseBalanceCreate, len(balances))
	for i, b := range balances {
		bs[i] = tx.DayCloseBalance.Create().SetCloseID(row.ID).SetCurrency(b.Currency.Code()).SetAccounts(b.Accounts).
			SetDebits(b.Debits.Minor).SetCredits(b.Credits.Minor).SetDayDebits(b.DayDebits.Minor).SetDayCredits(b.DayCredits.Minor)
	}
	if err := tx.DayCloseBalance.CreateBulk(bs...).Exec(ctx); err != nil && len(bs) > 0 {
		return nil, fmt.Errorf("close %s: trial balance: %w", day, err)
	}
	for chunk := range slices.Chunk(accounts, insertChunk) {
		ss := make([]*ent.DayCloseStatementCreate, len(chunk))
		for i, a := range chunk {
			ss[i] = tx.DayCloseStatement.Create().SetCloseID(row.ID).SetAccountID(a.AccountID).
				SetOwnerType(string(a.Key.OwnerType)).SetOwnerID(a.Key.OwnerID).SetKind(string(a.Key.Kind)).
				SetCurrency(a.Key.Currency.Code()).SetOpening(a.Opening).SetDebits(a.Debits).SetCredits(a.Credits).
				SetClosing(a.Closing()).SetPostings(a.Postings)
			if a.MerchantID != "" {
				ss[i].SetMerchantID(a.MerchantID)
			}
		}
		if err := tx.DayCloseStatement.CreateBulk(ss...).Exec(ctx); err != nil {
			return nil, fmt.Errorf("close %s: statements: %w", day, err)
		}
	}
	if err := tx.LedgerCutoff.UpdateOneID(cutoffID).SetClosedThrough(p.End).Exec(ctx); err != nil {
		return nil, fmt.Errorf("close %s: move the closed-through mark: %w", day, err)
	}
	return dc, nil
}

// readDay sums, per account, the postings effective before the period
// (the opening balance) and in it (debits, credits, count): two grouped
// queries over postings, and the accounts they name.
func (l *Ledger) readDay(ctx context.Context, tx *ent.Tx, p Period) ([]AccountDay, error) {
	var before []struct {
		AccountID string `json:"account_id"`
		Sum       *int64 `json:"sum"`
	}
	err := tx.Posting.Query().Where(posting.EffectiveAtLT(p.Start)).GroupBy(posting.FieldAccountID).
		Aggregate(ent.As(ent.Sum(posting.FieldAmount), "sum")).Scan(ctx, &before)
	if err != nil {
		return nil, fmt.Errorf("close %s: opening balances: %w", p.Day, err)
	}
	var during []struct {
		AccountID string `json:"account_id"`
		Debits    *int64 `json:"debits"`
		Credits   *int64 `json:"credits"`
		N         int64  `json:"n"`
	}
	err = tx.Posting.Query().Where(posting.EffectiveAtGTE(p.Start), posting.EffectiveAtLT(p.End)).
		GroupBy(posting.FieldAccountID).
		Aggregate(sumWhere(posting.FieldAmount, "<", "debits"), sumWhere(posting.FieldAmount, ">", "credits"),
			ent.As(ent.Count(), "n")).Scan(ctx, &during)
	if err != nil {
		return nil, fmt.Errorf("close %s: the day's postings: %w", p.Day, err)
	}
	days := map[string]*AccountDay{}
	day := func(id string) *AccountDay {
		if days[id] == nil {
			days[id] = &AccountDay{AccountID: id}
		}
		return days[id]
	}
	for _, b := range before {
		day(b.AccountID).Opening = deref(b.Sum)
	}
	for _, d := range during {
		a := day(d.AccountID)
		a.Debits, a.Credits, a.Postings = -deref(d.Debits), deref(d.Credits), int(d.N)
	}
	ids := make([]string, 0, len(days))
	for id := range days {
		ids = append(ids, id)
	}
	out := make([]AccountDay, 0, len(days))
	for chunk := range slices.Chunk(ids, insertChunk) {
		rows, err := tx.LedgerAccount.Query().Where(ledgeraccount.IDIn(chunk...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("close %s: accounts: %w", p.Day, err)
		}
		for _, r := range rows {
			key, err := KeyOf(r)
			if err != nil {
				return nil, err
			}
			a := days[r.ID]
			a.Key, a.MerchantID = key, r.MerchantID
			out = append(out, *a)
		}
	}
	if len(out) != len(days) {
		return nil, fmt.Errorf("close %s: postings to %d accounts, %d found", p.Day, len(days), len(out))
	}
	slices.SortFunc(out, func(a, b AccountDay) int { return a.Key.Compare(b.Key) })
	return out, nil
}

// DayStatementLine is one account's frozen statement for a closed day.
type DayStatementLine struct {
	AccountID string
	AccountKey
	Opening  money.Amount
	Debits   money.Amount
	Credits  money.Amount
	Closing  money.Amount
	Postings int
}

// ClosedThrough returns the end of the latest closed day: entries cannot
// take effect before it. The zero time when no day was ever closed.
func (l *Ledger) ClosedThrough(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := l.cutoffRead(&t)(viewer.SystemContext(ctx), l.client); err != nil {
		return time.Time{}, err
	}
	if t.Equal(time.Unix(0, 0)) {
		return time.Time{}, nil
	}
	return t, nil
}

// DayCloses returns the latest closes, newest first, at most limit (1 to
// 366). Operators only (tenant rules return none to others).
func (l *Ledger) DayCloses(ctx context.Context, limit int) ([]*DayClose, error) {
	if limit < 1 || limit > 366 {
		return nil, payments.FieldErrorf("first", "first must be 1 to 366")
	}
	rows, err := l.client.DayClose.Query().Order(ent.Desc(dayclose.FieldEndsAt)).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("day closes: %w", err)
	}
	out := make([]*DayClose, len(rows))
	for i, r := range rows {
		if out[i], err = l.dayClose(ctx, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FindDayClose returns the close of day (YYYY-MM-DD) with its trial
// balance. ENOTFOUND if the day is not closed, or for a caller who is not
// an operator.
func (l *Ledger) FindDayClose(ctx context.Context, day string) (*DayClose, error) {
	r, err := l.client.DayClose.Query().Where(dayclose.Day(day)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "day %s is not closed", day)
	}
	if err != nil {
		return nil, fmt.Errorf("day close %s: %w", day, err)
	}
	return l.dayClose(ctx, r)
}

func (l *Ledger) dayClose(ctx context.Context, r *ent.DayClose) (*DayClose, error) {
	rows, err := l.client.DayCloseBalance.Query().Where(dayclosebalance.CloseID(r.ID)).
		Order(ent.Asc(dayclosebalance.FieldCurrency)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("day close %s: trial balance: %w", r.Day, err)
	}
	dc := &DayClose{ID: r.ID, Period: Period{Day: r.Day, Timezone: r.Timezone, Start: r.StartsAt.UTC(), End: r.EndsAt.UTC()},
		Entries: r.Entries, Accounts: r.Accounts, ClosedAt: r.ClosedAt.UTC()}
	for _, b := range rows {
		c, err := money.ParseCurrency(b.Currency)
		if err != nil {
			return nil, err
		}
		dc.Balances = append(dc.Balances, DayBalance{Currency: c, Accounts: b.Accounts,
			Debits: money.Amount{Minor: b.Debits, Currency: c}, Credits: money.Amount{Minor: b.Credits, Currency: c},
			DayDebits: money.Amount{Minor: b.DayDebits, Currency: c}, DayCredits: money.Amount{Minor: b.DayCredits, Currency: c}})
	}
	return dc, nil
}

// DayStatement returns the frozen statement lines of the closed day day
// that the caller may see, in account order: an operator sees every
// account's, a merchant only its own accounts' (tenant rules). ENOTFOUND
// if the day is not closed.
func (l *Ledger) DayStatement(ctx context.Context, day string) ([]DayStatementLine, error) {
	// Whether the day is closed is no secret; which accounts moved is.
	r, err := l.client.DayClose.Query().Where(dayclose.Day(day)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "day %s is not closed", day)
	}
	if err != nil {
		return nil, fmt.Errorf("day statement %s: %w", day, err)
	}
	rows, err := l.client.DayCloseStatement.Query().Where(dayclosestatement.CloseID(r.ID)).
		Order(ent.Asc(dayclosestatement.FieldOwnerType), ent.Asc(dayclosestatement.FieldOwnerID),
			ent.Asc(dayclosestatement.FieldKind), ent.Asc(dayclosestatement.FieldCurrency)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("day statement %s: %w", day, err)
	}
	out := make([]DayStatementLine, len(rows))
	for i, s := range rows {
		c, err := money.ParseCurrency(s.Currency)
		if err != nil {
			return nil, err
		}
		amt := func(v int64) money.Amount { return money.Amount{Minor: v, Currency: c} }
		out[i] = DayStatementLine{AccountID: s.AccountID,
			AccountKey: AccountKey{OwnerType: OwnerType(s.OwnerType), OwnerID: s.OwnerID, Kind: Kind(s.Kind), Currency: c},
			Opening:    amt(s.Opening), Debits: amt(s.Debits), Credits: amt(s.Credits), Closing: amt(s.Closing), Postings: s.Postings}
	}
	return out, nil
}

// maxCatchUp bounds the days one CloseDue closes, so a scheduler that was
// off for long catches up over several passes.
const maxCatchUp = 31

// CloseDue closes, in timezone, every day that is over and not closed yet,
// oldest first: the days after the latest close, or only yesterday when no
// day was ever closed. It returns the closes it made; a close another
// replica made first ends the pass without an error. Scheduled inside
// `strait serve` (STRAIT_CLOSE_TIMEZONE). A pass that finds days to close
// is one run (payments/runs, scope "due <timezone>"), one item per day; a
// day another replica closed first, and the days after it, are skipped.
func (l *Ledger) CloseDue(ctx context.Context, timezone string) ([]*DayClose, error) {
	days, err := l.dueDays(ctx, timezone)
	if err != nil || len(days) == 0 {
		return nil, err
	}
	tr := runs.Start(ctx, l.client, runs.Close, "due "+timezone, "days", len(days), l.now, nil)
	var out []*DayClose
	for i, day := range days {
		dc, err := l.closeDay(ctx, day, timezone)
		if payments.ErrorCode(err) == payments.ECONFLICT && fieldOf(err) == "day" {
			tr.StepN(ctx, runs.ItemSkipped, len(days)-i) // another replica closed it
			tr.Finish(ctx, nil)
			return out, nil
		}
		if err != nil {
			tr.Step(ctx, runs.ItemFailed)
			tr.Finish(ctx, err)
			return out, err
		}
		tr.Step(ctx, runs.ItemDone)
		out = append(out, dc)
	}
	tr.Finish(ctx, nil)
	return out, nil
}

// dueDays are the days CloseDue closes, oldest first, at most maxCatchUp.
func (l *Ledger) dueDays(ctx context.Context, timezone string) ([]string, error) {
	loc, err := time.LoadLocation(timezone)
	if err != nil {
		return nil, payments.FieldErrorf("timezone", "unknown timezone %q", timezone)
	}
	latest, err := l.client.DayClose.Query().Order(ent.Desc(dayclose.FieldEndsAt)).First(viewer.SystemContext(ctx))
	var next time.Time
	switch {
	case ent.IsNotFound(err):
		n := l.now().In(loc)
		next = time.Date(n.Year(), n.Month(), n.Day()-1, 0, 0, 0, 0, time.UTC)
	case err != nil:
		return nil, fmt.Errorf("close due: latest close: %w", err)
	default:
		d, err := time.Parse(time.DateOnly, latest.Day)
		if err != nil {
			return nil, fmt.Errorf("close due: latest close: %w", err)
		}
		next = d.AddDate(0, 0, 1)
	}
	var out []string
	for range maxCatchUp {
		if end := time.Date(next.Year(), next.Month(), next.Day()+1, 0, 0, 0, 0, loc); end.After(l.now()) {
			break
		}
		out = append(out, next.Format(time.DateOnly))
		next = next.AddDate(0, 0, 1)
	}
	return out, nil
}

func fieldOf(err error) string {
	var e *payments.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
