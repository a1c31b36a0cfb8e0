package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestVirtualAccountTransferSendsWebhook(t *testing.T) {
	sb := start(t, Config{})
	rc := newReceiver(t, 0)
	rc.register(sb, "whsec_bank", "bank")
	var va virtualAccount
	wantStatus(t, call(t, sb, "POST", "/bank/virtual-accounts", vaRequest{Reference: "pay_va", Currency: "EUR", ExpectedAmount: 2500}, &va), http.StatusCreated)
	var again virtualAccount
	wantStatus(t, call(t, sb, "POST", "/bank/virtual-accounts", vaRequest{Reference: "pay_va", Currency: "EUR", ExpectedAmount: 2500}, &again), http.StatusOK)
	if again.AccountNumber != va.AccountNumber {
		t.Fatalf("same reference got a new account: %s, %s", va.AccountNumber, again.AccountNumber)
	}
	if code, html := getPage(t, va.PayURL); code != http.StatusOK || !strings.Contains(html, va.AccountNumber) {
		t.Fatalf("transfer page %d:\n%s", code, html)
	}
	resp, _ := click(t, va.PayURL, url.Values{"amount": {"2500"}, "payer_name": {"Grace"}})
	wantStatus(t, resp, http.StatusOK)

	got := rc.waitFor("bank.transfer.received")
	if _, err := Verify("whsec_bank", got.header, got.body, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	var tr transfer
	json.Unmarshal(got.event.Data, &tr)
	if tr.Amount != 2500 || tr.Currency != "EUR" || tr.Reference != "pay_va" || tr.PayerName != "Grace" {
		t.Fatalf("transfer = %+v", tr)
	}
	call(t, sb, "GET", "/bank/virtual-accounts/"+va.ID, nil, &va)
	if va.Status != "paid" || va.ReceivedAmount != 2500 || len(va.Transfers) != 1 {
		t.Fatalf("virtual account = %+v", va)
	}
	var bal balanceView
	call(t, sb, "GET", "/bank/balance?currency=EUR", nil, &bal)
	// 2500 less the 0.5 % fee (12.5, rounded half up to 13).
	if len(bal.Balances) != 1 || bal.Balances[0].Available != initialBalance("EUR")+2487 {
		t.Fatalf("balance = %+v", bal.Balances)
	}
}

func TestPayoutCompletesAfterDelay(t *testing.T) {
	clock := newFixedClock(day2)
	sb := start(t, Config{Now: clock.Now, TickInterval: -1, PayoutDelay: 3 * time.Second})
	ctx := context.Background()
	cases := []struct {
		name, account, state, failure string
		availableDelta                int64
	}{
		{"good beneficiary completes", "GB33BUKB20201555555555", "completed", "", -(100000 + 500)},
		{"closed account fails", "GB33BUKB20201555550000", "failed", "account_closed", 0},
		{"name mismatch fails", "GB33BUKB20201555551111", "failed", "beneficiary_name_mismatch", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := balanceOf(t, sb, "USD")
			req := payoutRequest{IdempotencyKey: "po-" + tc.account, Reference: "settle", Amount: 100000, Currency: "USD",
				Beneficiary: beneficiary{Name: "Acme Ltd", AccountNumber: tc.account, Country: "GB"}}
			var p payout
			wantStatus(t, call(t, sb, "POST", "/bank/payouts", req, &p), http.StatusCreated)
			if p.Status != "pending" || p.Fee != 500 {
				t.Fatalf("new payout = %+v", p)
			}
			if b := balanceOf(t, sb, "USD"); b.Available != before.Available-100500 || b.Pending != before.Pending+100000 {
				t.Fatalf("balance while pending = %+v (before %+v)", b, before)
			}
			clock.Advance(2 * time.Second)
			sb.RunDue(ctx)
			call(t, sb, "GET", "/bank/payouts/"+p.ID, nil, &p)
			if p.State != "pending" {
				t.Fatalf("state before the delay = %s", p.State)
			}
			clock.Advance(time.Second)
			sb.RunDue(ctx)
			call(t, sb, "GET", "/bank/payouts/"+p.ID, nil, &p)
			if p.State != tc.state || p.FailureCode != tc.failure {
				t.Fatalf("after the delay: %s %q, want %s %q", p.State, p.FailureCode, tc.state, tc.failure)
			}
			if b := balanceOf(t, sb, "USD"); b.Available != before.Available+tc.availableDelta || b.Pending != before.Pending {
				t.Fatalf("balance after = %+v (before %+v)", b, before)
			}
			var evs list[Event]
			call(t, sb, "GET", "/webhooks/events?type=bank.payout."+tc.state, nil, &evs)
			if len(evs.Data) == 0 || !strings.Contains(string(evs.Data[0].Data), p.ID) {
				t.Fatalf("no bank.payout.%s event for %s", tc.state, p.ID)
			}
		})
	}

	var res opResult
	req := payoutRequest{IdempotencyKey: "too-big", Amount: initialBalance("USD") * 2, Currency: "USD", Beneficiary: beneficiary{Name: "A", AccountNumber: "1"}}
	wantStatus(t, call(t, sb, "POST", "/bank/payouts", req, &res), http.StatusOK)
	if res.Status != "declined" || res.DeclineType != "soft" || res.DeclineCode != "insufficient_funds" {
		t.Fatalf("payout over the balance = %+v", res)
	}
}

func balanceOf(t *testing.T, sb *Server, currency string) balance {
	t.Helper()
	var bal balanceView
	call(t, sb, "GET", "/bank/balance?currency="+currency, nil, &bal)
	if len(bal.Balances) != 1 {
		t.Fatalf("balance %s: %+v", currency, bal)
	}
	return bal.Balances[0]
}

