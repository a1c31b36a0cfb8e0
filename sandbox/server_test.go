package sandbox

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSettlementReportSumsFees(t *testing.T) {
	clock := newFixedClock(day2)
	sb := start(t, Config{Now: clock.Now})
	var usd, jpy cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("s1", "4242424242424242", 1050, "USD", true), &usd)
	call(t, sb, "POST", "/card/payments/"+usd.ID+"/refunds", amountRequest{Amount: 300}, nil)
	call(t, sb, "POST", "/card/payments", cardReq("s2", "3566002020360505", 1000, "JPY", true), &jpy)
	var declined cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("s3", "4000000000000002", 999, "USD", true), &declined)
	clock.Advance(24 * time.Hour)
	call(t, sb, "POST", "/card/payments", cardReq("s4", "4242424242424242", 5000, "USD", true), nil)

	var rep settlementReport
	wantStatus(t, call(t, sb, "GET", "/card/settlements?date=2025-01-02", nil, &rep), http.StatusOK)
	want := []settlementTotal{
		// 1000 × 2.9 % = 29; no fixed fee in JPY.
		{Currency: "JPY", Count: 1, Gross: 1000, Fee: 29, Net: 971},
		// 1050 × 2.9 % = 30.45 → 30, plus 30; the refund carries no fee.
		{Currency: "USD", Count: 2, Gross: 750, Fee: 60, Net: 690},
	}
	if len(rep.Items) != 3 || len(rep.Totals) != 2 || rep.Totals[0] != want[0] || rep.Totals[1] != want[1] {
		t.Fatalf("report totals = %+v (items %d), want %+v", rep.Totals, len(rep.Items), want)
	}
	for _, it := range rep.Items {
		if it.Net != it.Gross-it.Fee {
			t.Errorf("item %s: net %d ≠ gross %d − fee %d", it.ID, it.Net, it.Gross, it.Fee)
		}
	}

	resp, err := http.NewRequest("GET", sb.URL()+"/card/settlements?date=2025-01-02&format=csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	r, err := http.DefaultClient.Do(resp)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	rows, err := csv.NewReader(r.Body).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][6] != "gross" {
		t.Fatalf("csv: %v rows %v", err, rows)
	}

	call(t, sb, "GET", "/card/settlements?date=2025-01-03", nil, &rep)
	if len(rep.Items) != 1 || rep.Totals[0].Gross != 5000 {
		t.Fatalf("next day = %+v", rep)
	}
	wantStatus(t, call(t, sb, "GET", "/card/settlements?date=yesterday", nil, nil), http.StatusBadRequest)
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	sb, err := Start(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var p cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("persist", "4242424242424242", 700, "SGD", true), &p)
	call(t, sb, "POST", "/card/payments/"+p.ID+"/refunds", amountRequest{Amount: 100, IdempotencyKey: "pr"}, nil)
	var va virtualAccount
	call(t, sb, "POST", "/bank/virtual-accounts", vaRequest{Reference: "pay_persist", Currency: "SGD"}, &va)
	click(t, va.PayURL, url.Values{"amount": {"900"}})
	secret, err := sb.RegisterWebhook("http://127.0.0.1:1/hook", "")
	if err != nil {
		t.Fatal(err)
	}
	balance := balanceOf(t, sb, "SGD")
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}

	sb = start(t, Config{DataDir: dir})
	var got cardPayment
	wantStatus(t, call(t, sb, "GET", "/card/payments/"+p.ID, nil, &got), http.StatusOK)
	if got.RefundedAmount != 100 || got.State != "partially_refunded" || got.Card.Fingerprint != p.Card.Fingerprint {
		t.Fatalf("payment after restart = %+v", got)
	}
	var again cardPayment
	wantStatus(t, call(t, sb, "POST", "/card/payments", cardReq("persist", "4242424242424242", 700, "SGD", true), &again), http.StatusOK)
	var res opResult
	resp := call(t, sb, "POST", "/card/payments/"+p.ID+"/refunds", amountRequest{Amount: 100, IdempotencyKey: "pr"}, &res)
	if again.ID != p.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("idempotency lost across restart: %s vs %s, replayed=%q", again.ID, p.ID, resp.Header.Get("Idempotent-Replayed"))
	}
	if b := balanceOf(t, sb, "SGD"); b != balance {
		t.Fatalf("balance after restart = %+v, want %+v", b, balance)
	}
	call(t, sb, "GET", "/bank/virtual-accounts/"+va.ID, nil, &va)
	if va.ReceivedAmount != 900 {
		t.Fatalf("virtual account after restart = %+v", va)
	}
	var eps list[endpoint]
	call(t, sb, "GET", "/webhooks/endpoints", nil, &eps)
	if len(eps.Data) != 1 || eps.Data[0].Secret != secret {
		t.Fatalf("endpoints after restart = %+v", eps.Data)
	}
	if evs := sb.Events(); len(evs) != 1 || evs[0].Type != "bank.transfer.received" || len(evs[0].Deliveries) != 1 {
		t.Fatalf("events after restart = %+v", evs)
	}
}

