package plugins_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/plugins/sandboxapi"
	"github.com/straitpay/strait/sandbox"
)

// TestSandboxCountsInISO4217: the exponents the reference connectors
// assume for the sandbox are the sandbox's own, for every currency they
// declare.
func TestSandboxCountsInISO4217(t *testing.T) {
	want := sandbox.Exponents()
	if len(want) != len(sandboxapi.Currencies) {
		t.Fatalf("the connectors declare %d currencies, the sandbox has %d", len(sandboxapi.Currencies), len(want))
	}
	for _, c := range sandboxapi.Currencies {
		if e, ok := sandboxapi.Exponent(c); !ok || e != want[c] {
			t.Errorf("%s: connectors assume %d (%t), the sandbox counts %d", c, e, ok, want[c])
		}
	}
}

// networkPayment is what the sandbox holds, as its API shows it.
type networkPayment struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	Amount         int64  `json:"amount"`
	CapturedAmount int64  `json:"captured_amount"`
	ThreeDS        struct {
		Requested, Flow, Result string
	} `json:"three_ds"`
}

func networkPayments(t *testing.T, sb *sandbox.Server, ref string) []networkPayment {
	t.Helper()
	var list struct{ Data []networkPayment }
	sandboxGet(t, sb, "/card/payments?merchant_reference="+url.QueryEscape(ref), &list)
	return list.Data
}

