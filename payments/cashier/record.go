package cashier

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// paymentEventTypes names the outbox event of each state a payment enters.
// Back in requires_payment_method means the attempt failed and the buyer may
// try again; failed means the payment is over.
var paymentEventTypes = map[paymentstatus.Status]string{
	paymentstatus.RequiresAction:        "payment.requires_action",
	paymentstatus.Processing:            "payment.processing",
	paymentstatus.RequiresCapture:       "payment.requires_capture",
	paymentstatus.Succeeded:             "payment.succeeded",
	paymentstatus.RequiresPaymentMethod: "payment.failed",
	paymentstatus.Failed:                "payment.failed",
	paymentstatus.Canceled:              "payment.canceled",
}

// record is step 7: in one transaction, the attempt takes the result, the
// payment takes the matching event, a capture posts to the ledger, and the
// outbox gets the event. Every source of results (the connector's answer,
// the janitor's QueryPayment, a channel event) comes through here, so an
// attempt's story is told by one state machine.
//
// With route set (the live pipeline), a soft decline or retryable error
// cascades: the failed attempt is recorded, the payment stays processing,
// and the next attempt is written in the same transaction and returned.
//
// A result that arrives late, for an attempt that has moved on (a duplicate
// event, the janitor racing a webhook), changes nothing. A result that
// contradicts a final state is logged as a disagreement and changes nothing.
func (s *Service) record(ctx context.Context, attemptID string, res result, route *routing.Decision) (*ent.Payment, *cascade, error) {
	att, err := s.cfg.Client.PaymentAttempt.Get(ctx, attemptID)
	if err != nil {
		return nil, nil, fmt.Errorf("record %s: %w", attemptID, err)
	}
	return s.recordAttempt(ctx, att, res, route)
}

// recordReq is one result to record for an attempt the caller holds: its
// payment, merchant, connector and amount never change; its state is read
// again under the payment's lock.
type recordReq struct {
	ctx     context.Context // the caller's, for its logs
	attempt *ent.PaymentAttempt
	res     result
	route   *routing.Decision
	capture *captureMove
}

// recorded is what recording a result left: the payment as the transaction
// left it, and the next attempt when the payment cascades.
type recorded struct {
	payment *ent.Payment
	next    *cascade
}

// recordAttempt is record for an attempt the caller holds (the pipeline
// wrote it). Every result, the live pipeline's, the janitor's and channel
// events', is recorded through the recorder (applyRecords), which
// group-commits concurrent payments' records.
func (s *Service) recordAttempt(ctx context.Context, att *ent.PaymentAttempt, res result, route *routing.Decision) (*ent.Payment, *cascade, error) {
	req := &recordReq{ctx: ctx, attempt: att, res: res, route: route}
	if res.outcome == attemptstatus.OutcomeCaptured {
		amount := att.Amount
		if res.captured > 0 {
			amount = res.captured
		}
		var err error
		if req.capture, err = s.prepareCapture(ctx, att.MerchantID, att.Connector, amount, att.Currency); err != nil {
			return nil, nil, fmt.Errorf("record %s: %w", att.ID, err)
		}
	}
	// The recorder answers even if ctx ends once the batch has begun: the
	// connector's answer is always recorded or reported.
	out, err := s.recorder.Do(context.WithoutCancel(ctx), req)
	if err != nil {
		return nil, nil, err
	}
	return out.payment, out.next, nil
}

// maxRecordBatch bounds the payments one record transaction holds locked.
const maxRecordBatch = 64

