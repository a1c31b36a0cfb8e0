package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/ent/reportcursor"
	"github.com/straitpay/strait/ent/reportmark"
	"github.com/straitpay/strait/ent/reportrollup"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// RollupConfig tunes a Rollup; zero values get the defaults.
type RollupConfig struct {
	Client *ent.Client
	Log    *slog.Logger
	// Name is the consumer's cursor (default "report_rollup").
	Name string
	// Poll is how often an idle consumer looks for events (default 1 s);
	// Wake (called for every event the bus carries) makes it look at once.
	Poll time.Duration
	// Batch bounds the events applied per transaction (default 1000).
	Batch int
	// StepTimeout bounds one step's database work (default 10 s).
	StepTimeout time.Duration
}

// Rollup keeps the report rollups current: it reads the outbox in the
// relay's order (seq) after its cursor and applies each batch of events in
// one transaction that moves the cursor (only if nobody moved it since it
// was read), writes the events' marks and adds to the rollups. Every
// replica may run one: a second replica's transaction finds the cursor
// moved and rolls back, and the marks (unique IDs) would refuse an event
// counted already even if it did not. After a restart it resumes from the
// cursor.
//
// Freshness: an event is applied once the relay has numbered it (at most
// its 50 ms poll after the commit) and the consumer has looked (at once
// when the bus wakes it, else within Poll): reports trail the payments by
// well under a second when the consumer keeps up, and by Poll when the bus
// is elsewhere.
type Rollup struct {
	cfg  RollupConfig
	wake schedule.Waker
}

// NewRollup returns a consumer; Run starts it.
func NewRollup(cfg RollupConfig) *Rollup {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = "report_rollup"
	}
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 1000
	}
	if cfg.StepTimeout == 0 {
		cfg.StepTimeout = 10 * time.Second
	}
	return &Rollup{cfg: cfg, wake: schedule.NewWaker()}
}

// Wake asks the consumer to look for events now; it never blocks.
func (r *Rollup) Wake() { r.wake.Wake() }

// Run applies events until ctx ends.
func (r *Rollup) Run(ctx context.Context) {
	schedule.Drain(ctx, schedule.Polls{Job: "report rollup", Poll: r.cfg.Poll, Wake: r.wake, Log: r.cfg.Log},
		func(ctx context.Context) (bool, error) {
			n, err := r.Step(ctx)
			return n == r.cfg.Batch, err // a full batch: more are waiting
		})
}

// errMoved is a step that lost the cursor to another replica's.
var errMoved = errors.New("the report cursor moved")

// Step applies the next batch of numbered events and returns how many it
// read (counted or not).
func (r *Rollup) Step(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.StepTimeout)
	defer cancel()
	sys := viewer.SystemContext(ctx)
	cur, err := r.cursor(sys)
	if err != nil {
		return 0, err
	}
	rows, err := r.cfg.Client.Event.Query().Where(event.SeqGT(cur)).Order(ent.Asc(event.FieldSeq)).
		Limit(r.cfg.Batch).All(sys)
	if err != nil {
		return 0, fmt.Errorf("report rollup: events: %w", err)
	}
	// Only the run of seqs that follows the cursor without a gap: numbers
	// are given in order under one lock, so a gap is a numbering not yet
	// committed.
	evs := make([]Event, 0, len(rows))
	last := cur
	for _, e := range rows {
		if e.Seq == nil || *e.Seq != last+1 {
			break
		}
		last = *e.Seq
		if Counted(e.Type) {
			evs = append(evs, Event{ID: e.ID, Type: e.Type, MerchantID: e.MerchantID, ObjectID: e.ObjectID, Data: e.Data, At: e.CreatedAt})
		}
	}
	if last == cur {
		return 0, nil
	}
	looked, err := r.load(sys, evs)
	if err != nil {
		return 0, err
	}
	_, err = store.WithTx(sys, r.cfg.Client, func(tx *ent.Tx) (struct{}, error) {
		n, err := tx.ReportCursor.Update().Where(reportcursor.ID(r.cfg.Name), reportcursor.Seq(cur)).
			SetSeq(last).Save(sys)
		if err != nil {
			return struct{}{}, fmt.Errorf("report cursor: %w", err)
		}
		if n != 1 {
			return struct{}{}, errMoved
		}
		return struct{}{}, Apply(sys, tx, evs, looked)
	})
	if errors.Is(err, errMoved) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return int(last - cur), nil
}