func TestAPIRefusesMissingOrWrongKey(t *testing.T) {
	sb := start(t, Config{APIKeys: []string{"sk_one", "sk_two"}})
	paths := []struct{ method, path string }{
		{"POST", "/card/payments"}, {"GET", "/card/payments/cpay_x"}, {"GET", "/card/settlements?date=2025-01-02"},
		{"POST", "/bank/payouts"}, {"GET", "/bank/balance"}, {"POST", "/wallet/payments"},
		{"GET", "/fx/rates"}, {"POST", "/webhooks/endpoints"}, {"GET", "/webhooks/events"},
	}
	for _, key := range []string{"", "sk_wrong", "sk_one2"} {
		for _, p := range paths {
			var e errorBody
			resp := callKey(t, sb, key, p.method, p.path, map[string]any{}, &e)
			if resp.StatusCode != http.StatusUnauthorized || e.Error.Code != "unauthorized" {
				t.Errorf("%s %s with key %q: HTTP %d %+v, want 401", p.method, p.path, key, resp.StatusCode, e)
			}
		}
	}
	wantStatus(t, callKey(t, sb, "sk_two", "GET", "/fx/rates", nil, nil), http.StatusOK)
	if code, _ := getPage(t, sb.URL()+"/wallet/pay/wpay_missing"); code != http.StatusNotFound {
		t.Errorf("buyer page without key: HTTP %d, want 404 (not 401)", code)
	}
}