// applyRecords is the record step's transaction (the recorder's Apply), for
// requests about distinct payments: their payments locked in one statement,
// their attempts and the ledger accounts their captures post to read in the
// same round trip; then each request planned (plan) into one recordWrites,
// written together (one UPDATE … CASE per table, one multi-row INSERT of
// outbox events, one ledger post of every capture). Requests the state
// machines refuse are answered with their error and write nothing. Its
// error means nothing was written for any of them.
func (s *Service) applyRecords(ctx context.Context, tx *ent.Tx, reqs []*recordReq, deferWrites bool) ([]batch.Result[recorded], error) {
	sys := viewer.SystemContext(ctx)
	out := make([]batch.Result[recorded], len(reqs))
	pids := make([]string, len(reqs))
	aids := make([]string, len(reqs))
	for i, r := range reqs {
		pids[i], aids[i] = r.attempt.PaymentID, r.attempt.ID
	}
	// The payments locked, what changes of their attempts, and the ledger
	// accounts their captures post to locked, in one round trip. Only what
	// changes of an attempt is read again; the rest (its payment,
	// connector, amount, key, decisions) never changes and is the caller's
	// copy.
	var ps map[string]*ent.Payment
	var atts []*ent.PaymentAttempt
	reads := []store.Read{
		func(ctx context.Context, c *ent.Client) (err error) {
			ps, err = s.lockPayments(ctx, c, pids)
			return err
		},
		func(ctx context.Context, c *ent.Client) (err error) {
			atts, err = c.PaymentAttempt.Query().Where(paymentattempt.IDIn(aids...)).
				Select(paymentattempt.FieldID, paymentattempt.FieldStatus, paymentattempt.FieldLastEventID,
					paymentattempt.FieldConnectorReference, paymentattempt.FieldCheckCount, paymentattempt.FieldNextCheckAt,
					paymentattempt.FieldResolvedAt, paymentattempt.FieldDeclineCode, paymentattempt.FieldDeclineType,
					paymentattempt.FieldErrorMessage, paymentattempt.FieldUpdatedAt, paymentattempt.FieldOperation).
				All(ctx)
			if err != nil {
				return fmt.Errorf("attempts: %w", err)
			}
			return nil
		},
	}
	var captures []ledger.Entry
	for _, r := range reqs {
		if r.capture != nil {
			captures = append(captures, r.capture.entry)
		}
	}
	var locks *ledger.Locks
	if len(captures) > 0 {
		read, l, err := s.cfg.Ledger.LockAhead(captures...)
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		reads, locks = append(reads, read), l
	}
	if err := store.ReadTogether(sys, tx.Client(), s.cfg.Dialect, reads...); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	fresh := make(map[string]*ent.PaymentAttempt, len(atts))
	for _, a := range atts {
		fresh[a.ID] = a
	}
	w := newRecordWrites(s.now())
	w.locks = locks
	for i, r := range reqs {
		p := ps[r.attempt.PaymentID]
		if p == nil {
			out[i].Err = payments.Errorf(payments.ENOTFOUND, "payment %q not found", r.attempt.PaymentID)
			continue
		}
		f := fresh[r.attempt.ID]
		if f == nil {
			out[i].Err = payments.Errorf(payments.ENOTFOUND, "attempt %q not found", r.attempt.ID)
			continue
		}
		a := current(r.attempt, f)
		rec, err := s.plan(r, p, a, w)
		if err != nil {
			out[i].Err = fmt.Errorf("record %s: %w", a.ID, err)
			continue
		}
		// Detached from the transaction: the caller reads it after the
		// commit.
		rec.payment = rec.payment.Unwrap()
		out[i].Value = rec
	}
	if err := s.write(sys, tx, w, deferWrites); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return out, nil
}

// lockPayments reads payments on a transaction's client c, locked as lockPayment locks one:
// in one statement, which InnoDB walks in primary-key order, so concurrent
// transactions lock payments in the same order.
func (s *Service) lockPayments(ctx context.Context, c *ent.Client, ids []string) (map[string]*ent.Payment, error) {
	q := c.Payment.Query().Where(payment.IDIn(ids...)).Order(payment.ByID())
	if s.cfg.Dialect == dialect.MySQL {
		q = q.ForUpdate()
	}
	ps, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock payments: %w", err)
	}
	out := make(map[string]*ent.Payment, len(ps))
	for _, p := range ps {
		out[p.ID] = p
	}
	return out, nil
}