// cursor reads the consumer's cursor, creating it at 0 (the first event)
// for a new database.
func (r *Rollup) cursor(ctx context.Context) (int64, error) {
	c, err := r.cfg.Client.ReportCursor.Get(ctx, r.cfg.Name)
	if ent.IsNotFound(err) {
		err = r.cfg.Client.ReportCursor.Create().SetID(r.cfg.Name).SetSeq(0).Exec(ctx)
		if err != nil && !ent.IsConstraintError(err) {
			return 0, fmt.Errorf("report cursor: %w", err)
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("report cursor: %w", err)
	}
	return c.Seq, nil
}

// load reads the refunds and payments evs name, in two queries.
func (r *Rollup) load(ctx context.Context, evs []Event) (Rows, error) {
	rows := Rows{Payments: map[string]Payment{}, Refunds: map[string]Refund{}}
	var refundIDs []string
	for _, e := range evs {
		if e.Type == "refund.succeeded" {
			refundIDs = append(refundIDs, e.ObjectID)
		}
	}
	if len(refundIDs) > 0 {
		rs, err := r.cfg.Client.Refund.Query().Where(refund.IDIn(refundIDs...)).All(ctx)
		if err != nil {
			return rows, fmt.Errorf("report rollup: refunds: %w", err)
		}
		for _, x := range rs {
			rows.Refunds[x.ID] = Refund{ID: x.ID, PaymentID: x.PaymentID, Currency: x.Currency, Amount: x.Amount, FeeReversed: x.FeeReversed}
		}
	}
	seen := map[string]bool{}
	var paymentIDs []string
	for _, e := range evs {
		if id := paymentOf(e, rows); id != "" && !seen[id] {
			seen[id] = true
			paymentIDs = append(paymentIDs, id)
		}
	}
	if len(paymentIDs) > 0 {
		ps, err := r.cfg.Client.Payment.Query().Where(payment.IDIn(paymentIDs...)).
			Select(payment.FieldCurrency, payment.FieldConnector, payment.FieldPaymentMethodType,
				payment.FieldAmountCaptured, payment.FieldFeeAmount).All(ctx)
		if err != nil {
			return rows, fmt.Errorf("report rollup: payments: %w", err)
		}
		for _, p := range ps {
			rows.Payments[p.ID] = Payment{ID: p.ID, Currency: p.Currency, Connector: p.Connector, Method: p.PaymentMethodType,
				AmountCaptured: p.AmountCaptured, FeeAmount: p.FeeAmount}
		}
	}
	return rows, nil
}

// markChunk bounds the IDs of one IN list or bulk insert.
const markChunk = 500

// Apply folds evs into the rollups in tx: it reads which of their marks
// exist, writes the new ones, and adds the deltas (one upsert per rollup
// row). The consumer calls it with its cursor moved in the same tx; a
// bulk load (a backfill, the benchmark) may call it the same way.
func Apply(ctx context.Context, tx *ent.Tx, evs []Event, rows Rows) error {
	if len(evs) == 0 {
		return nil
	}
	want := MarksOf(evs, rows)
	done := make(map[string]bool, len(want))
	for i := 0; i < len(want); i += markChunk {
		ids, err := tx.ReportMark.Query().Where(reportmark.IDIn(want[i:min(i+markChunk, len(want))]...)).IDs(ctx)
		if err != nil {
			return fmt.Errorf("report marks: %w", err)
		}
		for _, id := range ids {
			done[id] = true
		}
	}
	deltas, marks := Fold(evs, rows, done)
	for i := 0; i < len(marks); i += markChunk {
		part := marks[i:min(i+markChunk, len(marks))]
		b := make([]*ent.ReportMarkCreate, len(part))
		for j, m := range part {
			b[j] = tx.ReportMark.Create().SetID(m)
		}
		if err := tx.ReportMark.CreateBulk(b...).Exec(ctx); err != nil {
			return fmt.Errorf("report marks: %w", err)
		}
	}
	return AddRollups(ctx, tx.Client(), deltas)
}

// rollupChunk bounds the rows of one upsert statement.
const rollupChunk = 200

// hourLayout writes an hour in a rollup's ID: fixed width, so IDs sort by
// hour within a merchant.
const hourLayout = "2006010215"

// RollupID is the ID of k's rollup row, or with total of its hour's and
// currency's total row: its natural key, merchant/D/hour/currency/
// connector/method or merchant/T/hour/currency.
func RollupID(k Key, total bool) string {
	if total {
		return k.MerchantID + "/T/" + k.Hour.UTC().Format(hourLayout) + "/" + k.Currency
	}
	return k.MerchantID + "/D/" + k.Hour.UTC().Format(hourLayout) + "/" + k.Currency + "/" + k.Connector + "/" + k.Method
}

// rollupRange is the ID range [lo, hi) of merchantID's rows of one kind
// (total or detailed) whose hours are in [start, end).
func rollupRange(merchantID string, total bool, start, end time.Time) (lo, hi string) {
	kind := "/D/"
	if total {
		kind = "/T/"
	}
	return merchantID + kind + start.UTC().Format(hourLayout), merchantID + kind + end.UTC().Format(hourLayout)
}

// AddRollups adds deltas to their rollup rows and to their hours' total
// rows, creating the missing ones: INSERT … ON DUPLICATE KEY UPDATE col =
// col + VALUES(col) on MySQL, ON CONFLICT (id) DO UPDATE SET col = col +
// excluded.col on SQLite.
func AddRollups(ctx context.Context, client *ent.Client, deltas map[Key]Counts) error {
	totals := map[Key]Counts{}
	b := make([]*ent.ReportRollupCreate, 0, len(deltas))
	row := func(k Key, c Counts, total bool) *ent.ReportRollupCreate {
		return client.ReportRollup.Create().SetID(RollupID(k, total)).SetTotal(total).SetMerchantID(k.MerchantID).
			SetHour(k.Hour).SetCurrency(k.Currency).SetConnector(k.Connector).SetMethod(k.Method).
			SetPayments(c.Payments).SetSucceeded(c.Succeeded).SetFailed(c.Failed).
			SetAuthorized(c.Authorized).SetDeclined(c.Declined).SetRefunds(c.Refunds).SetDisputes(c.Disputes).
			SetGross(c.Gross).SetFees(c.Fees).SetRefunded(c.Refunded).SetDisputed(c.Disputed)
	}
	for k, c := range deltas {
		b = append(b, row(k, c, false))
		t := Key{MerchantID: k.MerchantID, Hour: k.Hour, Currency: k.Currency}
		totals[t] = totals[t].Add(c)
	}
	for k, c := range totals {
		b = append(b, row(k, c, true))
	}
	for i := 0; i < len(b); i += rollupChunk {
		err := client.ReportRollup.CreateBulk(b[i:min(i+rollupChunk, len(b))]...).
			OnConflict(entsql.ConflictColumns(reportrollup.FieldID), entsql.ResolveWith(addExcluded)).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("report rollups: %w", err)
		}
	}
	return nil
}

// summed are the rollup columns an upsert adds to.
var summed = []string{
	reportrollup.FieldPayments, reportrollup.FieldSucceeded, reportrollup.FieldFailed, reportrollup.FieldAuthorized,
	reportrollup.FieldDeclined, reportrollup.FieldRefunds, reportrollup.FieldDisputes, reportrollup.FieldGross,
	reportrollup.FieldFees, reportrollup.FieldRefunded, reportrollup.FieldDisputed,
}

// addExcluded sets every summed column to itself plus the inserted value.
func addExcluded(u *entsql.UpdateSet) {
	mysql := u.Dialect() == "mysql"
	for _, col := range summed {
		u.Set(col, entsql.ExprFunc(func(b *entsql.Builder) {
			b.Ident(col).WriteString(" + ")
			if mysql {
				b.WriteString("VALUES(").Ident(col).WriteByte(')')
			} else {
				b.WriteString("excluded.").Ident(col)
			}
		}))
	}
}