func TestWebhookIsRetriedUntilDelivered(t *testing.T) {
	sb := start(t, Config{WebhookRetryBase: 10 * time.Millisecond, WebhookRetryMax: 40 * time.Millisecond, TickInterval: 5 * time.Millisecond})
	// Raised before any endpoint exists: kept, then sent to the first one.
	var p walletPayment
	call(t, sb, "POST", "/wallet/payments", walletRequest{IdempotencyKey: "early", MerchantReference: "r", Amount: 100, Currency: "USD", ReturnURL: "http://x.example/"}, &p)
	click(t, p.Action.URL, url.Values{"action": {"approve"}})

	rc := newReceiver(t, 3)
	rc.register(sb, "whsec_retry")
	got := rc.waitFor("wallet.payment.succeeded")
	if _, err := Verify("whsec_retry", got.header, got.body, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	// The receiver sees the body before the sandbox records the answer.
	evs := waitDelivered(t, sb)
	if len(evs) != 1 || evs[0].ID != got.event.ID {
		t.Fatalf("events = %+v, delivered %s", evs, got.event.ID)
	}
	d := evs[0].Deliveries
	if len(d) != 1 || d[0].Status != "delivered" || d[0].Attempts != 4 {
		t.Fatalf("deliveries = %+v, want delivered on the 4th attempt", d)
	}

	// A redelivery is a duplicate with the same id, for receivers to drop.
	wantStatus(t, call(t, sb, "POST", "/webhooks/events/"+got.event.ID+"/redeliver", nil, nil), http.StatusAccepted)
	deadline := time.Now().Add(5 * time.Second)
	for {
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redelivery did not arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if rc.got[1].event.ID != rc.got[0].event.ID || string(rc.got[1].body) != string(rc.got[0].body) {
		t.Fatalf("redelivery changed the event: %s vs %s", rc.got[1].body, rc.got[0].body)
	}
}

func waitDelivered(t *testing.T, sb *Server) []Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs := sb.Events()
		done := true
		for _, ev := range evs {
			for _, d := range ev.Deliveries {
				done = done && d.Status == "delivered"
			}
		}
		if done || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	sb, err := New(Config{WebhookRetryBase: time.Second, WebhookRetryMax: 5 * time.Second, TickInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	for n, want := range []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if n == 0 {
			continue
		}
		if got := sb.backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestVerifyRefusesForgedWebhooks(t *testing.T) {
	now := time.Unix(1735776000, 0)
	body := []byte(`{"id":"evt_1"}`)
	h := http.Header{}
	h.Set(HeaderEventID, "evt_1")
	h.Set(HeaderTimestamp, "1735776000")
	h.Set(HeaderSignature, Sign("secret", "evt_1", "1735776000", body))
	if _, err := Verify("secret", h, body, now, time.Minute); err != nil {
		t.Fatalf("genuine webhook refused: %v", err)
	}
	cases := []struct {
		name   string
		secret string
		body   string
		now    time.Time
	}{
		{"wrong secret", "other", string(body), now},
		{"tampered body", "secret", `{"id":"evt_2"}`, now},
		{"stale timestamp", "secret", string(body), now.Add(10 * time.Minute)},
	}
	for _, tc := range cases {
		if _, err := Verify(tc.secret, h, []byte(tc.body), tc.now, time.Minute); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", tc.name, err)
		}
	}
}

func TestFXRatesAreDecimalStrings(t *testing.T) {
	sb := start(t, Config{Now: newFixedClock(day2).Now})
	cases := []struct{ base, symbol, want string }{
		{"USD", "EUR", "0.9215"},
		{"USD", "JPY", "151.42"},
		{"USD", "USD", "1"},
		{"KWD", "USD", "3.2525613921"},
		{"EUR", "GBP", "0.8562126967"},
	}
	for _, tc := range cases {
		var raw map[string]json.RawMessage
		wantStatus(t, call(t, sb, "GET", "/fx/rates?base="+tc.base+"&symbols="+tc.symbol, nil, &raw), http.StatusOK)
		var rates map[string]string
		if err := json.Unmarshal(raw["rates"], &rates); err != nil {
			t.Fatalf("rates are not strings: %s", raw["rates"])
		}
		if rates[tc.symbol] != tc.want {
			t.Errorf("%s→%s = %q, want %q", tc.base, tc.symbol, rates[tc.symbol], tc.want)
		}
	}
	var all ratesView
	call(t, sb, "GET", "/fx/rates", nil, &all)
	for _, c := range []string{"USD", "EUR", "GBP", "JPY", "CNY", "HKD", "SGD", "KWD", "BHD", "JOD", "AUD", "CAD", "CHF"} {
		if _, ok := all.Rates[c]; !ok {
			t.Errorf("no rate for %s", c)
		}
	}
	wantStatus(t, call(t, sb, "GET", "/fx/rates?base=XXX", nil, nil), http.StatusBadRequest)

	drift := start(t, Config{Now: newFixedClock(day2).Now, FXDrift: true})
	var d ratesView
	call(t, drift, "GET", "/fx/rates?symbols=EUR", nil, &d)
	if d.Rates["EUR"] == "" || !strings.HasPrefix(d.Rates["EUR"], "0.9") {
		t.Errorf("drifted EUR = %q", d.Rates["EUR"])
	}
}

func TestRequestsAreStrict(t *testing.T) {
	sb := start(t, Config{})
	cases := []struct {
		name string
		body any
	}{
		{"unknown field", map[string]any{"idempotency_key": "x", "surprise": 1}},
		{"float amount", map[string]any{"idempotency_key": "x", "merchant_reference": "r", "amount": 10.5, "currency": "USD"}},
		{"unknown currency", cardReq("x", "4242424242424242", 100, "XYZ", false)},
		{"zero amount", cardReq("x", "4242424242424242", 0, "USD", false)},
		{"letters in the card number", cardReq("x", "4242abcd42424242", 100, "USD", false)},
		{"amex cvc of 3 digits", func() authorizeRequest {
			r := cardReq("x", "378282246310005", 100, "USD", false)
			r.Card.CVC = "123"
			return r
		}()},
	}
	for _, tc := range cases {
		var e errorBody
		resp := call(t, sb, "POST", "/card/payments", tc.body, &e)
		if resp.StatusCode != http.StatusBadRequest || e.Error.Code != "invalid_request" {
			t.Errorf("%s: HTTP %d %+v, want 400 invalid_request", tc.name, resp.StatusCode, e)
		}
	}
}

func TestRunDueIsSafeWithoutWork(t *testing.T) {
	sb, err := New(Config{TickInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := sb.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}
