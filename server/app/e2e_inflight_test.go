package app_test

// Captures and voids whose answer is lost, over GraphQL, with the real
// cardnet plugin and the sandbox card network: the network's answers are
// held back, as a paused (SIGSTOPped) network's would be, past the host's
// deadline on the call.

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
)

// pausingChannel stands between a connector and the sandbox. Requests
// reach the sandbox at once; while paused, its answers are held until the
// caller gives up, and are lost: what the network did is done, and nobody
// hears of it.
type pausingChannel struct {
	srv      *httptest.Server
	upstream atomic.Pointer[string]

	mu      sync.Mutex
	resumed chan struct{}
}

func newPausingChannel(t *testing.T) *pausingChannel {
	t.Helper()
	c := &pausingChannel{resumed: make(chan struct{})}
	close(c.resumed)
	c.srv = httptest.NewServer(c)
	t.Cleanup(func() { c.resume(); c.srv.Close() })
	return c
}

func (c *pausingChannel) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.resumed:
		c.resumed = make(chan struct{})
	default:
	}
}

func (c *pausingChannel) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.resumed:
	default:
		close(c.resumed)
	}
}

func (c *pausingChannel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := http.NewRequest(r.Method, *c.upstream.Load()+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.mu.Lock()
	gate := c.resumed
	c.mu.Unlock()
	select {
	case <-gate:
	case <-r.Context().Done():
		return // the caller gave up: the answer is lost
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// captureEntries counts the ledger entries of a payment's capture.
func (x *e2e) captureEntries(t *testing.T, paymentID string) int {
	t.Helper()
	n, err := x.db.Client.JournalEntry.Query().
		Where(journalentry.SourceType(ledger.SourceCapture), journalentry.SourceID(paymentID)).
		Count(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestACaptureOrVoidWhoseAnswerIsLostIsResolvedByTheJanitor: the network
// stops answering during capturePayment and cancelPayment. Both answer
// UNAVAILABLE when the host's deadline runs out, though the network
// captured (5,000 of 9,000) and voided. The payments stay REQUIRES_CAPTURE
// until the janitor's first backoff step; then, the network answering
// again, it asks QueryPayment and records what the network did: SUCCEEDED
// with amountCaptured 5,000 and one ledger entry, and CANCELED. The
// merchant's retries, with the same key and a new one, move no money.
func TestACaptureOrVoidWhoseAnswerIsLostIsResolvedByTheJanitor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		channel := newPausingChannel(t)
		// The sandbox's address is chosen here, so the channel knows it
		// before the plugin starts.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		network := "http://" + addr
		channel.upstream.Store(&network)
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}, channelURL: map[string]string{"cardnet": channel.srv.URL},
			sandbox: func(c *sandbox.Config) { c.Addr = addr }})
		if x.sb.URL() != network {
			t.Fatalf("the sandbox is at %s, not %s", x.sb.URL(), network)
		}
		sys := viewer.SystemContext(context.Background())

		held := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(9_000, "SGD"), "captureMethod": "MANUAL"}), "4242424242424242", cvc3)
		released := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(4_000, "SGD"), "captureMethod": "MANUAL"}), "4242424242424242", cvc3)
		if held.Status != "REQUIRES_CAPTURE" || released.Status != "REQUIRES_CAPTURE" {
			t.Fatalf("payments %s and %s", held.Status, released.Status)
		}
		heldAt := x.payment(t, held.ID).attempts()[0].ID
		releasedAt := x.payment(t, released.ID).attempts()[0].ID

		channel.pause()
		captureIn := map[string]any{"id": held.ID, "amount": amountOf(5_000, "SGD"), "idempotencyKey": "cap-held"}
		cancelIn := map[string]any{"id": released.ID, "idempotencyKey": "cxl-released"}
		var capture, cancel gqlResponse
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); capture = x.gql("API_KEY", capturePayment, map[string]any{"in": captureIn}) }()
		go func() { defer wg.Done(); cancel = x.gql("API_KEY", cancelPayment, map[string]any{"in": cancelIn}) }()
		wg.Wait()
		if capture.code() != "UNAVAILABLE" || cancel.code() != "UNAVAILABLE" {
			t.Fatalf("with the network's answers lost: capture %s; cancel %s", capture.Raw, cancel.Raw)
		}
		// The network did both; Strait does not know yet.
		if at := cardPaymentsAt(t, network, heldAt); len(at) != 1 || at[0].State != "captured" || at[0].CapturedAmount != 5_000 {
			t.Fatalf("the network holds %+v", at)
		}
		if at := cardPaymentsAt(t, network, releasedAt); len(at) != 1 || at[0].State != "voided" {
			t.Fatalf("the network holds %+v", at)
		}
		if _, err := x.app.Cashier.Sweep(sys); err != nil { // not due yet
			t.Fatal(err)
		}
		if p := x.payment(t, held.ID); p.Status != "REQUIRES_CAPTURE" || p.AmountCaptured.Amount != "0" {
			t.Fatalf("before the janitor's check: %+v", p)
		}
		// The API shows what is in flight on each authorization.
		operation := func(attempt string) *string {
			var n struct{ Operation *string }
			x.ok(t, x.gql("API_KEY", `query($id: ID!) { node(id: $id) { ... on PaymentAttempt { operation } } }`,
				map[string]any{"id": attempt}), "node", &n)
			return n.Operation
		}
		if op := operation(heldAt); op == nil || *op != "CAPTURE" {
			t.Errorf("held attempt's operation in flight = %v, want CAPTURE", op)
		}
		if op := operation(releasedAt); op == nil || *op != "VOID" {
			t.Errorf("released attempt's operation in flight = %v, want VOID", op)
		}

		channel.resume()
		x.clock.Advance(time.Minute) // past the first backoff step (30 s)
		if _, err := x.app.Cashier.Sweep(sys); err != nil {
			t.Fatal(err)
		}
		p := x.payment(t, held.ID)
		if p.Status != "SUCCEEDED" || p.AmountCaptured.Amount != "5000" || p.attempts()[0].Status != "CAPTURED" {
			t.Fatalf("after the janitor: %+v", p)
		}
		if n := x.captureEntries(t, held.ID); n != 1 {
			t.Fatalf("%d ledger entries for the capture", n)
		}
		if op := operation(heldAt); op != nil {
			t.Errorf("after the janitor, the held attempt still shows %s in flight", *op)
		}
		if r := x.payment(t, released.ID); r.Status != "CANCELED" || r.attempts()[0].Status != "VOIDED" {
			t.Fatalf("after the janitor: %+v", r)
		}
		before := x.counts(t)

		// The merchant retries, with the same key and a new one.
		var captured struct {
			Status         string
			AmountCaptured struct{ Amount string }
		}
		for _, key := range []string{"cap-held", "cap-held-again"} {
			captureIn["idempotencyKey"] = key
			x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": captureIn}), "capturePayment", &captured)
			if captured.Status != "SUCCEEDED" || captured.AmountCaptured.Amount != "5000" {
				t.Fatalf("capture retried with key %s: %+v", key, captured)
			}
		}
		all := map[string]any{"id": held.ID, "idempotencyKey": "cap-held-all"}
		if r := x.gql("API_KEY", capturePayment, map[string]any{"in": all}); r.code() != "CONFLICT" {
			t.Fatalf("capture of all of a captured payment: %s", r.Raw)
		}
		var canceled struct{ Status string }
		for _, key := range []string{"cxl-released", "cxl-released-again"} {
			cancelIn["idempotencyKey"] = key
			x.ok(t, x.gql("API_KEY", cancelPayment, map[string]any{"in": cancelIn}), "cancelPayment", &canceled)
			if canceled.Status != "CANCELED" {
				t.Fatalf("cancel retried with key %s: %+v", key, canceled)
			}
		}
		if after := x.counts(t); after != before {
			t.Fatalf("the retries moved money: %+v, then %+v", before, after)
		}
		if at := cardPaymentsAt(t, network, heldAt); len(at) != 1 || at[0].CapturedAmount != 5_000 {
			t.Fatalf("the network holds %+v", at)
		}
		x.balanced(t)
		x.noCardData(t)
	})
}

