package disputes

import (
	"fmt"
	"strings"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
)

// Rows is what the step reads, under the payment's lock: the payment, the
// dispute when one exists for the network's id, whether this channel event
// is already on its timeline, and the merchant's balances in the payment's
// currency.
type Rows struct {
	Payment   *ent.Payment
	Connector string
	Dispute   *ent.Dispute
	Seen      bool
	Balances  map[ledger.Kind]int64
}

// Writes is what one step decides: the dispute's fields (Create for a new
// one), its timeline lines, the ledger entries and the outbox events. apply
// writes them in one transaction.
type Writes struct {
	Create   bool
	Dispute  DisputeRow
	Timeline []TimelineLine
	Entries  []ledger.Entry
	Events   []OutboxEvent
}

// DisputeRow is a dispute's fields after the step.
type DisputeRow struct {
	ID, MerchantID, PaymentID, Connector, NetworkID string
	State                                           State
	Stage                                           Stage
	Reason                                          Reason
	ReasonCode                                      string
	Amount, Fee                                     int64
	Currency                                        string
	DueBy                                           *time.Time
	EvidenceSubmittedAt                             *time.Time
	OperatorFlag                                    string
}

// TimelineLine is one line of a dispute's timeline.
type TimelineLine struct {
	Kind           string
	From, To       string
	ChannelEventID string // "" when the line records no channel event
	Note           string
}

// OutboxEvent is an event row for merchants (the transactional outbox).
type OutboxEvent struct {
	Type string
	Data map[string]any
}

// Timeline kinds.
const (
	LineChannelEvent      = "channel_event"
	LineIgnored           = "ignored"
	LineEvidenceStaged    = "evidence_staged"
	LineEvidenceSubmitted = "evidence_submitted"
	LineAccepted          = "accepted"
)

// decideEvent is the pure step for a channel's dispute notification. A
// notification already on the timeline writes nothing; one that would move
// the dispute backwards (late, out of order) is recorded as ignored and
// changes nothing else. Otherwise the dispute is created or moved, and the
// money follows the state: funds are held on entering a chargeback, released
// on a win, and go to the channel on a loss or acceptance.
//
// Returns EINVALID for a notification without a dispute, with a stage or
// status the contract does not know, or in another currency than the
// payment's.
func decideEvent(rows Rows, ev connectors.Event, now time.Time) (Writes, error) {
	if rows.Seen {
		return Writes{}, nil
	}
	d := ev.Dispute
	if d == nil {
		return Writes{}, payments.Errorf(payments.EINVALID, "event %s: a dispute event without its dispute", ev.ID)
	}
	to, ok := stateOf(d.Stage, d.Status)
	stage, stageOK := stageOf[d.Stage]
	if !ok || !stageOK {
		return Writes{}, payments.Errorf(payments.EINVALID, "event %s: dispute %s is %s/%s", ev.ID, d.ID, d.Stage, d.Status)
	}
	p := rows.Payment
	amount, err := minorOf(d.Amount, p.Currency)
	if err != nil {
		return Writes{}, fmt.Errorf("event %s: amount: %w", ev.ID, err)
	}
	fee := int64(0)
	if d.Fee.Minor != 0 {
		if fee, err = minorOf(d.Fee, p.Currency); err != nil {
			return Writes{}, fmt.Errorf("event %s: fee: %w", ev.ID, err)
		}
	}
	eventID := ev.Connector + ":" + ev.ID
	var w Writes
	var from State
	if rows.Dispute == nil {
		w.Create = true
		w.Dispute = DisputeRow{ID: pulid.New("dsp"), MerchantID: p.MerchantID, PaymentID: p.ID, Connector: rows.Connector,
			NetworkID: d.ID, Reason: reasonOf(d.ReasonCode, d.Reason), ReasonCode: d.ReasonCode, Amount: amount,
			Currency: p.Currency}
		if p.AmountRefunded > 0 && p.AmountRefunded >= p.AmountCaptured {
			w.Dispute.OperatorFlag = "disputed after a full refund: the cardholder may be paid twice; ask the channel to reverse one"
		}
	} else {
		w.Dispute = rowOf(rows.Dispute)
		from = w.Dispute.State
		if from == to && stage == w.Dispute.Stage {
			// The channel confirms what Strait already recorded (its
			// webhook after its answer to a call).
			w.Timeline = []TimelineLine{{Kind: LineChannelEvent, From: string(from), To: string(to), ChannelEventID: eventID,
				Note: fmt.Sprintf("%s %s confirmed", d.Stage, d.Status)}}
			return w, nil
		}
		if !canMove(from, w.Dispute.Stage, to, stage) {
			w.Timeline = []TimelineLine{{Kind: LineIgnored, From: string(from), To: string(from), ChannelEventID: eventID,
				Note: fmt.Sprintf("%s/%s arrived after the dispute was %s: kept as it was", d.Stage, d.Status, strings.ToLower(string(from)))}}
			return w, nil
		}
	}
	if !w.Create && stageRank[stage] > stageRank[w.Dispute.Stage] {
		// A new stage asks for a new answer.
		w.Dispute.EvidenceSubmittedAt = nil
	}
	w.Dispute.State, w.Dispute.Stage = to, stage
	if fee > w.Dispute.Fee {
		w.Dispute.Fee = fee
	}
	if !d.DueBy.IsZero() {
		due := d.DueBy.UTC()
		w.Dispute.DueBy = &due
	}
	w.Timeline = []TimelineLine{{Kind: LineChannelEvent, From: string(from), To: string(to), ChannelEventID: eventID,
		Note: fmt.Sprintf("%s %s (%s)", d.Stage, d.Status, d.ReasonCode)}}
	w.Entries, w.Dispute.OperatorFlag = moneyFor(w.Dispute, from, rows.Balances, now, w.Dispute.OperatorFlag)
	w.Events = []OutboxEvent{eventFor(w.Dispute, w.Create)}
	return w, nil
}