// plan works out what recording r's result writes, given its payment p and
// attempt a as read under the payment's lock, and adds it to w. It changes p
// in memory as the writes will change the row. An error refuses r alone:
// nothing of it is added to w.
func (s *Service) plan(r *recordReq, p *ent.Payment, a *ent.PaymentAttempt, w *recordWrites) (recorded, error) {
	ctx, res := r.ctx, r.res
	if res.eventID != "" && a.LastEventID == res.eventID {
		return recorded{payment: p}, nil // a redelivered channel event
	}
	from := a.Status
	upd := row{}
	if res.channelID != "" && a.ConnectorReference == "" {
		upd[paymentattempt.FieldConnectorReference] = res.channelID
	}
	if res.eventID != "" {
		upd[paymentattempt.FieldLastEventID] = res.eventID
	}
	if res.outcome == "" {
		if from == attemptstatus.Authorized && a.Operation == nil {
			return recorded{payment: p}, nil // its operation was answered meanwhile
		}
		// Still in flight at the channel: look again later.
		n := a.CheckCount
		if res.check {
			n++
		}
		upd[paymentattempt.FieldCheckCount] = n
		upd[paymentattempt.FieldNextCheckAt] = s.nextCheck(n)
		w.attempt(a.ID, upd)
		return recorded{payment: p}, nil
	}
	to, err := nextAttempt(from, res.outcome)
	if err != nil {
		if stale(from, res.outcome) {
			s.log.InfoContext(ctx, "stale result ignored", "attempt", a.ID, "state", from, "outcome", res.outcome)
			if res.check && a.NextCheckAt != nil {
				upd[paymentattempt.FieldCheckCount] = a.CheckCount + 1
				upd[paymentattempt.FieldNextCheckAt] = s.nextCheck(a.CheckCount + 1)
				w.attempt(a.ID, upd)
			}
			return recorded{payment: p}, nil
		}
		s.log.ErrorContext(ctx, "channel disagrees with a final attempt", "attempt", a.ID, "state", from,
			"outcome", res.outcome, "code", res.code)
		return recorded{}, payments.Errorf(payments.ECONFLICT, "attempt %s is %s and cannot become %s", a.ID, from, res.outcome)
	}
	upd[paymentattempt.FieldStatus] = string(to)
	checks := a.CheckCount
	if res.check {
		checks++
		upd[paymentattempt.FieldCheckCount] = checks
	}
	switch {
	case to == attemptstatus.Unknown:
		upd[paymentattempt.FieldNextCheckAt] = s.nextCheck(checks)
	case to == attemptstatus.ActionRequired:
		upd[paymentattempt.FieldNextCheckAt] = s.now().Add(s.cfg.ActionTTL)
	case to == attemptstatus.Pending:
	default:
		upd[paymentattempt.FieldNextCheckAt] = nil
		upd[paymentattempt.FieldResolvedAt] = w.now
		if a.Operation != nil {
			// The operation in flight is answered (inflight.go).
			upd[paymentattempt.FieldOperation] = nil
			upd[paymentattempt.FieldOperationAmount] = int64(0)
		}
	}
	if to == attemptstatus.Declined || to == attemptstatus.Errored || to == attemptstatus.Expired {
		upd[paymentattempt.FieldDeclineCode] = clip(res.code, 64)
		upd[paymentattempt.FieldErrorMessage] = clip(res.message, 500)
		if to == attemptstatus.Declined && res.declineType.String() != "" {
			upd[paymentattempt.FieldDeclineType] = upperASCII(res.declineType.String())
		}
	}
	a.Status = to

	if r.route != nil && (to == attemptstatus.Declined || to == attemptstatus.Errored) {
		if moved, ok := routing.NextAfter(*r.route, res.failure()); ok {
			next, err := s.newAttempt(p, moved, a.RiskDecision, seedOf(a), len(moved.Attempted))
			if err != nil {
				return recorded{}, err
			}
			w.attempt(a.ID, upd)
			w.events = append(w.events, attemptFailedEvent(p, a, to, res))
			w.created = append(w.created, attemptRow{next, p.CheckoutSessionID})
			p.Connector = moved.Chosen
			w.payment(p.ID, row{payment.FieldConnector: moved.Chosen})
			s.log.InfoContext(ctx, "cascading", "payment", p.ID, "from", a.Connector, "to", moved.Chosen, "code", res.code)
			return recorded{payment: p, next: &cascade{attempt: next, route: moved}}, nil
		}
	}
	// The payment's writes first: a refusal there must leave w untouched.
	if err := s.applyToPayment(ctx, p, a, to, res, r.capture, w); err != nil {
		return recorded{}, err
	}
	w.attempt(a.ID, upd)
	if attemptFailed(to) {
		w.events = append(w.events, attemptFailedEvent(p, a, to, res))
	}
	return recorded{payment: p}, nil
}

