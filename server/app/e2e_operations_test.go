package app_test

import (
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

const capturePayment = `mutation($in: CapturePaymentInput!) { capturePayment(input: $in) {
	status amountCaptured { amount } amountCapturable { amount } fee { amount } } }`

const refundPayment = `mutation($in: RefundPaymentInput!) { refundPayment(input: $in) {
	id status amount { amount } feeReversed { amount } } }`

// merchantPending is merchant A's pending balance in currency, as its API
// key reads it.
func (x *e2e) merchantPending(t *testing.T, currency string) string {
	t.Helper()
	var bs []struct {
		Currency string
		Pending  struct{ Amount string }
	}
	x.ok(t, x.gql("API_KEY", `{ balances { currency pending { amount } } }`, nil), "balances", &bs)
	for _, b := range bs {
		if b.Currency == currency {
			return b.Pending.Amount
		}
	}
	return ""
}

// TestPreAuthPartialCaptureAndPartialRefundsEndToEnd holds an amount with a
// MANUAL-capture session, captures part of it, refunds it in two parts and
// is refused a third above what is left; the card network and the ledger
// (merchant, channel and platform accounts, with cardnet's fee taken at
// capture and returned pro rata) agree at each step.
func TestPreAuthPartialCaptureAndPartialRefundsEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		x.ok(t, x.gql("OPERATOR", `mutation($in: UpdateConnectorSettingsInput!) { updateConnectorSettings(input: $in) { name } }`,
			map[string]any{"in": map[string]any{"name": "cardnet", "fees": []any{
				map[string]any{"currency": "SGD", "fixedAmount": 30, "basisPoints": 290}}}}), "updateConnectorSettings", &struct{}{})

		s := x.open(t, map[string]any{"amount": amountOf(10_000, "SGD"), "captureMethod": "MANUAL"})
		p := x.payCard(t, s, "4242424242424242", cvc3)
		if p.Status != "REQUIRES_CAPTURE" || p.AmountCaptured.Amount != "0" {
			t.Fatalf("authorized: %+v", p)
		}
		att := x.payment(t, p.ID).attempts()[0]
		network := func() networkPayment {
			t.Helper()
			at := cardPaymentsAt(t, x.sb.URL(), att.ID)
			if len(at) != 1 {
				t.Fatalf("the network holds %d payments for %s", len(at), att.ID)
			}
			return at[0]
		}
		if n := network(); n.State != "authorized" || n.CapturedAmount != 0 {
			t.Fatalf("network after the hold: %+v", n)
		}
		if got := x.merchantPending(t, "SGD"); got != "" && got != "0" {
			t.Fatalf("a hold credited the merchant %s", got)
		}

		refusals := []struct {
			name, query, code string
			in                map[string]any
		}{
			{"refund before capture", refundPayment, "CONFLICT", map[string]any{"id": p.ID, "amount": amountOf(100, "SGD"), "idempotencyKey": "r-early"}},
			{"capture above the authorization", capturePayment, "BAD_USER_INPUT", map[string]any{"id": p.ID, "amount": amountOf(10_001, "SGD"), "idempotencyKey": "c-big"}},
		}
		for _, r := range refusals {
			if got := x.gql("API_KEY", r.query, map[string]any{"in": r.in}); got.code() != r.code {
				t.Fatalf("%s: %s, want %s", r.name, got.Raw, r.code)
			}
		}

		var captured struct {
			Status                           string
			AmountCaptured, AmountCapturable struct{ Amount string }
			Fee                              struct{ Amount string }
		}
		x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{
			"id": p.ID, "amount": amountOf(7_500, "SGD"), "idempotencyKey": "cap-7500"}}), "capturePayment", &captured)
		// Fee: 30 + ⌈7500 × 2.9 %⌉ = 30 + 218.
		if captured.Status != "SUCCEEDED" || captured.AmountCaptured.Amount != "7500" || captured.AmountCapturable.Amount != "0" || captured.Fee.Amount != "248" {
			t.Fatalf("captured: %+v", captured)
		}
		if n := network(); n.State != "captured" || n.CapturedAmount != 7_500 {
			t.Fatalf("network after the capture: %+v", n)
		}
		if got := x.merchantPending(t, "SGD"); got != "7252" {
			t.Fatalf("merchant pending %s after the capture, want 7500 − 248", got)
		}

		type refund struct {
			ID, Status          string
			Amount, FeeReversed struct{ Amount string }
		}
		// Fee back pro rata: ⌊248 × 2500/7500⌋ = 82, then ⌊248 × 5500/7500⌋ − 82 = 99.
		for _, r := range []struct {
			minor    int64
			key, fee string
		}{{2_500, "ref-1", "82"}, {3_000, "ref-2", "99"}} {
			var got refund
			x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
				"id": p.ID, "amount": amountOf(r.minor, "SGD"), "reason": "returned", "idempotencyKey": r.key}}), "refundPayment", &got)
			if got.Status != "SUCCEEDED" || got.Amount.Amount != itoa(r.minor) || got.FeeReversed.Amount != r.fee {
				t.Fatalf("refund %s: %+v", r.key, got)
			}
		}
		before := x.counts(t)
		if r := x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": p.ID, "amount": amountOf(2_001, "SGD"), "idempotencyKey": "ref-3"}}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("refund above what is left (2000): %s", r.Raw)
		}
		if after := x.counts(t); after != before {
			t.Fatalf("a refused refund moved something: %+v then %+v", before, after)
		}

		if got := x.payment(t, p.ID); got.AmountRefunded.Amount != "5500" || got.AmountCaptured.Amount != "7500" || got.Status != "SUCCEEDED" {
			t.Fatalf("payment %+v", got)
		}
		if n := network(); n.State != "partially_refunded" || n.RefundedAmount != 5_500 {
			t.Fatalf("network after the refunds: %+v", n)
		}
		// 2000 captured and kept, less the 67 of fee kept: the merchant's;
		// the channel still owes the 2000; the platform keeps 248 − 181.
		for _, b := range []struct{ owner, id, kind, want string }{
			{"MERCHANT", x.a.ID, "PENDING", "1933"},
			{"CHANNEL", "cardnet", "RECEIVABLE", "-2000"},
			{"PLATFORM", "", "FEES", "67"},
		} {
			if got := x.accountBalance(t, b.owner, b.id, b.kind, "SGD"); got != b.want {
				t.Errorf("%s %s %s = %s, want %s", b.owner, b.id, b.kind, got, b.want)
			}
		}
		if got := x.merchantPending(t, "SGD"); got != "1933" {
			t.Errorf("merchant pending %s, want 1933", got)
		}
		x.balanced(t)
		x.noCardData(t)
	})
}