// moneyFor returns the ledger entries a move from from to d.State makes,
// each keyed by the dispute and its purpose, so that it posts exactly once.
func moneyFor(d DisputeRow, from State, balances map[ledger.Kind]int64, now time.Time, flag string) ([]ledger.Entry, string) {
	cur := money.MustCurrency(d.Currency)
	held := d.Amount + d.Fee
	var out []ledger.Entry
	if !holdsFunds(from) && holdsFunds(d.State) {
		var e ledger.Entry
		e, flag = holdEntry(d, cur, held, balances, now, flag)
		out = append(out, e)
	}
	if final(d.State) && !final(from) && holdsFunds(d.State) {
		out = append(out, settleEntry(d, cur, held, now))
	}
	return out, flag
}

// holdEntry moves the disputed amount and the fee into the dispute hold:
// from the merchant's balances in ledger.DrawOrder (available first, then
// pending, then reserve).
// What the merchant cannot cover is advanced from the platform's suspense
// account and flagged for the operator.
func holdEntry(d DisputeRow, cur money.Currency, held int64, balances map[ledger.Kind]int64, now time.Time, flag string) (ledger.Entry, string) {
	e := ledger.Entry{Source: ledger.Source{Type: ledger.SourceDispute, ID: d.ID + "/hold"},
		Description: "dispute " + d.NetworkID + ": funds held", Reference: d.ID, EffectiveAt: now}
	// The ledger's one draw rule (ledger.DrawOrder), shared with refunds.
	drawn, left := ledger.Draw(d.MerchantID, money.Amount{Minor: held, Currency: cur}, balances)
	e.Postings = append(e.Postings, drawn...)
	if left > 0 {
		e.Postings = append(e.Postings, ledger.Posting{Account: ledger.PlatformAccount(ledger.KindSuspense, cur), Amount: money.Amount{Minor: -left, Currency: cur}})
		flag = strings.TrimPrefix(flag+"; ", "; ") + fmt.Sprintf("the merchant's balance was short by %s: advanced from suspense", money.Amount{Minor: left, Currency: cur})
	}
	e.Postings = append(e.Postings, ledger.Posting{Account: ledger.MerchantAccount(d.MerchantID, ledger.KindDisputeHold, cur), Amount: money.Amount{Minor: held, Currency: cur}})
	return e, flag
}