// TestCapturingASucceededPaymentWithoutAnAmountIsAConflict: capturePayment
// with no amount on a SUCCEEDED payment, whether it was captured at once
// (AUTOMATIC) or by an earlier capturePayment, answers CONFLICT and moves
// nothing; naming the captured amount again returns the payment.
func TestCapturingASucceededPaymentWithoutAnAmountIsAConflict(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
	sale := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(3_000, "SGD")}), "4242424242424242", cvc3)
	held := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(6_000, "SGD"), "captureMethod": "MANUAL"}), "4242424242424242", cvc3)
	x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{"id": held.ID, "idempotencyKey": "cap-1"}}),
		"capturePayment", &struct{}{})
	before := x.counts(t)
	for _, p := range []payView{sale, held} {
		if r := x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{"id": p.ID, "idempotencyKey": "again-" + p.ID}}); r.code() != "CONFLICT" {
			t.Fatalf("capture of %s without an amount: %s", x.payment(t, p.ID).Status, r.Raw)
		}
	}
	var same struct{ Status string }
	x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{
		"id": held.ID, "amount": amountOf(6_000, "SGD"), "idempotencyKey": "cap-1-named"}}), "capturePayment", &same)
	if same.Status != "SUCCEEDED" {
		t.Fatalf("capture naming the captured amount: %+v", same)
	}
	if after := x.counts(t); after != before {
		t.Fatalf("money moved: %+v, then %+v", before, after)
	}
}
