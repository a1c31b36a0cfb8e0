package reports

import (
	"time"
)

// Event is what the rollups need of an outbox event.
type Event struct {
	ID, Type, MerchantID, ObjectID string
	Data                           map[string]any
	At                             time.Time
}

// Payment is what the rollups need of the payment an event names (events
// do not carry its method or fee: the consumer reads the row).
type Payment struct {
	ID, Currency, Connector, Method string
	// AmountCaptured and FeeAmount are final once the payment succeeded.
	AmountCaptured, FeeAmount int64
}

// Refund is what the rollups need of a refund: its row holds the fee it
// reversed, which its events do not.
type Refund struct {
	ID, PaymentID, Currency string
	Amount, FeeReversed     int64
}

// Rows are the payments and refunds a batch of events names, by ID.
type Rows struct {
	Payments map[string]Payment
	Refunds  map[string]Refund
}

// Counted reports whether the event types counted by the rollups include
// typ: a payment's status events (the first one counts the payment), a
// refund that succeeded, a dispute opened. Any other type, including a
// payment.* type added later (payment.captured, which follows
// payment.succeeded and whose amount the payment's row already gives), is
// ignored: it is not loaded, marked or counted.
func Counted(typ string) bool {
	return paymentStatusEvents[typ] || typ == "refund.succeeded" || typ == "dispute.created"
}

// paymentStatusEvents are the payment events written when a payment's
// status changes (cashier.paymentEventTypes) and its review opens or
// closes: the ones Fold reads.
var paymentStatusEvents = map[string]bool{
	"payment.processing": true, "payment.requires_action": true, "payment.requires_capture": true,
	"payment.succeeded": true, "payment.failed": true, "payment.canceled": true,
	"payment.review_opened": true, "payment.review_closed": true,
}

// Marks an event or a once-per-payment fact leaves, so that it counts once.
func seenMark(paymentID string) string       { return paymentID + ":seen" }
func authorizedMark(paymentID string) string { return paymentID + ":authorized" }

// MarksOf lists the marks folding evs may look up: each event's ID and the
// facts counted once per payment.
func MarksOf(evs []Event, rows Rows) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
		if pid := paymentOf(e, rows); pid != "" && paymentStatusEvents[e.Type] {
			out = append(out, seenMark(pid), authorizedMark(pid))
		}
	}
	return out
}

// paymentOf is the ID of the payment e is about.
func paymentOf(e Event, rows Rows) string {
	switch {
	case paymentStatusEvents[e.Type]:
		return e.ObjectID
	case e.Type == "refund.succeeded":
		return rows.Refunds[e.ObjectID].PaymentID
	case e.Type == "dispute.created":
		s, _ := e.Data["payment_id"].(string)
		return s
	}
	return ""
}

// Fold applies evs, in order, to the rollups: it returns what to add to
// each rollup row and the marks to write with it. done holds the marks
// written before (an event applied already, a payment counted already);
// Fold adds what it marks to done, so a batch holding an event twice
// counts it once.
//
// Each event goes to the UTC hour it was written in, under its payment's
// currency, connector (the attempt's, when the event names one) and
// method:
//   - any payment status event (Counted): Payments +1 the first time its
//     payment is seen;
//   - payment.requires_capture: Authorized +1 (once per payment);
//   - payment.succeeded: Succeeded +1, Gross += captured, Fees += the fee,
//     and Authorized +1 unless requires_capture counted it;
//   - payment.failed: Declined +1 (every failed attempt), and Failed +1
//     when the payment ended failed (not when it may be retried);
//   - refund.succeeded: Refunds +1, Refunded += its amount, Fees -= the fee
//     it reversed;
//   - dispute.created: Disputes +1, Disputed += its amount.
//
// An event whose payment or refund row is missing counts nothing.
func Fold(evs []Event, rows Rows, done map[string]bool) (map[Key]Counts, []string) {
	deltas := map[Key]Counts{}
	var marks []string
	mark := func(m string) bool {
		if done[m] {
			return false
		}
		done[m] = true
		marks = append(marks, m)
		return true
	}
	for _, e := range evs {
		if !Counted(e.Type) || done[e.ID] {
			continue
		}
		p, ok := rows.Payments[paymentOf(e, rows)]
		if !ok {
			continue
		}
		mark(e.ID)
		k := Key{MerchantID: e.MerchantID, Hour: e.At.UTC().Truncate(time.Hour), Currency: p.Currency,
			Connector: p.Connector, Method: p.Method}
		if c, _ := e.Data["connector"].(string); c != "" {
			k.Connector = c
		}
		var d Counts
		switch e.Type {
		case "refund.succeeded":
			r := rows.Refunds[e.ObjectID]
			k.Currency = r.Currency
			d.Refunds, d.Refunded, d.Fees = 1, r.Amount, -r.FeeReversed
		case "dispute.created":
			if c, _ := e.Data["currency"].(string); c != "" {
				k.Currency = c
			}
			d.Disputes, d.Disputed = 1, number(e.Data["amount"])
		default: // payment.*
			if mark(seenMark(p.ID)) {
				d.Payments = 1
			}
			switch e.Type {
			case "payment.requires_capture":
				if mark(authorizedMark(p.ID)) {
					d.Authorized = 1
				}
			case "payment.succeeded":
				d.Succeeded, d.Gross, d.Fees = 1, p.AmountCaptured, p.FeeAmount
				if mark(authorizedMark(p.ID)) {
					d.Authorized = 1
				}
			case "payment.failed":
				d.Declined = 1
				if s, _ := e.Data["status"].(string); s == "failed" {
					d.Failed = 1
				}
			}
		}
		if !d.IsZero() {
			deltas[k] = deltas[k].Add(d)
		}
	}
	return deltas, marks
}

// number reads a JSON number of minor units (float64 once decoded, exact
// below 2^53).
func number(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int64:
		return n
	case int:
		return int64(n)
	}
	return 0
}
