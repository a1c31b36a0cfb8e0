package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestWalletAndBankTransferEndToEnd pays checkout sessions with the wallet
// plugin, both by redirect and by QR code, and with the bank plugin by
// transfer to a virtual account. Each confirm answers REQUIRES_ACTION with
// the next action; the buyer acts at the sandbox (approves on the wallet's
// page, sends the transfer); the channel's signed webhook reaches the
// payment through the connector and the inbox, and the payment SUCCEEDED,
// posted to the ledger once.
func TestWalletAndBankTransferEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"wallet", "bank"}})

		wallet := func(t *testing.T, flow string, minor int64) payView {
			t.Helper()
			s := x.open(t, map[string]any{"amount": amountOf(minor, "SGD"), "allowedMethods": []string{"WALLET"}})
			p := x.confirm(t, s, map[string]any{"method": "WALLET", "walletFlow": flow, "idempotencyKey": "wallet-" + flow + "-" + itoa(minor)})
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil || p.Connector != "wallet" {
				t.Fatalf("payment %+v", p)
			}
			if got := x.sessionStatus(t, s); got != "OPEN" {
				t.Fatalf("session %s while the buyer is at the wallet", got)
			}
			return p
		}
		paid := func(t *testing.T, id, connector string, minor int64) {
			t.Helper()
			p := x.waitStatus(t, id, "SUCCEEDED")
			if p.AmountCaptured.Amount != itoa(minor) || p.NextAction != nil || p.attempts()[0].Status != "CAPTURED" {
				t.Fatalf("paid: %+v", p)
			}
			if got := x.accountBalance(t, "CHANNEL", connector, "RECEIVABLE", "SGD"); got == "" || got[0] != '-' {
				t.Fatalf("%s receivable %q after its payment", connector, got)
			}
		}

		t.Run("wallet redirect", func(t *testing.T) {
			p := wallet(t, "REDIRECT", 8800)
			if p.NextAction.Type != "REDIRECT" || !strings.Contains(p.NextAction.URL, "/wallet/pay/wpay_") {
				t.Fatalf("next action %+v", p.NextAction)
			}
			buyer(t, p.NextAction.URL, url.Values{"action": {"approve"}})
			paid(t, p.ID, "wallet", 8800)
		})

		t.Run("wallet QR code", func(t *testing.T) {
			p := wallet(t, "QR", 6600)
			if p.NextAction.Type != "QR_CODE" || !strings.HasPrefix(p.NextAction.QRData, "sandboxwallet://pay?") {
				t.Fatalf("next action %+v", p.NextAction)
			}
			// The buyer's wallet app scans the code: it names the payment
			// whose page the app opens.
			qr, err := url.Parse(p.NextAction.QRData)
			if err != nil {
				t.Fatal(err)
			}
			buyer(t, x.sb.URL()+"/wallet/pay/"+qr.Query().Get("payment_id"), url.Values{"action": {"approve"}})
			paid(t, p.ID, "wallet", 6600)
		})

		t.Run("a merchant cancels a wallet payment the buyer has not paid", func(t *testing.T) {
			// The wallet payment is voided at the wallet through the
			// plugin, so the buyer who comes back to the wallet's page is
			// refused, and no money moves anywhere.
			p := wallet(t, "REDIRECT", 3300)
			page, att := p.NextAction.URL, x.payment(t, p.ID).attempts()[0]
			x.cancelWaiting(t, p.ID, "wallet-cancel-1")
			if at := walletPaymentsAt(t, x.sb.URL(), att.ID); len(at) != 1 || at[0].State != "voided" {
				t.Fatalf("the wallet holds %+v", at)
			}
			x.refusedAfterCancel(t, p.ID, func() int { return buyerAnswers(t, page, "approve") }, func() {
				if at := walletPaymentsAt(t, x.sb.URL(), att.ID); at[0].State != "voided" {
					t.Fatalf("after the late approval the wallet holds %+v", at)
				}
			})
		})

		t.Run("the wallet's buyer paid before the merchant canceled", func(t *testing.T) {
			p := wallet(t, "REDIRECT", 3400)
			buyer(t, p.NextAction.URL, url.Values{"action": {"approve"}})
			r := x.gql("API_KEY", cancelPayment, map[string]any{"in": map[string]any{"id": p.ID, "idempotencyKey": "wallet-cancel-2"}})
			if r.code() != "CONFLICT" {
				t.Fatalf("cancel after the buyer paid: %s", r.Raw)
			}
			paid(t, p.ID, "wallet", 3400)
			x.balanced(t)
		})

		t.Run("bank transfer to a virtual account", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(25000, "SGD"), "allowedMethods": []string{"BANK_TRANSFER"}})
			p := x.confirm(t, s, map[string]any{"method": "BANK_TRANSFER", "idempotencyKey": "transfer-1"})
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil || p.NextAction.Type != "BANK_TRANSFER" || p.Connector != "bank" {
				t.Fatalf("payment %+v", p)
			}
			in := p.NextAction.Instructions
			if in == nil || in.AccountNumber == "" || in.BankCode == "" || in.Reference == "" ||
				in.Amount.Amount != "25000" || in.Amount.Currency != "SGD" || p.NextAction.URL == "" {
				t.Fatalf("instructions %+v", p.NextAction)
			}
			// The buyer sends the transfer from their bank.
			buyer(t, p.NextAction.URL, url.Values{"amount": {"25000"}, "payer_name": {"Grace"}})
			paid(t, p.ID, "bank", 25000)
			if got := x.sessionStatus(t, s); got != "COMPLETE" {
				t.Fatalf("session %s", got)
			}
		})

		t.Run("a merchant cancels a bank transfer the buyer has not sent", func(t *testing.T) {
			// The virtual account is closed at the bank through the
			// plugin: a transfer sent to it later goes back to the payer.
			s := x.open(t, map[string]any{"amount": amountOf(12_000, "SGD"), "allowedMethods": []string{"BANK_TRANSFER"}})
			p := x.confirm(t, s, map[string]any{"method": "BANK_TRANSFER", "idempotencyKey": "transfer-cancel-1"})
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil {
				t.Fatalf("payment %+v", p)
			}
			x.cancelWaiting(t, p.ID, "cancel-transfer-1")
			x.refusedAfterCancel(t, p.ID, func() int { return buyerTransfers(t, p.NextAction.URL, "12000") }, nil)
		})

		t.Run("a partly paid bank transfer cannot be canceled", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(13_000, "SGD"), "allowedMethods": []string{"BANK_TRANSFER"}})
			p := x.confirm(t, s, map[string]any{"method": "BANK_TRANSFER", "idempotencyKey": "transfer-cancel-2"})
			if code := buyerTransfers(t, p.NextAction.URL, "5000"); code != http.StatusOK {
				t.Fatalf("partial transfer: HTTP %d", code)
			}
			r := x.gql("API_KEY", cancelPayment, map[string]any{"in": map[string]any{"id": p.ID, "idempotencyKey": "cancel-transfer-2"}})
			if r.code() != "CONFLICT" || !strings.Contains(r.Raw, "the channel refused the cancel") {
				t.Fatalf("cancel of a partly paid transfer: %s", r.Raw)
			}
			if got := x.payment(t, p.ID); got.Status != "REQUIRES_ACTION" {
				t.Fatalf("after the refused cancel: %+v", got)
			}
			// The rest arrives: only now is the payment paid, for the
			// whole amount (before, any transfer paid it in full).
			if code := buyerTransfers(t, p.NextAction.URL, "8000"); code != http.StatusOK {
				t.Fatalf("rest of the transfer: HTTP %d", code)
			}
			paid(t, p.ID, "bank", 13_000)
			x.balanced(t)
		})

		t.Run("a wallet cannot hold a manual-capture payment", func(t *testing.T) {
			// The wallet only sells (no preauth capability): routing finds
			// no connector for a payment that must only be authorized, and
			// refuses it before anything reaches a channel.
			before := x.counts(t)
			s := x.open(t, map[string]any{"amount": amountOf(4400, "SGD"), "allowedMethods": []string{"WALLET"},
				"captureMethod": "MANUAL"})
			r := x.gql(s.Cashier, confirmMutation, map[string]any{"in": map[string]any{
				"method": "WALLET", "walletFlow": "REDIRECT", "idempotencyKey": "wallet-manual"}})
			if r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Raw, "no connector takes wallet payments") {
				t.Fatalf("confirm: %s", r.Raw)
			}
			if after := x.counts(t); after != before {
				t.Fatalf("after the refusal: %+v, before %+v", after, before)
			}
			if got := x.sessionStatus(t, s); got != "OPEN" {
				t.Fatalf("session %s after the refusal", got)
			}
		})

		t.Run("a wallet payment risk sends to review is refused, not charged", func(t *testing.T) {
			x.ok(t, x.gql("OPERATOR", `mutation($in: RiskRuleInput!) { upsertRiskRule(input: $in) { key } }`,
				map[string]any{"in": map[string]any{"key": "aml-wallet", "kind": "aml_threshold", "action": "review",
					"enabled": true, "score": 60, "params": map[string]any{"currency": "SGD", "maxMinor": "50000"}}}),
				"upsertRiskRule", &struct{}{})
			s := x.open(t, map[string]any{"amount": amountOf(60_000, "SGD"), "allowedMethods": []string{"WALLET"}})
			p := x.confirm(t, s, map[string]any{"method": "WALLET", "walletFlow": "REDIRECT", "idempotencyKey": "wallet-review"})
			if p.Status != "REQUIRES_PAYMENT_METHOD" || p.FailureCode != "risk_review" || p.NextAction != nil {
				t.Fatalf("payment %+v", p)
			}
			att := x.payment(t, p.ID).attempts()
			if len(att) != 1 || att[0].Status != "DECLINED" || att[0].Connector != "" {
				t.Fatalf("attempts %+v", att)
			}
			if got := x.sessionStatus(t, s); got != "OPEN" {
				t.Fatalf("session %s after the refusal", got)
			}
		})

		x.balanced(t)
	})
}

// walletPayment is the sandbox wallet's view of a payment.
type walletPayment struct {
	ID, State, Status string
}

// walletPaymentsAt lists the sandbox wallet's payments for an attempt (its
// merchant reference).
func walletPaymentsAt(t *testing.T, base, attemptID string) []walletPayment {
	t.Helper()
	var list struct{ Data []walletPayment }
	channelGet(t, base, "/wallet/payments?merchant_reference="+url.QueryEscape(attemptID), &list)
	return list.Data
}

// buyerTransfers sends a transfer of amount (minor units) from the bank's
// transfer page and returns the page's HTTP status.
func buyerTransfers(t *testing.T, page, amount string) int {
	t.Helper()
	resp, err := http.PostForm(page, url.Values{"amount": {amount}, "payer_name": {"Grace"}})
	if err != nil {
		t.Fatalf("transfer page %s: %v", page, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
