package cashier

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/reports"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// newTypes are the event types added beside the payment's own: folding
// them into the report rollups must change no figure.
func newType(typ string) bool {
	return typ == eventPaymentCaptured || strings.HasPrefix(typ, "payment_attempt.") || strings.HasPrefix(typ, "checkout_session.")
}

// TestTheNewEventTypesLeaveReportFiguresUnchanged plans real steps (a sale
// captured with its authorization; an authorization then a partial
// capture; a cascade then a success; a decline for good), folds their
// events as the report consumer does, and compares with the fold of the
// same events less payment.captured, payment_attempt.* and
// checkout_session.*: every rollup figure is the same.
func TestTheNewEventTypesLeaveReportFiguresUnchanged(t *testing.T) {
	s := planService()
	var evs []eventRow
	rows := reports.Rows{Payments: map[string]reports.Payment{}}
	step := func(w *recordWrites) {
		evs = append(evs, attemptCreatedEvents(w.created)...)
		evs = append(evs, w.events...)
	}
	record := func(p *ent.Payment, a *ent.PaymentAttempt, res result, move *captureMove) {
		t.Helper()
		w := newRecordWrites(planNow)
		if _, err := s.plan(&recordReq{ctx: context.Background(), attempt: a, res: res, capture: move}, p, a, w); err != nil {
			t.Fatal(err)
		}
		step(w)
	}
	for i, c := range []string{"sale", "partial", "cascade", "declined"} {
		p, a := planRows(paymentstatus.Processing, attemptstatus.Pending)
		p.ID, a.ID, p.CheckoutSessionID = fmt.Sprintf("pay_%d", i), fmt.Sprintf("att_%d", i), fmt.Sprintf("cs_%d", i)
		a.PaymentID = p.ID
		start := len(evs)
		evs = append(evs, attemptCreatedEvents([]attemptRow{{a, p.CheckoutSessionID}})...)
		switch c {
		case "sale":
			record(p, a, result{outcome: attemptstatus.OutcomeCaptured}, planCaptureMove())
		case "partial":
			p.CaptureMethod, a.Capture = "MANUAL", false
			record(p, a, result{outcome: attemptstatus.OutcomeApproved}, nil)
			move := planCaptureMove()
			move.amount.Minor, move.fee = 6_000, 204
			w := newRecordWrites(planNow)
			if err := planCapture(p, a, move, w); err != nil {
				t.Fatal(err)
			}
			step(w)
		case "cascade":
			route := routing.Decision{PaymentID: p.ID, Chosen: "cardnet", Attempted: []string{"cardnet"},
				Candidates: []routing.Candidate{{Connector: "cardnet", Eligible: true}, {Connector: "backup", Eligible: true}}}
			w := newRecordWrites(planNow)
			rec, err := s.plan(&recordReq{ctx: context.Background(), attempt: a, route: &route,
				res: result{outcome: attemptstatus.OutcomeDeclined, declineType: connectors.DeclineSoft, code: "try_again"}}, p, a, w)
			if err != nil || rec.next == nil {
				t.Fatalf("cascade: %v %+v", err, rec)
			}
			step(w)
			record(p, rec.next.attempt, result{outcome: attemptstatus.OutcomeCaptured}, planCaptureMove())
		case "declined":
			record(p, a, result{outcome: attemptstatus.OutcomeDeclined, declineType: connectors.DeclineHard, code: "do_not_honor"}, nil)
		}
		// Every event of a session's payment names the session: the
		// cashier's subscription is filtered by it.
		for _, e := range evs[start:] {
			if e.sessionID != p.CheckoutSessionID {
				t.Errorf("%s of %s names session %q, want %q", e.typ, p.ID, e.sessionID, p.CheckoutSessionID)
			}
		}
		rows.Payments[p.ID] = reports.Payment{ID: p.ID, Currency: p.Currency, Connector: p.Connector, Method: "CARD",
			AmountCaptured: p.AmountCaptured, FeeAmount: p.FeeAmount}
	}
	var all, old []reports.Event
	seen := map[string]int{}
	for i, e := range evs {
		re := reports.Event{ID: fmt.Sprintf("evt_%04d", i), Type: e.typ, MerchantID: e.merchantID, ObjectID: e.objectID,
			Data: e.data, At: planNow}
		all = append(all, re)
		seen[e.typ]++
		if !newType(e.typ) {
			old = append(old, re)
		}
	}
	// The steps wrote each new type, once per transition.
	want := map[string]int{eventPaymentCaptured: 3, eventAttemptCreated: 5, eventAttemptFailed: 2, eventSessionCompleted: 3}
	for typ, n := range want {
		if seen[typ] != n {
			t.Errorf("%s written %d times, want %d (all: %v)", typ, seen[typ], n, seen)
		}
	}
	got, _ := reports.Fold(all, rows, map[string]bool{})
	base, _ := reports.Fold(old, rows, map[string]bool{})
	if !reflect.DeepEqual(got, base) {
		t.Fatalf("the new types changed the rollups:\n with %+v\n less %+v", got, base)
	}
	var total reports.Counts
	for _, c := range base {
		total = total.Add(c)
	}
	// Four payments, three succeeded (10,000 + 6,000 + 10,000 captured),
	// one decline counted (the last: the reports count payment.failed, and
	// a cascade's declined attempt writes none, only payment_attempt.failed).
	if total.Payments != 4 || total.Succeeded != 3 || total.Authorized != 3 || total.Gross != 26_000 || total.Declined != 1 {
		t.Fatalf("figures %+v", total)
	}
}
