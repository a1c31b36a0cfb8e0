package app_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
)

// TestAPluginRestartedAfterACrashTakesPaymentsWithinASecond: the cardnet
// plugin is SIGKILLed with more card payments in flight than the circuit
// breaker's threshold (the sandbox's timeout card holds each one). The
// calls the crash cut are unknown to their payments, but they are not the
// channel failing: the circuit stays closed, and a payment confirmed once
// the restarted plugin is up succeeds within a second of it being back.
func TestAPluginRestartedAfterACrashTakesPaymentsWithinASecond(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"},
		sandbox: func(c *sandbox.Config) { c.TimeoutHold = 10 * time.Second }})
	const inFlight = host.DefaultBreakerFailures + 2
	type confirm struct {
		s   session
		tok string
	}
	held := make([]confirm, inFlight)
	for i := range held {
		s := x.open(t, map[string]any{"amount": amountOf(int64(1_000+i), "SGD")})
		held[i] = confirm{s, x.tokenize(t, s, "4000000000000085", cvc3)} // the network holds its answer
	}
	cardnet := func() host.Status {
		st, ok := x.app.Connectors.Status("cardnet")
		if !ok {
			t.Fatal("no cardnet")
		}
		return st
	}
	oldPID := cardnet().PID
	// The payment to make once the plugin is back, ready beforehand.
	s := x.open(t, map[string]any{"amount": amountOf(2_500, "SGD")})
	tok := x.tokenize(t, s, "4242424242424242", cvc3)

	answers := make([]gqlResponse, inFlight)
	var wg sync.WaitGroup
	for i, c := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = x.gql(c.s.Cashier, confirmMutation, map[string]any{"in": map[string]any{
				"method": "CARD", "cardToken": c.tok, "idempotencyKey": fmt.Sprint("held-", i)}})
		}()
	}
	time.Sleep(700 * time.Millisecond) // every call at the network
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, r := range answers {
		var p payView
		x.ok(t, r, "confirmCheckoutSession", &p)
		if p.Status != "PROCESSING" {
			t.Fatalf("payment %d cut by the crash: %+v", i, p)
		}
	}

	deadline := time.Now().Add(5 * time.Second)
	for st := cardnet(); st.Health != host.HealthUp || st.PID == oldPID || st.PID == 0; st = cardnet() {
		if time.Now().After(deadline) {
			t.Fatalf("cardnet not back within 5 s: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	upAt := time.Now()
	if st := cardnet(); st.Circuit != host.CircuitClosed {
		t.Fatalf("the crash opened the circuit: %+v", st)
	}
	var p payView
	x.ok(t, x.gql(s.Cashier, confirmMutation, map[string]any{"in": map[string]any{
		"method": "CARD", "cardToken": tok, "idempotencyKey": "after-the-crash"}}), "confirmCheckoutSession", &p)
	took := time.Since(upAt)
	if p.Status != "SUCCEEDED" || took > time.Second {
		t.Fatalf("a payment %s after the plugin came back: %+v", took, p)
	}
	t.Logf("a payment succeeded %s after the plugin was back", took.Round(time.Millisecond))
	if c := x.connectors()["cardnet"]; c.Circuit != "CLOSED" || c.Health != "UP" {
		t.Fatalf("cardnet %+v", c)
	}

	// The payments the crash cut are resolved by the janitor, each charged
	// once at the network.
	x.clock.Advance(time.Minute)
	if _, err := x.app.Cashier.Sweep(viewer.SystemContext(context.Background())); err != nil {
		t.Fatal(err)
	}
	for i, r := range answers {
		var cut payView
		x.ok(t, r, "confirmCheckoutSession", &cut)
		cut = x.payment(t, cut.ID)
		a := cut.attempts()
		if cut.Status == "PROCESSING" || len(a) != 1 || len(cardPaymentsAt(t, x.sb.URL(), a[0].ID)) > 1 {
			t.Fatalf("payment %d after the janitor: %+v", i, cut)
		}
	}
	x.balanced(t)
}
