package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAuthorizeOutcomeOfEachTestCard(t *testing.T) {
	sb := start(t, Config{Now: newFixedClock(day2).Now})
	cases := []struct {
		name, pan                           string
		status, state, declineType, decline string
		brand, threeDSFlow                  string
		expYear                             int
	}{
		{"visa approves", "4242424242424242", "approved", "authorized", "", "", "visa", "none", 0},
		{"mastercard approves", "5555555555554444", "approved", "authorized", "", "", "mastercard", "none", 0},
		{"mastercard 2-series approves", "2223003122003222", "approved", "authorized", "", "", "mastercard", "none", 0},
		{"unionpay approves", "6200000000000005", "approved", "authorized", "", "", "unionpay", "none", 0},
		{"jcb approves", "3566002020360505", "approved", "authorized", "", "", "jcb", "none", 0},
		{"amex approves", "378282246310005", "approved", "authorized", "", "", "amex", "none", 0},
		{"do not honor is hard", "4000000000000002", "declined", "declined", "hard", "do_not_honor", "visa", "none", 0},
		{"stolen card is hard", "4000000000000010", "declined", "declined", "hard", "stolen_card", "visa", "none", 0},
		{"invalid card is hard", "4000000000000028", "declined", "declined", "hard", "invalid_card", "visa", "none", 0},
		{"expired card is hard", "4000000000000036", "declined", "declined", "hard", "expired_card", "visa", "none", 0},
		{"insufficient funds is soft", "4000000000000044", "declined", "declined", "soft", "insufficient_funds", "visa", "none", 0},
		{"try again later is soft", "4000000000000051", "declined", "declined", "soft", "try_again_later", "visa", "none", 0},
		{"challenge needs action", "4000000000000069", "action_required", "requires_action", "", "", "visa", "challenge", 0},
		{"frictionless approves", "4000000000000077", "approved", "authorized", "", "", "visa", "frictionless", 0},
		{"chargeback card approves", "4000000000000093", "approved", "authorized", "", "", "visa", "none", 0},
		{"luhn failure is hard", "4242424242424241", "declined", "declined", "hard", "invalid_card_number", "visa", "none", 0},
		{"unknown brand is hard", "6011000000000004", "declined", "declined", "hard", "unsupported_card", "", "none", 0},
		{"past expiry is hard", "4242424242424242", "declined", "declined", "hard", "expired_card", "visa", "none", 2024},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := cardReq("k"+string(rune('a'+i)), tc.pan, 1050, "USD", false)
			if tc.expYear != 0 {
				req.Card.ExpYear = tc.expYear
			}
			var p cardPayment
			wantStatus(t, call(t, sb, "POST", "/card/payments", req, &p), http.StatusCreated)
			if p.Status != tc.status || p.State != tc.state || p.DeclineType != tc.declineType || p.DeclineCode != tc.decline {
				t.Errorf("got status=%s state=%s decline=%s/%s, want %s %s %s/%s",
					p.Status, p.State, p.DeclineType, p.DeclineCode, tc.status, tc.state, tc.declineType, tc.decline)
			}
			if p.Card.Brand != tc.brand || p.ThreeDS.Flow != tc.threeDSFlow {
				t.Errorf("got brand=%q 3ds=%q, want %q %q", p.Card.Brand, p.ThreeDS.Flow, tc.brand, tc.threeDSFlow)
			}
			if p.Card.Last4 != tc.pan[len(tc.pan)-4:] || p.Card.BIN != tc.pan[:6] {
				t.Errorf("card = %+v", p.Card)
			}
			if (tc.status == "action_required") != (p.Action != nil) {
				t.Errorf("action = %+v for status %s", p.Action, p.Status)
			}
		})
	}
}

func TestAuthorizeWithSameKeyNeverChargesTwice(t *testing.T) {
	sb := start(t, Config{})
	req := cardReq("same", "4242424242424242", 2000, "EUR", true)
	var first, again cardPayment
	wantStatus(t, call(t, sb, "POST", "/card/payments", req, &first), http.StatusCreated)
	resp := call(t, sb, "POST", "/card/payments", req, &again)
	wantStatus(t, resp, http.StatusOK)
	if resp.Header.Get("Idempotent-Replayed") != "true" || again.ID != first.ID || len(again.Captures) != 1 {
		t.Fatalf("replay = %s %+v, first %s", resp.Header.Get("Idempotent-Replayed"), again.ID, first.ID)
	}
	var found list[cardPayment]
	call(t, sb, "GET", "/card/payments?idempotency_key=same", nil, &found)
	if len(found.Data) != 1 {
		t.Fatalf("payments with key: %d, want 1", len(found.Data))
	}
	rep := sb.report(channelCard, time.Now().UTC().Truncate(24*time.Hour))
	if len(rep.Items) != 1 {
		t.Fatalf("settlement items: %d, want 1 capture", len(rep.Items))
	}

	req.Amount = 2001
	var e errorBody
	wantStatus(t, call(t, sb, "POST", "/card/payments", req, &e), http.StatusConflict)
	if e.Error.Code != "idempotency_conflict" {
		t.Fatalf("error = %+v", e)
	}
}

