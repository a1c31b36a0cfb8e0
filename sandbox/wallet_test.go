package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestWalletBuyerApprovalFlow(t *testing.T) {
	cases := []struct {
		name, action, event, state, host string
	}{
		{"approve", "approve", "wallet.payment.succeeded", "succeeded", "shop.example"},
		{"cancel", "cancel", "wallet.payment.canceled", "canceled", "cancel.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb := start(t, Config{})
			rc := newReceiver(t, 0)
			rc.register(sb, "whsec_w", "wallet")
			req := walletRequest{IdempotencyKey: "w-" + tc.name, MerchantReference: "pay_w", Amount: 8800, Currency: "CNY",
				Description: "Order 42", ReturnURL: "http://shop.example/return", CancelURL: "http://cancel.example/c"}
			var p walletPayment
			wantStatus(t, call(t, sb, "POST", "/wallet/payments", req, &p), http.StatusCreated)
			if p.Status != "action_required" || p.Action == nil || !strings.HasSuffix(p.QRCode, p.ID) {
				t.Fatalf("new wallet payment = %+v", p)
			}
			if code, html := getPage(t, p.Action.URL); code != http.StatusOK || !strings.Contains(html, "CNY 88.00") {
				t.Fatalf("wallet page %d:\n%s", code, html)
			}
			resp, _ := click(t, p.Action.URL, url.Values{"action": {tc.action}})
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc.Host != tc.host || loc.Query().Get("status") != tc.state {
				t.Fatalf("%s: HTTP %d to %s", tc.action, resp.StatusCode, loc)
			}
			got := rc.waitFor(tc.event)
			if _, err := Verify("whsec_w", got.header, got.body, time.Now(), time.Minute); err != nil {
				t.Fatal(err)
			}
			var data walletPayment
			json.Unmarshal(got.event.Data, &data)
			if data.ID != p.ID || data.State != tc.state {
				t.Fatalf("webhook data = %+v", data)
			}
		})
	}
}

func TestWalletRefunds(t *testing.T) {
	sb := start(t, Config{})
	var p walletPayment
	call(t, sb, "POST", "/wallet/payments", walletRequest{IdempotencyKey: "wr", MerchantReference: "pay_wr", Amount: 1000,
		Currency: "JPY", ReturnURL: "http://shop.example/r"}, &p)
	var res opResult
	call(t, sb, "POST", "/wallet/payments/"+p.ID+"/refunds", amountRequest{Amount: 100}, &res)
	if res.Status != "declined" || res.DeclineCode != "invalid_state" {
		t.Fatalf("refund before payment = %+v", res)
	}
	click(t, p.Action.URL, url.Values{"action": {"approve"}})
	for _, step := range []struct {
		amount int64
		status string
		code   string
	}{{400, "approved", ""}, {700, "declined", "amount_exceeds_refundable"}, {0, "approved", ""}} {
		var r struct {
			opResult
			Payment walletPayment `json:"payment"`
		}
		call(t, sb, "POST", "/wallet/payments/"+p.ID+"/refunds", amountRequest{Amount: step.amount}, &r)
		if r.Status != step.status || r.DeclineCode != step.code {
			t.Fatalf("refund %d = %+v", step.amount, r.opResult)
		}
	}
	var found list[walletPayment]
	call(t, sb, "GET", "/wallet/payments?merchant_reference=pay_wr", nil, &found)
	if len(found.Data) != 1 || found.Data[0].State != "refunded" || found.Data[0].RefundedAmount != 1000 {
		t.Fatalf("after refunds = %+v", found.Data)
	}
}

// TestWalletVoidBeforeTheBuyerAnswers: the merchant cancels a pending wallet
// payment; the wallet page then refuses the buyer, a repeat of the void
// with the same key is a replay, and a payment the buyer already approved
// cannot be voided.
func TestWalletVoidBeforeTheBuyerAnswers(t *testing.T) {
	sb := start(t, Config{})
	var p walletPayment
	call(t, sb, "POST", "/wallet/payments", walletRequest{IdempotencyKey: "wv", MerchantReference: "pay_wv", Amount: 1200,
		Currency: "SGD", ReturnURL: "http://shop.example/r"}, &p)
	var res opResult
	wantStatus(t, call(t, sb, "POST", "/wallet/payments/"+p.ID+"/void", amountRequest{IdempotencyKey: "v1"}, &res), http.StatusOK)
	if res.Status != "approved" || res.Payment == nil {
		t.Fatalf("void = %+v", res)
	}
	var got walletPayment
	call(t, sb, "GET", "/wallet/payments/"+p.ID, nil, &got)
	if got.State != "voided" || got.Status != "declined" || got.DeclineCode != "canceled" || got.Action != nil {
		t.Fatalf("after the void: %+v", got)
	}
	if resp, _ := click(t, p.Action.URL, url.Values{"action": {"approve"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("the buyer approved a voided payment: HTTP %d", resp.StatusCode)
	}
	call(t, sb, "GET", "/wallet/payments/"+p.ID, nil, &got)
	if got.State != "voided" || got.PaidAt != nil {
		t.Fatalf("after the late approval: %+v", got)
	}
	resp := call(t, sb, "POST", "/wallet/payments/"+p.ID+"/void", amountRequest{IdempotencyKey: "v1"}, &res)
	if resp.Header.Get("Idempotent-Replayed") != "true" || res.Status != "approved" {
		t.Fatalf("repeated void = %+v (%v)", res, resp.Header)
	}

	var paid walletPayment
	call(t, sb, "POST", "/wallet/payments", walletRequest{IdempotencyKey: "wv2", MerchantReference: "pay_wv2", Amount: 1300,
		Currency: "SGD", ReturnURL: "http://shop.example/r"}, &paid)
	click(t, paid.Action.URL, url.Values{"action": {"approve"}})
	call(t, sb, "POST", "/wallet/payments/"+paid.ID+"/void", amountRequest{IdempotencyKey: "v2"}, &res)
	if res.Status != "declined" || res.DeclineCode != "invalid_state" {
		t.Fatalf("void after the buyer paid = %+v", res)
	}
	wantStatus(t, call(t, sb, "POST", "/wallet/payments/"+paid.ID+"/void", amountRequest{Amount: 5, IdempotencyKey: "v3"}, nil), http.StatusBadRequest)
}