// TestLargeIDRAmountEndToEnd pays 5,000,000,000 minor units of IDR, far
// above 2^31 (Strait's currency table, CLDR's, gives IDR no decimals: that
// is five billion rupiah), then refunds a billion of them. The amount comes
// back exact as an Int64 string with its decimal form and exponent 0; the
// card network, which counts IDR in hundredths as ISO 4217 does, is asked
// for exactly the same money (500,000,000,000 hundredths), because the
// contract states the exponent and cardnet converts; the ledger holds the
// rupiah exactly.
func TestLargeIDRAmountEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		const minor, hundredths = 5_000_000_000, 500_000_000_000
		// cardnet serves buyers in ten countries, Indonesia not among them.
		s := x.open(t, map[string]any{"amount": amountOf(minor, "IDR")})
		p := x.payCard(t, s, "4000000000000077", cvc3)
		if p.Status != "SUCCEEDED" || p.Amount.Amount != "5000000000" || p.Amount.Currency != "IDR" || p.Amount.Exponent != 0 ||
			p.Amount.Decimal != "5000000000" || p.AmountCaptured.Amount != "5000000000" {
			t.Fatalf("payment %+v", p)
		}
		att := x.payment(t, p.ID).attempts()[0]
		at := cardPaymentsAt(t, x.sb.URL(), att.ID)
		if len(at) != 1 || at[0].Amount != hundredths || at[0].CapturedAmount != hundredths {
			t.Fatalf("the network holds %+v, want %d hundredths", at, int64(hundredths))
		}
		if got := x.merchantPending(t, "IDR"); got != "5000000000" {
			t.Fatalf("merchant pending %s IDR", got)
		}
		if got := x.accountBalance(t, "CHANNEL", "cardnet", "RECEIVABLE", "IDR"); got != "-5000000000" {
			t.Fatalf("channel receivable %s IDR", got)
		}

		var r struct {
			Status string
			Amount struct{ Amount string }
		}
		x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": p.ID, "amount": amountOf(1_000_000_000, "IDR"), "idempotencyKey": "idr-refund"}}), "refundPayment", &r)
		if r.Status != "SUCCEEDED" || r.Amount.Amount != "1000000000" {
			t.Fatalf("refund %+v", r)
		}
		if at := cardPaymentsAt(t, x.sb.URL(), att.ID); at[0].RefundedAmount != 100_000_000_000 {
			t.Fatalf("the network refunded %d hundredths, want 100000000000", at[0].RefundedAmount)
		}
		if got := x.merchantPending(t, "IDR"); got != "4000000000" {
			t.Fatalf("merchant pending %s IDR after the refund", got)
		}
		if got := x.accountBalance(t, "CHANNEL", "cardnet", "RECEIVABLE", "IDR"); got != "-4000000000" {
			t.Fatalf("channel receivable %s IDR after the refund", got)
		}
		x.balanced(t)
	})
}