func TestTimeoutCardIsApprovedButAnswersLate(t *testing.T) {
	sb := start(t, Config{TimeoutHold: 30 * time.Second})
	body, _ := json.Marshal(cardReq("slow", "4000000000000085", 500, "USD", false))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", sb.URL()+"/card/payments", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("authorize with the timeout card: err = %v, want a deadline", err)
	}

	var found list[cardPayment]
	call(t, sb, "GET", "/card/payments?idempotency_key=slow", nil, &found)
	if len(found.Data) != 1 || found.Data[0].Status != "approved" {
		t.Fatalf("query after timeout = %+v, want one approved payment", found.Data)
	}
	start := time.Now()
	var again cardPayment
	wantStatus(t, call(t, sb, "POST", "/card/payments", cardReq("slow", "4000000000000085", 500, "USD", false), &again), http.StatusOK)
	if again.ID != found.Data[0].ID || time.Since(start) > 5*time.Second {
		t.Fatalf("idempotent repeat = %s after %v", again.ID, time.Since(start))
	}
}

func TestChallengeApprovalSendsSignedWebhook(t *testing.T) {
	sb := start(t, Config{})
	rc := newReceiver(t, 0)
	rc.register(sb, "whsec_test", "card")

	req := cardReq("3ds", "4000000000000069", 4200, "GBP", true)
	req.ReturnURL = "http://shop.example/return?order=42"
	var p cardPayment
	wantStatus(t, call(t, sb, "POST", "/card/payments", req, &p), http.StatusCreated)
	if p.Action == nil || p.Action.Type != "three_ds_challenge" {
		t.Fatalf("action = %+v", p.Action)
	}
	code, html := getPage(t, p.Action.URL)
	if code != http.StatusOK || !strings.Contains(html, `value="approve"`) || !strings.Contains(html, "GBP 42.00") {
		t.Fatalf("challenge page %d:\n%s", code, html)
	}

	resp, _ := click(t, p.Action.URL, url.Values{"action": {"approve"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: HTTP %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Host != "shop.example" || loc.Query().Get("payment_id") != p.ID || loc.Query().Get("status") != "approved" || loc.Query().Get("order") != "42" {
		t.Fatalf("redirect to %s", loc)
	}

	got := rc.waitFor("card.payment.authorized")
	id, err := Verify("whsec_test", got.header, got.body, time.Now(), 5*time.Minute)
	if err != nil || id != got.event.ID {
		t.Fatalf("verify: id %q, err %v", id, err)
	}
	var data cardPayment
	if err := json.Unmarshal(got.event.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.ID != p.ID || data.Status != "approved" || data.State != "captured" || data.ThreeDS.Result != "authenticated" {
		t.Fatalf("webhook data = %+v", data)
	}
	if resp, _ := click(t, p.Action.URL, url.Values{"action": {"fail"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second answer: HTTP %d, want 409", resp.StatusCode)
	}
}

func TestChallengeFailureDeclinesHard(t *testing.T) {
	sb := start(t, Config{})
	rc := newReceiver(t, 0)
	rc.register(sb, "whsec_x")
	var p cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("3ds-fail", "4000000000000069", 100, "USD", false), &p)
	resp, html := click(t, p.Action.URL, url.Values{"action": {"fail"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, "declined") {
		t.Fatalf("fail without return_url: HTTP %d\n%s", resp.StatusCode, html)
	}
	got := rc.waitFor("card.payment.declined")
	var data cardPayment
	json.Unmarshal(got.event.Data, &data)
	if data.DeclineType != "hard" || data.DeclineCode != "authentication_failed" {
		t.Fatalf("webhook data = %+v", data)
	}
}

func TestCaptureVoidAndRefunds(t *testing.T) {
	sb := start(t, Config{})
	var p cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("ops", "5555555555554444", 1000, "USD", false), &p)

	steps := []struct {
		name, op   string
		body       amountRequest
		status     string
		code       string
		wantState  string
		wantAmount int64
	}{
		{"over-capture is refused", "capture", amountRequest{Amount: 1001}, "declined", "amount_exceeds_authorized", "authorized", 0},
		{"refund before capture is refused", "refunds", amountRequest{Amount: 1}, "declined", "invalid_state", "authorized", 0},
		{"partial capture", "capture", amountRequest{Amount: 800, IdempotencyKey: "c1"}, "approved", "", "captured", 800},
		{"capture replays by key", "capture", amountRequest{Amount: 800, IdempotencyKey: "c1"}, "approved", "", "captured", 800},
		{"second capture is refused", "capture", amountRequest{}, "declined", "invalid_state", "captured", 0},
		{"void after capture is refused", "void", amountRequest{}, "declined", "invalid_state", "captured", 0},
		{"first partial refund", "refunds", amountRequest{Amount: 300, IdempotencyKey: "r1"}, "approved", "", "partially_refunded", 300},
		{"refund replays by key", "refunds", amountRequest{Amount: 300, IdempotencyKey: "r1"}, "approved", "", "partially_refunded", 300},
		{"second partial refund", "refunds", amountRequest{Amount: 200, IdempotencyKey: "r2"}, "approved", "", "partially_refunded", 200},
		{"over-refund is refused", "refunds", amountRequest{Amount: 301}, "declined", "amount_exceeds_refundable", "partially_refunded", 0},
		{"refund of the rest", "refunds", amountRequest{}, "approved", "", "refunded", 300},
	}
	for _, st := range steps {
		var res struct {
			opResult
			Payment cardPayment `json:"payment"`
		}
		wantStatus(t, call(t, sb, "POST", "/card/payments/"+p.ID+"/"+st.op, st.body, &res), http.StatusOK)
		if res.Status != st.status || res.DeclineCode != st.code || res.Payment.State != st.wantState || res.Amount != st.wantAmount {
			t.Fatalf("%s: got %s %s state=%s amount=%d", st.name, res.Status, res.DeclineCode, res.Payment.State, res.Amount)
		}
	}
	var final cardPayment
	call(t, sb, "GET", "/card/payments/"+p.ID, nil, &final)
	if final.CapturedAmount != 800 || final.RefundedAmount != 800 || len(final.Refunds) != 3 || len(final.Captures) != 1 {
		t.Fatalf("final payment = %+v", final)
	}

	var v cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("to-void", "4242424242424242", 1000, "USD", false), &v)
	var res struct {
		opResult
		Payment cardPayment `json:"payment"`
	}
	call(t, sb, "POST", "/card/payments/"+v.ID+"/void", nil, &res)
	if res.Status != "approved" || res.Payment.State != "voided" {
		t.Fatalf("void = %+v", res)
	}
}

func TestChargebackArrivesAfterCaptureDelay(t *testing.T) {
	clock := newFixedClock(day2)
	sb := start(t, Config{Now: clock.Now, TickInterval: -1, ChargebackDelay: 2 * time.Second})
	var p cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("cb", "4000000000000093", 1050, "USD", false), &p)
	call(t, sb, "POST", "/card/payments/"+p.ID+"/capture", nil, nil)

	ctx := context.Background()
	clock.Advance(time.Second)
	sb.RunDue(ctx)
	call(t, sb, "GET", "/card/payments/"+p.ID, nil, &p)
	if p.State != "captured" {
		t.Fatalf("state before the delay = %s", p.State)
	}
	clock.Advance(time.Second)
	sb.RunDue(ctx)
	call(t, sb, "GET", "/card/payments/"+p.ID, nil, &p)
	if p.State != "charged_back" || len(p.Chargebacks) != 1 || p.Chargebacks[0].Amount != 1050 {
		t.Fatalf("after the delay: state %s, chargebacks %+v", p.State, p.Chargebacks)
	}
	var evs list[Event]
	call(t, sb, "GET", "/webhooks/events?type=card.dispute.created", nil, &evs)
	if len(evs.Data) != 1 {
		t.Fatalf("chargeback events = %d", len(evs.Data))
	}
	if err := sb.TriggerChargeback(p.ID); err == nil {
		t.Fatal("a second chargeback on a charged-back payment was accepted")
	}
}

func TestBINLookup(t *testing.T) {
	sb := start(t, Config{})
	for bin, brand := range map[string]string{"424242": "visa", "222100": "mastercard", "272099": "mastercard", "352800": "jcb", "340000": "amex", "620000": "unionpay"} {
		var got map[string]string
		wantStatus(t, call(t, sb, "GET", "/card/bins/"+bin, nil, &got), http.StatusOK)
		if got["brand"] != brand {
			t.Errorf("bin %s: brand %q, want %q", bin, got["brand"], brand)
		}
	}
	wantStatus(t, call(t, sb, "GET", "/card/bins/272100", nil, nil), http.StatusNotFound)
}

// TestRequestedThreeDSOverridesTheCard: a merchant's three_ds "challenge"
// sends a frictionless card (and an ordinary one) to the challenge page,
// "any" authenticates an ordinary card frictionless, and the request is
// part of the idempotency key's parameters.
func TestRequestedThreeDSOverridesTheCard(t *testing.T) {
	sb := start(t, Config{})
	cases := []struct {
		pan, ask, status, flow string
	}{
		{"4000000000000077", "challenge", "action_required", "challenge"},
		{"4242424242424242", "challenge", "action_required", "challenge"},
		{"4242424242424242", "any", "approved", "frictionless"},
		{"4000000000000077", "automatic", "approved", "frictionless"},
		{"4000000000000002", "challenge", "declined", "none"}, // the issuer declines first
	}
	for i, c := range cases {
		req := cardReq("ask-"+strconv.Itoa(i), c.pan, 1000, "USD", true)
		req.ThreeDS = c.ask
		var p cardPayment
		wantStatus(t, call(t, sb, "POST", "/card/payments", req, &p), http.StatusCreated)
		if p.Status != c.status || p.ThreeDS.Flow != c.flow || p.ThreeDS.Requested != c.ask {
			t.Errorf("%s asking %s: status %s, 3-DS %+v", c.pan, c.ask, p.Status, p.ThreeDS)
		}
	}
	req := cardReq("ask-0", "4000000000000077", 1000, "USD", true) // the first case's key, automatic
	wantStatus(t, call(t, sb, "POST", "/card/payments", req, nil), http.StatusConflict)
	req.ThreeDS, req.IdempotencyKey = "sometimes", "ask-bad"
	wantStatus(t, call(t, sb, "POST", "/card/payments", req, nil), http.StatusBadRequest)
}

// TestVoidCancelsAPendingChallenge: a payment waiting for its challenge is
// voided (nothing authorized, nothing captured), the buyer's answer is then
// refused, and a payment whose buyer answered first cannot be voided.
func TestVoidCancelsAPendingChallenge(t *testing.T) {
	sb := start(t, Config{})
	type opAnswer struct {
		opResult
		Payment cardPayment `json:"payment"`
	}
	var p cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("3ds-void", "4000000000000069", 1000, "USD", true), &p)
	var res opAnswer
	call(t, sb, "POST", "/card/payments/"+p.ID+"/void", map[string]any{"idempotency_key": "v1"}, &res)
	if res.Status != "approved" || res.Payment.State != "voided" || res.Payment.Status != "declined" ||
		res.Payment.DeclineCode != "canceled" || res.Payment.Action != nil || res.Payment.CapturedAmount != 0 {
		t.Fatalf("void of a pending challenge = %+v", res)
	}
	resp, html := click(t, p.Action.URL, url.Values{"action": {"approve"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(html, "canceled") {
		t.Fatalf("the buyer approved after the void: HTTP %d\n%s", resp.StatusCode, html)
	}
	var after cardPayment
	call(t, sb, "GET", "/card/payments/"+p.ID, nil, &after)
	if after.State != "voided" || after.CapturedAmount != 0 {
		t.Fatalf("after the late approval: %+v", after)
	}
	var replay opAnswer
	if r := call(t, sb, "POST", "/card/payments/"+p.ID+"/void", map[string]any{"idempotency_key": "v1"}, &replay); replay.Status != "approved" || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed void = %+v", replay)
	}

	var q cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("3ds-first", "4000000000000069", 1000, "USD", true), &q)
	click(t, q.Action.URL, url.Values{"action": {"approve"}})
	var late opAnswer
	call(t, sb, "POST", "/card/payments/"+q.ID+"/void", map[string]any{"idempotency_key": "v2"}, &late)
	if late.Status != "declined" || late.DeclineCode != "invalid_state" || late.Payment.State != "captured" {
		t.Fatalf("void after the buyer finished = %+v", late)
	}
}