// TestCardnetConvertsIDRBothWays sends an IDR amount above 2^31 through
// the real cardnet process: Strait states whole rupiah, the network is
// asked for the same value in hundredths, every answer comes back in whole
// rupiah, and the settlement report keeps its fractional fee in the
// network's unit, stated, rather than round it. An amount with no exact
// form at the network is refused before anything is sent.
func TestCardnetConvertsIDRBothWays(t *testing.T) {
	s := startStrait(t, 10*time.Second, "cardnet")
	sb := s.Sandbox
	c, _ := s.Host.Get("cardnet")
	ctx := context.Background()
	amount := connectors.NewMoney(5_000_000_000, "IDR") // five billion rupiah, exponent 0
	card := &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2031, CVC: "123"}
	resp, err := c.Authorize(ctx, connectors.AuthorizeRequest{IdempotencyKey: "att-idr", Reference: "pay-idr",
		Amount: amount, Capture: true, PaymentMethod: "card", Card: card})
	if err != nil || resp.Result.Outcome != connectors.OutcomeApproved || resp.Amount != amount {
		t.Fatalf("authorize: %+v, %v", resp, err)
	}
	at := networkPayments(t, sb, "pay-idr")
	if len(at) != 1 || at[0].Amount != 500_000_000_000 || at[0].CapturedAmount != 500_000_000_000 {
		t.Fatalf("the network holds %+v, want 500000000000 hundredths", at)
	}
	st, err := c.QueryPayment(ctx, connectors.QueryPaymentRequest{PaymentID: resp.PaymentID})
	if err != nil || st.Amount != amount || st.Captured != amount {
		t.Fatalf("query: %+v, %v", st, err)
	}
	refund, err := c.Refund(ctx, connectors.RefundRequest{IdempotencyKey: "ref-idr", Reference: "ref-idr",
		PaymentID: resp.PaymentID, Amount: connectors.NewMoney(1_000_000_000, "IDR")})
	if err != nil || refund.Result.Outcome != connectors.OutcomeApproved || refund.Amount != connectors.NewMoney(1_000_000_000, "IDR") {
		t.Fatalf("refund: %+v, %v", refund, err)
	}
	rep, err := c.FetchSettlementReport(ctx, connectors.SettlementReportRequest{Date: time.Now().UTC().Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	var capture *connectors.SettlementLine
	for i, l := range rep.Lines {
		if l.Reference == "pay-idr" && l.Type == "capture" {
			capture = &rep.Lines[i]
		}
	}
	// 2.9 % of 500,000,000,000 hundredths plus 0.30 IDR: 14,500,000,030
	// hundredths, which whole rupiah cannot carry.
	hundredths := func(n int64) connectors.Money {
		return connectors.Money{Minor: n, Currency: "IDR", Exponent: connectors.Exp(2)}
	}
	if capture == nil || capture.Gross != hundredths(500_000_000_000) || capture.Fee != hundredths(14_500_000_030) ||
		capture.Net != hundredths(485_499_999_970) {
		t.Fatalf("capture line %+v in %+v", capture, rep.Lines)
	}

	// 150 thousandths of a dollar is 15 cents and a half: nothing to send.
	_, err = c.Authorize(ctx, connectors.AuthorizeRequest{IdempotencyKey: "att-mills", Reference: "pay-mills",
		Amount: connectors.Money{Minor: 155, Currency: "USD", Exponent: connectors.Exp(3)}, Capture: true, PaymentMethod: "card", Card: card})
	if connectors.ErrorCode(err) != connectors.EINVALID {
		t.Fatalf("an amount with no exact form at the network: %v", err)
	}
	if at := networkPayments(t, sb, "pay-mills"); len(at) != 0 {
		t.Fatalf("the network was asked anyway: %+v", at)
	}
}

// TestCardnetHonoursThreeDSAndCancelsAPendingChallenge: the typed 3-D
// Secure request reaches the network (a frictionless card is challenged),
// and a void of the waiting payment cancels it there: the buyer's late
// approval is refused and QueryPayment reports it voided.
func TestCardnetHonoursThreeDSAndCancelsAPendingChallenge(t *testing.T) {
	s := startStrait(t, 10*time.Second, "cardnet")
	sb := s.Sandbox
	c, _ := s.Host.Get("cardnet")
	ctx := context.Background()
	resp, err := c.Authorize(ctx, connectors.AuthorizeRequest{IdempotencyKey: "att-ch", Reference: "pay-ch",
		Amount: connectors.NewMoney(1050, "USD"), Capture: true, PaymentMethod: "card", ThreeDS: connectors.ThreeDSChallenge,
		Card: &connectors.Card{Number: "4000000000000077", ExpMonth: 12, ExpYear: 2031, CVC: "123"}})
	if err != nil || resp.Result.Outcome != connectors.OutcomeActionRequired || resp.NextAction == nil ||
		resp.NextAction.Type != connectors.ActionThreeDSChallenge {
		t.Fatalf("authorize with a challenge asked: %+v, %v", resp, err)
	}
	if at := networkPayments(t, sb, "pay-ch"); len(at) != 1 || at[0].ThreeDS.Requested != "challenge" || at[0].ThreeDS.Flow != "challenge" {
		t.Fatalf("the network holds %+v", at)
	}
	v, err := c.Void(ctx, connectors.VoidRequest{IdempotencyKey: "cancel-ch", Reference: "pay-ch", PaymentID: resp.PaymentID})
	if err != nil || v.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("void of the waiting payment: %+v, %v", v, err)
	}
	if code := buyerAnswers(t, resp.NextAction.URL, "approve"); code != 409 {
		t.Fatalf("the buyer's approval after the void: HTTP %d, want 409", code)
	}
	st, err := c.QueryPayment(ctx, connectors.QueryPaymentRequest{Reference: "pay-ch"})
	if err != nil || !st.Voided || st.Result.Outcome != connectors.OutcomeDeclined || st.Result.Code != "canceled" || st.Captured.Minor != 0 {
		t.Fatalf("query after the void: %+v, %v", st, err)
	}
}

// sandboxGet GETs a sandbox API path into out.
func sandboxGet(t *testing.T, sb *sandbox.Server, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, sb.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// buyerAnswers posts the buyer's answer on a challenge page and returns
// the HTTP status, without following the redirect back to the shop.
func buyerAnswers(t *testing.T, page, action string) int {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(page, url.Values{"action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