// stale reports whether a result that the attempt machine refuses is only
// late news: the attempt already took this outcome or moved past it.
func stale(from attemptstatus.Status, o attemptstatus.Outcome) bool {
	switch {
	case from.Terminal():
		return true
	case from == attemptstatus.Authorized:
		return o == attemptstatus.OutcomeApproved || o == attemptstatus.OutcomeActionRequired || o == attemptstatus.OutcomeUnknown || o == attemptstatus.OutcomeError
	case from == attemptstatus.ActionRequired:
		return o == attemptstatus.OutcomeActionRequired || o == attemptstatus.OutcomeError
	}
	return false
}

// applyToPayment moves the payment by the attempt's new state and adds to w
// what goes with it: the session's settlement, the capture's ledger entry,
// the outbox event, and the payment's review opening (an authorization on a
// review decision) or closing (reviewOnRecord).
func (s *Service) applyToPayment(ctx context.Context, p *ent.Payment, a *ent.PaymentAttempt,
	to attemptstatus.Status, res result, capture *captureMove, w *recordWrites) error {
	ev, ok := to.PaymentEvent()
	if !ok {
		return nil // pending or unknown: the payment stays processing
	}
	if ev == paymentstatus.Decline && p.AgreementID != "" {
		ev = paymentstatus.Fail // a merchant-initiated charge has no buyer to try again
	}
	from := p.Status
	pto, err := nextPayment(from, ev)
	if err != nil {
		s.log.ErrorContext(ctx, "attempt result does not fit the payment", "payment", p.ID, "state", p.Status,
			"attempt", a.ID, "attempt_state", to)
		return nil
	}
	if pto == paymentstatus.Succeeded && capture == nil {
		return fmt.Errorf("payment %s captured without a prepared capture", p.ID)
	}
	upd := row{payment.FieldStatus: string(pto), payment.FieldConnector: a.Connector}
	p.Status, p.Connector = pto, a.Connector
	clearAction := func() {
		upd[payment.FieldNextAction] = nil
		p.NextAction = nil
	}
	switch pto {
	case paymentstatus.RequiresAction:
		p.NextAction = nextActionData(res.action)
		upd[payment.FieldNextAction] = p.NextAction
	case paymentstatus.RequiresCapture:
		clearAction()
		before := w.now.Add(s.cfg.AuthorizationWindow)
		p.AmountCapturable, p.CaptureBefore = a.Amount, &before
		upd[payment.FieldAmountCapturable], upd[payment.FieldCaptureBefore] = a.Amount, before
	case paymentstatus.Succeeded:
		clearAction()
		p.AmountCapturable, p.AmountCaptured, p.FeeAmount = 0, capture.amount.Minor, capture.fee
		upd[payment.FieldAmountCapturable], upd[payment.FieldAmountCaptured], upd[payment.FieldFeeAmount] = int64(0), capture.amount.Minor, capture.fee
	case paymentstatus.RequiresPaymentMethod, paymentstatus.Failed:
		clearAction()
		p.FailureCode, p.FailureMessage = clip(res.code, 64), clip(res.message, 500)
		upd[payment.FieldFailureCode], upd[payment.FieldFailureMessage] = p.FailureCode, p.FailureMessage
	case paymentstatus.Canceled:
		clearAction()
		at := w.now
		p.AmountCapturable, p.CanceledAt = 0, &at
		upd[payment.FieldAmountCapturable], upd[payment.FieldCanceledAt] = int64(0), at
	case paymentstatus.Processing:
		clearAction()
	}
	review, reviewed := s.reviewOnRecord(ctx, p, a, pto, w.now)
	for k, v := range review {
		upd[k] = v
	}
	p.UpdatedAt = w.now
	w.payment(p.ID, upd)
	if p.CheckoutSessionID != "" && sessionEffects[pto] != 0 {
		w.settle = append(w.settle, Settlement{SessionID: p.CheckoutSessionID, State: pto})
	}
	data := map[string]any{"attempt_id": a.ID, "connector": a.Connector}
	if res.code != "" && (pto == paymentstatus.RequiresPaymentMethod || pto == paymentstatus.Failed) {
		data["failure_code"] = res.code
	}
	if pto == paymentstatus.RequiresAction && res.action != nil {
		data["next_action"] = nextActionData(res.action)
	}
	w.events = append(w.events, paymentEvent(p, paymentEventTypes[pto], data))
	if pto == paymentstatus.Succeeded {
		w.events = append(w.events, capturedEvent(p, a, capture.amount.Minor))
	}
	if ev, ok := sessionCompletedEvent(p, from, pto); ok {
		w.events = append(w.events, ev)
	}
	if reviewed != nil {
		w.events = append(w.events, *reviewed)
	}
	if (pto == paymentstatus.RequiresCapture || pto == paymentstatus.Succeeded) && !authorized(from) {
		// The authorization counts toward the risk rules' daily limits.
		w.counts = append(w.counts, s.cfg.Risk.VolumeCounts(volumeKeysOf(a), a.Amount)...)
	}
	if pto == paymentstatus.Succeeded {
		e := capture.entry
		e.Source = ledger.Source{Type: ledger.SourceCapture, ID: p.ID}
		w.entries = append(w.entries, e)
	}
	return nil
}