func TestAgreementSignDebitTerminate(t *testing.T) {
	sb := start(t, Config{})
	rc := newReceiver(t, 0)
	rc.register(sb, "whsec_dd", "bank")
	var a agreement
	req := agreementRequest{Reference: "sub_1", Currency: "EUR", MaxAmount: 5000, ReturnURL: "http://shop.example/dd",
		Payer: payerRequest{Name: "Grace Hopper", AccountNumber: "DE89370400440532013000"}}
	wantStatus(t, call(t, sb, "POST", "/bank/agreements", req, &a), http.StatusCreated)
	if a.Status != "action_required" || a.State != "pending" || a.Action == nil || a.Payer.AccountLast4 != "3000" {
		t.Fatalf("new agreement = %+v", a)
	}

	doDebit := func(key string, amount int64, currency string) debit {
		t.Helper()
		var d debit
		wantStatus(t, call(t, sb, "POST", "/bank/agreements/"+a.ID+"/debits",
			debitRequest{IdempotencyKey: key, Reference: "inv", Amount: amount, Currency: currency}, &d), http.StatusCreated)
		return d
	}
	if d := doDebit("d0", 100, "EUR"); d.Status != "declined" || d.DeclineCode != "agreement_not_active" {
		t.Fatalf("debit before signing = %+v", d)
	}

	resp, _ := click(t, a.Action.URL, url.Values{"action": {"approve"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "status=active") {
		t.Fatalf("sign: HTTP %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	got := rc.waitFor("bank.agreement.activated")
	if _, err := Verify("whsec_dd", got.header, got.body, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		key      string
		amount   int64
		currency string
		status   string
		code     string
	}{
		{"d1", 1999, "EUR", "approved", ""},
		{"d2", 5001, "EUR", "declined", "amount_exceeds_limit"},
		{"d3", 100, "USD", "declined", "currency_mismatch"},
	} {
		if d := doDebit(tc.key, tc.amount, tc.currency); d.Status != tc.status || d.DeclineCode != tc.code {
			t.Fatalf("debit %s = %s %s, want %s %s", tc.key, d.Status, d.DeclineCode, tc.status, tc.code)
		}
	}
	var replay debit
	resp = call(t, sb, "POST", "/bank/agreements/"+a.ID+"/debits", debitRequest{IdempotencyKey: "d1", Reference: "inv", Amount: 1999, Currency: "EUR"}, &replay)
	if resp.StatusCode != http.StatusOK || replay.Status != "approved" {
		t.Fatalf("debit replay: HTTP %d %+v", resp.StatusCode, replay)
	}

	var term struct {
		opResult
		Agreement agreement `json:"agreement"`
	}
	call(t, sb, "POST", "/bank/agreements/"+a.ID+"/terminate", struct{}{}, &term)
	if term.Status != "approved" || term.Agreement.State != "terminated" {
		t.Fatalf("terminate = %+v", term)
	}
	rc.waitFor("bank.agreement.terminated")
	if d := doDebit("d4", 100, "EUR"); d.DeclineCode != "agreement_not_active" {
		t.Fatalf("debit after termination = %+v", d)
	}
	var q agreement
	call(t, sb, "GET", "/bank/agreements/"+a.ID, nil, &q)
	if q.State != "terminated" || q.SignedAt == nil || q.TerminatedAt == nil || q.MandateID == "" {
		t.Fatalf("queried agreement = %+v", q)
	}
}

// TestClosingAVirtualAccountReturnsLaterTransfers: the merchant closes a
// virtual account that has received nothing; a transfer sent to it later is
// returned (nothing credited); an account that has received part of its
// amount cannot be closed.
func TestClosingAVirtualAccountReturnsLaterTransfers(t *testing.T) {
	sb := start(t, Config{})
	var va virtualAccount
	call(t, sb, "POST", "/bank/virtual-accounts", vaRequest{Reference: "pay_close", Currency: "EUR", ExpectedAmount: 2500}, &va)
	var res opResult
	wantStatus(t, call(t, sb, "POST", "/bank/virtual-accounts/"+va.ID+"/close", amountRequest{IdempotencyKey: "c1"}, &res), http.StatusOK)
	if res.Status != "approved" {
		t.Fatalf("close = %+v", res)
	}
	resp, _ := click(t, va.PayURL, url.Values{"amount": {"2500"}, "payer_name": {"Late"}})
	wantStatus(t, resp, http.StatusConflict)
	call(t, sb, "GET", "/bank/virtual-accounts/"+va.ID, nil, &va)
	if va.Status != "closed" || va.ReceivedAmount != 0 || len(va.Transfers) != 0 {
		t.Fatalf("after a late transfer: %+v", va)
	}
	if resp := call(t, sb, "POST", "/bank/virtual-accounts/"+va.ID+"/close", amountRequest{IdempotencyKey: "c1"}, &res); resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeated close was not a replay: %+v", res)
	}

	var part virtualAccount
	call(t, sb, "POST", "/bank/virtual-accounts", vaRequest{Reference: "pay_part", Currency: "EUR", ExpectedAmount: 2500}, &part)
	click(t, part.PayURL, url.Values{"amount": {"1000"}, "payer_name": {"Half"}})
	call(t, sb, "POST", "/bank/virtual-accounts/"+part.ID+"/close", amountRequest{IdempotencyKey: "c2"}, &res)
	if res.Status != "declined" || res.DeclineCode != "invalid_state" {
		t.Fatalf("close of a partly paid account = %+v", res)
	}
}
