package disputes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/ent/disputeevent"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Connectors finds a connector by name.
type Connectors interface {
	Get(name string) (connectors.Connector, bool)
}

// Config configures a Service.
type Config struct {
	Client     *ent.Client
	Dialect    string // rows are locked FOR UPDATE on MySQL only
	Ledger     *ledger.Ledger
	Connectors Connectors
	// Files keeps evidence documents; nil refuses uploads.
	Files FileStore
	Log   *slog.Logger
	Now   func() time.Time
	// CallTimeout bounds a connector call (default 20 s).
	CallTimeout time.Duration
}

// Service runs disputes.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 20 * time.Second
	}
	return &Service{cfg: cfg, log: cfg.Log}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// HandleEvent applies a channel's dispute notification (connectors.EventDispute):
// it creates or moves the dispute, holds or settles the funds and writes the
// outbox event, in one transaction. Delivery is at least once and in any
// order: an event already applied changes nothing, and a late one never
// moves the dispute backwards.
//
// Returns ENOTFOUND when the event names no payment Strait knows: the inbox
// keeps the event, visible to operators with its error, and retries it (the
// payment's record may not be written yet). EINVALID for an event that is
// not a dispute's.
func (s *Service) HandleEvent(ctx context.Context, ev connectors.Event) error {
	if ev.Type != connectors.EventDispute {
		return nil
	}
	if ev.Dispute == nil || ev.Dispute.ID == "" {
		return payments.Errorf(payments.EINVALID, "event %s: a dispute event without its dispute", ev.ID)
	}
	sys := viewer.SystemContext(ctx)
	att, err := s.attemptFor(sys, ev)
	if err != nil {
		return err
	}
	if err := s.prepare(sys, att.MerchantID, att.Connector, att.Currency); err != nil {
		return err
	}
	eventID := ev.Connector + ":" + ev.ID
	return s.tx(sys, func(tx *ent.Tx) error {
		rows, err := s.read(sys, tx, att.PaymentID, att.Connector, ev.Dispute.ID, eventID)
		if err != nil {
			return err
		}
		w, err := decideEvent(rows, ev, s.now())
		if err != nil {
			return err
		}
		return s.apply(sys, tx, w)
	})
}

// attemptFor finds the attempt a dispute is about: by Strait's reference
// (the attempt id the reference connectors echo), else by the channel's
// payment id, among the event's connector's attempts.
func (s *Service) attemptFor(ctx context.Context, ev connectors.Event) (*ent.PaymentAttempt, error) {
	q := s.cfg.Client.PaymentAttempt.Query().Where(paymentattempt.Connector(ev.Connector))
	ref, pid := ev.Dispute.Reference, ev.Dispute.PaymentID
	if ref == "" {
		ref = ev.Reference
	}
	if pid == "" {
		pid = ev.PaymentID
	}
	switch {
	case strings.HasPrefix(ref, "att_"):
		q.Where(paymentattempt.ID(ref))
	case pid != "":
		q.Where(paymentattempt.ConnectorReference(pid))
	default:
		return nil, payments.Errorf(payments.EINVALID, "dispute event %s names no payment", ev.ID)
	}
	a, err := q.First(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "dispute event %s: no payment %q / %q at %s", ev.ID, ref, pid, ev.Connector)
	}
	if err != nil {
		return nil, fmt.Errorf("dispute event %s: %w", ev.ID, err)
	}
	return a, nil
}

// prepare makes sure the accounts a dispute may post to exist, outside any
// transaction (ledger.Prepare).
func (s *Service) prepare(ctx context.Context, merchantID, connector, currency string) error {
	c, err := money.ParseCurrency(currency)
	if err != nil {
		return fmt.Errorf("stored currency %q: %w", currency, err)
	}
	one := money.Amount{Minor: 1, Currency: c}
	var ps []ledger.Posting
	for _, k := range []ledger.Kind{ledger.KindAvailable, ledger.KindPending, ledger.KindReserve, ledger.KindDisputeHold} {
		ps = append(ps, ledger.Posting{Account: ledger.MerchantAccount(merchantID, k, c), Amount: one})
	}
	ps = append(ps, ledger.Posting{Account: ledger.ChannelAccount(connector, c), Amount: one},
		ledger.Posting{Account: ledger.PlatformAccount(ledger.KindSuspense, c), Amount: one})
	return s.cfg.Ledger.Prepare(ctx, ledger.Entry{Postings: ps})
}

