package reports

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)

func ev(id, typ, object string, at time.Duration, data map[string]any) Event {
	return Event{ID: id, Type: typ, MerchantID: "mer_1", ObjectID: object, Data: data, At: t0.Add(at)}
}

func TestFoldCountsEachFactOnce(t *testing.T) {
	rows := Rows{
		Payments: map[string]Payment{
			"pay_a": {ID: "pay_a", Currency: "USD", Connector: "acme", Method: "card", AmountCaptured: 1000, FeeAmount: 32},
			"pay_b": {ID: "pay_b", Currency: "USD", Connector: "acme", Method: "card"},
			"pay_c": {ID: "pay_c", Currency: "EUR", Connector: "bolt", Method: "card", AmountCaptured: 500, FeeAmount: 10},
		},
		Refunds: map[string]Refund{"ref_1": {ID: "ref_1", PaymentID: "pay_a", Currency: "USD", Amount: 400, FeeReversed: 13}},
	}
	evs := []Event{
		// pay_a: automatic capture succeeds.
		ev("evt_1", "payment.processing", "pay_a", 0, map[string]any{"connector": "acme"}),
		ev("evt_2", "payment.succeeded", "pay_a", time.Second, map[string]any{"connector": "acme", "status": "succeeded"}),
		// pay_b: declined, retried, declined for good.
		ev("evt_3", "payment.failed", "pay_b", 0, map[string]any{"status": "requires_payment_method"}),
		ev("evt_4", "payment.failed", "pay_b", time.Minute, map[string]any{"status": "failed"}),
		// pay_c: manual capture, an hour later.
		ev("evt_5", "payment.requires_capture", "pay_c", time.Hour, nil),
		ev("evt_6", "payment.succeeded", "pay_c", time.Hour+time.Minute, nil),
		// a refund of pay_a, a dispute on pay_a, and an event not counted.
		ev("evt_7", "refund.created", "ref_1", 2*time.Second, nil),
		ev("evt_8", "refund.succeeded", "ref_1", 3*time.Second, nil),
		ev("evt_9", "dispute.created", "dp_1", 4*time.Second, map[string]any{"payment_id": "pay_a", "amount": float64(600), "currency": "USD"}),
		ev("evt_10", "api_key.revoked", "key_1", 0, nil),
		ev("evt_2", "payment.succeeded", "pay_a", time.Second, nil), // the same event again
	}
	done := map[string]bool{}
	deltas, marks := Fold(evs, rows, done)
	h10, h11 := t0.Truncate(time.Hour), t0.Truncate(time.Hour).Add(time.Hour)
	want := map[Key]Counts{
		{MerchantID: "mer_1", Hour: h10, Currency: "USD", Connector: "acme", Method: "card"}: {
			Payments: 2, Succeeded: 1, Failed: 1, Authorized: 1, Declined: 2, Refunds: 1, Disputes: 1,
			Gross: 1000, Fees: 32 - 13, Refunded: 400, Disputed: 600},
		{MerchantID: "mer_1", Hour: h11, Currency: "EUR", Connector: "bolt", Method: "card"}: {
			Payments: 1, Succeeded: 1, Authorized: 1, Gross: 500, Fees: 10},
	}
	if len(deltas) != len(want) {
		t.Fatalf("deltas = %+v", deltas)
	}
	for k, c := range want {
		if deltas[k] != c {
			t.Errorf("%+v: %+v, want %+v", k, deltas[k], c)
		}
	}
	// Folding the same events again, with the marks written, adds nothing.
	again, more := Fold(evs, rows, done)
	if len(again) != 0 || len(more) != 0 {
		t.Fatalf("a replay counted again: %+v %v", again, more)
	}
	// A fresh fold that knows only the marks counts nothing either.
	known := map[string]bool{}
	for _, m := range marks {
		known[m] = true
	}
	if d, _ := Fold(evs, rows, known); len(d) != 0 {
		t.Fatalf("marked events counted: %+v", d)
	}
	// A payment seen in an earlier batch is not counted as a new payment.
	later, _ := Fold([]Event{ev("evt_11", "payment.processing", "pay_b", 2*time.Minute, nil)}, rows, done)
	if len(later) != 0 {
		t.Fatalf("a payment seen before counted again: %+v", later)
	}
}

func TestFoldSkipsEventsWithoutTheirRow(t *testing.T) {
	d, marks := Fold([]Event{ev("evt_1", "payment.succeeded", "pay_gone", 0, nil)}, Rows{}, map[string]bool{})
	if len(d) != 0 || len(marks) != 0 {
		t.Fatalf("counted an event whose payment is missing: %+v %v", d, marks)
	}
}

// Event types the fold does not know (payment.captured, added after it,
// and any other) count nothing, leave no mark and do not make a payment
// "seen": the figures are those of the known events alone.
func TestFoldIgnoresUnknownEventTypes(t *testing.T) {
	rows := Rows{Payments: map[string]Payment{
		"pay_a": {ID: "pay_a", Currency: "USD", Connector: "acme", Method: "card", AmountCaptured: 1000, FeeAmount: 32},
	}}
	known := []Event{
		ev("evt_1", "payment.processing", "pay_a", time.Hour, map[string]any{"connector": "acme"}),
		ev("evt_2", "payment.succeeded", "pay_a", time.Hour+time.Second, map[string]any{"connector": "acme", "status": "succeeded"}),
	}
	unknown := []Event{
		// Before the payment's first known event, in another hour: it must
		// not count the payment there.
		ev("evt_0", "payment.created_somehow", "pay_a", 0, map[string]any{"connector": "bolt"}),
		ev("evt_3", "payment.captured", "pay_a", time.Hour+time.Second, map[string]any{"amount": float64(1000), "connector": "acme"}),
		ev("evt_4", "payment_attempt.created", "att_1", time.Hour, map[string]any{"payment_id": "pay_a"}),
		ev("evt_5", "payment_attempt.failed", "att_1", time.Hour, map[string]any{"payment_id": "pay_a", "status": "failed"}),
		ev("evt_6", "refund.created", "ref_1", time.Hour, nil),
		ev("evt_7", "fx.conversion_completed", "fxc_1", time.Hour, nil),
	}
	for _, e := range unknown {
		if Counted(e.Type) {
			t.Errorf("%s counted", e.Type)
		}
	}
	want, wantMarks := Fold(known, rows, map[string]bool{})
	all := append([]Event{unknown[0]}, known[0])
	all = append(all, unknown[1:]...)
	all = append(all, known[1])
	got, marks := Fold(all, rows, map[string]bool{})
	if len(got) != len(want) {
		t.Fatalf("with unknown types: %+v, want %+v", got, want)
	}
	for k, c := range want {
		if got[k] != c {
			t.Errorf("%+v: %+v, want %+v", k, got[k], c)
		}
	}
	if len(marks) != len(wantMarks) {
		t.Errorf("marks %v, want %v", marks, wantMarks)
	}
	if m := MarksOf(unknown, rows); len(m) != len(unknown) {
		t.Errorf("marks looked up for unknown types: %v", m)
	}
}