// emit writes an outbox event about a payment in tx, through the one
// writer of outbox rows (insertEvents), so that it names the payment's
// checkout session like every other.
func (s *Service) emit(ctx context.Context, tx *ent.Tx, p *ent.Payment, typ string, extra map[string]any) error {
	return insertEvents(ctx, tx.Client(), []eventRow{paymentEvent(p, typ, extra)}, s.now())
}

// seedOf recovers nothing secret: cascades derive their key from the failed
// attempt's, so a replayed confirmation finds the same second attempt.
func seedOf(a *ent.PaymentAttempt) string { return a.ChannelIdempotencyKey }

// clip cuts s to at most n bytes, at a character boundary: a column
// never gets half of a UTF-8 character (MySQL refuses those).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// authorized reports whether a payment in state s has been authorized
// already (its volume counted).
func authorized(s paymentstatus.Status) bool {
	return s == paymentstatus.RequiresCapture || s == paymentstatus.Succeeded
}

// volumeKeysOf reads the daily-volume counter keys kept on an attempt's
// risk decision: strings as the pipeline wrote them, or JSON values as read
// back from the database.
func volumeKeysOf(a *ent.PaymentAttempt) []string {
	switch v := a.RiskDecision[volumeKeysField].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, k := range v {
			if s, ok := k.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// current is the caller's copy of an attempt with the columns that change
// (status and what goes with it) as just read in f.
func current(held, f *ent.PaymentAttempt) *ent.PaymentAttempt {
	a := *held
	a.Status, a.LastEventID, a.ConnectorReference = f.Status, f.LastEventID, f.ConnectorReference
	a.CheckCount, a.NextCheckAt, a.ResolvedAt, a.Operation = f.CheckCount, f.NextCheckAt, f.ResolvedAt, f.Operation
	a.DeclineCode, a.DeclineType, a.ErrorMessage, a.UpdatedAt = f.DeclineCode, f.DeclineType, f.ErrorMessage, f.UpdatedAt
	return &a
}