// read locks the payment (so a refund and a dispute of one payment take
// turns) and reads the dispute, whether the event is on its timeline, and
// the merchant's balances in the payment's currency.
func (s *Service) read(ctx context.Context, tx *ent.Tx, paymentID, connector, networkID, eventID string) (Rows, error) {
	pq := tx.Payment.Query().Where(payment.ID(paymentID))
	dq := tx.Dispute.Query().Where(dispute.Connector(connector), dispute.NetworkDisputeID(networkID))
	if s.cfg.Dialect == dialect.MySQL {
		pq, dq = pq.ForUpdate(), dq.ForUpdate()
	}
	p, err := pq.Only(ctx)
	if err != nil {
		return Rows{}, fmt.Errorf("dispute of %s: %w", paymentID, err)
	}
	rows := Rows{Payment: p, Connector: connector}
	d, err := dq.Only(ctx)
	switch {
	case err == nil:
		rows.Dispute = d
		seen, err := tx.DisputeEvent.Query().Where(disputeevent.DisputeID(d.ID), disputeevent.ChannelEventID(eventID)).Exist(ctx)
		if err != nil {
			return Rows{}, fmt.Errorf("dispute %s timeline: %w", d.ID, err)
		}
		rows.Seen = seen
	case !ent.IsNotFound(err):
		return Rows{}, fmt.Errorf("dispute %s: %w", networkID, err)
	}
	accs, err := tx.LedgerAccount.Query().Where(ledgeraccount.OwnerTypeEQ(ledgeraccount.OwnerTypeMERCHANT),
		ledgeraccount.OwnerID(p.MerchantID), ledgeraccount.Currency(p.Currency)).All(ctx)
	if err != nil {
		return Rows{}, fmt.Errorf("balances of %s: %w", p.MerchantID, err)
	}
	rows.Balances = map[ledger.Kind]int64{}
	for _, a := range accs {
		rows.Balances[ledger.Kind(strings.ToLower(string(a.Kind)))] = a.Balance
	}
	return rows, nil
}

// apply writes what a step decided, inside tx.
func (s *Service) apply(ctx context.Context, tx *ent.Tx, w Writes) error {
	d := w.Dispute
	if d.ID == "" {
		return nil
	}
	var err error
	if w.Create {
		_, err = tx.Dispute.Create().SetID(d.ID).SetMerchantID(d.MerchantID).SetPaymentID(d.PaymentID).
			SetConnector(d.Connector).SetNetworkDisputeID(d.NetworkID).SetState(d.State).SetStage(d.Stage).
			SetReason(d.Reason).SetReasonCode(d.ReasonCode).SetAmount(d.Amount).SetCurrency(d.Currency).SetFee(d.Fee).
			SetNillableDueBy(d.DueBy).SetNillableEvidenceSubmittedAt(d.EvidenceSubmittedAt).SetOperatorFlag(d.OperatorFlag).
			Save(ctx)
	} else {
		u := tx.Dispute.UpdateOneID(d.ID).SetState(d.State).SetStage(d.Stage).SetFee(d.Fee).
			SetNillableDueBy(d.DueBy).SetOperatorFlag(d.OperatorFlag)
		if d.EvidenceSubmittedAt == nil {
			u.ClearEvidenceSubmittedAt()
		} else {
			u.SetEvidenceSubmittedAt(*d.EvidenceSubmittedAt)
		}
		_, err = u.Save(ctx)
	}
	if err != nil {
		return fmt.Errorf("dispute %s: %w", d.ID, err)
	}
	for _, l := range w.Timeline {
		c := tx.DisputeEvent.Create().SetMerchantID(d.MerchantID).SetDisputeID(d.ID).SetKind(l.Kind).
			SetFromState(l.From).SetToState(l.To).SetNote(clip(l.Note, 512))
		if l.ChannelEventID != "" {
			c.SetChannelEventID(l.ChannelEventID)
		}
		if err := c.Exec(ctx); err != nil {
			return fmt.Errorf("dispute %s timeline: %w", d.ID, err)
		}
	}
	for _, e := range w.Entries {
		if _, err := s.cfg.Ledger.PostTx(ctx, tx, e); err != nil {
			return fmt.Errorf("dispute %s: post %s: %w", d.ID, e.Source, err)
		}
	}
	for _, e := range w.Events {
		if err := tx.Event.Create().SetMerchantID(d.MerchantID).SetType(e.Type).SetObjectID(d.ID).
			SetData(e.Data).SetCreatedAt(s.now()).Exec(ctx); err != nil {
			return fmt.Errorf("outbox %s: %w", e.Type, err)
		}
	}
	return nil
}

func (s *Service) tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := s.cfg.Client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// RefundRefusal returns an ECONFLICT error saying why a refund of the
// payment must be refused when it has a dispute that is open or was decided
// against the merchant (the cardholder has or will have the money back), and
// nil otherwise. Call it inside the refund's transaction, after locking the
// payment: HandleEvent locks it too, so the two take turns.
func RefundRefusal(ctx context.Context, tx *ent.Tx, paymentID string) error {
	d, err := Refusing(ctx, tx.Client(), paymentID)
	if err != nil {
		return err
	}
	return RefusalOf(paymentID, d)
}

// Refusing reads, on c (a transaction that holds the payment locked), the
// payment's dispute that refuses a refund: one open or decided against the
// merchant; nil when there is none. RefusalOf decides from it, so that a
// refund's plan takes the disputes' state as one of the rows it read.
func Refusing(ctx context.Context, c *ent.Client, paymentID string) (*ent.Dispute, error) {
	d, err := c.Dispute.Query().Where(dispute.PaymentID(paymentID),
		dispute.StateNotIn(WarningClosed, Won)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("disputes of %s: %w", paymentID, err)
	}
	return d, nil
}

// RefusalOf is the ECONFLICT refusing a refund of the payment for dispute d
// (Refusing's), or nil when d is nil.
func RefusalOf(paymentID string, d *ent.Dispute) error {
	if d == nil {
		return nil
	}
	return payments.Errorf(payments.ECONFLICT, "payment %s is disputed (%s, %s): the cardholder gets the money through the dispute, a refund would pay twice",
		paymentID, d.ID, strings.ToLower(string(d.State)))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