// settleEntry empties the dispute hold when the dispute ends: won, the
// disputed amount goes back to the merchant's available balance; lost or
// accepted, it goes to the channel. The fee goes to the channel either way.
func settleEntry(d DisputeRow, cur money.Currency, held int64, now time.Time) ledger.Entry {
	channel := ledger.ChannelAccount(d.Connector, cur)
	e := ledger.Entry{Source: ledger.Source{Type: ledger.SourceDispute, ID: d.ID + "/settle"},
		Reference: d.ID, EffectiveAt: now,
		Postings: []ledger.Posting{{Account: ledger.MerchantAccount(d.MerchantID, ledger.KindDisputeHold, cur), Amount: money.Amount{Minor: -held, Currency: cur}}}}
	if d.State == Won {
		e.Description = "dispute " + d.NetworkID + ": won, funds released"
		e.Postings = append(e.Postings, ledger.Posting{Account: ledger.MerchantAccount(d.MerchantID, ledger.KindAvailable, cur), Amount: money.Amount{Minor: d.Amount, Currency: cur}})
		if d.Fee > 0 {
			e.Postings = append(e.Postings, ledger.Posting{Account: channel, Amount: money.Amount{Minor: d.Fee, Currency: cur}})
		}
		return e
	}
	e.Description = "dispute " + d.NetworkID + ": " + strings.ToLower(string(d.State)) + ", funds to the channel"
	e.Postings = append(e.Postings, ledger.Posting{Account: channel, Amount: money.Amount{Minor: held, Currency: cur}})
	return e
}

// eventFor is the outbox event of a change: dispute.created, then
// dispute.updated, and dispute.closed when it ends.
func eventFor(d DisputeRow, created bool) OutboxEvent {
	typ := "dispute.updated"
	switch {
	case created:
		typ = "dispute.created"
	case final(d.State):
		typ = "dispute.closed"
	}
	data := map[string]any{"dispute_id": d.ID, "payment_id": d.PaymentID, "state": string(d.State), "stage": string(d.Stage),
		"reason": string(d.Reason), "reason_code": d.ReasonCode, "amount": d.Amount, "currency": d.Currency, "fee": d.Fee}
	if d.DueBy != nil {
		data["due_by"] = d.DueBy.Format(time.RFC3339)
	}
	return OutboxEvent{Type: typ, Data: data}
}

func rowOf(d *ent.Dispute) DisputeRow {
	return DisputeRow{ID: d.ID, MerchantID: d.MerchantID, PaymentID: d.PaymentID, Connector: d.Connector,
		NetworkID: d.NetworkDisputeID, State: d.State, Stage: d.Stage, Reason: d.Reason, ReasonCode: d.ReasonCode,
		Amount: d.Amount, Fee: d.Fee, Currency: d.Currency, DueBy: d.DueBy, EvidenceSubmittedAt: d.EvidenceSubmittedAt,
		OperatorFlag: d.OperatorFlag}
}

// minorOf reads a channel amount in the payment's currency's minor units.
func minorOf(m connectors.Money, currency string) (int64, error) {
	if !strings.EqualFold(m.Currency, currency) {
		return 0, payments.Errorf(payments.EINVALID, "amount in %q, the payment is in %s", m.Currency, currency)
	}
	c, err := money.ParseCurrency(currency)
	if err != nil {
		return 0, fmt.Errorf("stored currency %q: %w", currency, err)
	}
	v, err := m.In(c.Exponent())
	if err != nil {
		return 0, payments.Errorf(payments.EINVALID, "amount %v: %v", m, err)
	}
	return v, nil
}
