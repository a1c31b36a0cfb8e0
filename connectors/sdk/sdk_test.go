package sdk

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
)

func TestWebhookVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	w := Webhook{Secret: []byte("whsec"), Now: func() time.Time { return now }}
	ts := fmt.Sprint(now.Unix())
	body := []byte(`{"id":"evt_1"}`)
	good := w.Sign([]byte("evt_1"), []byte(ts), body)
	cases := []struct {
		name, ts, sig string
		body          []byte
		ok            bool
	}{
		{"valid", ts, good, body, true},
		{"body changed", ts, good, []byte(`{"id":"evt_2"}`), false},
		{"wrong signature", ts, strings.Repeat("0", 64), body, false},
		{"not hex", ts, "zz", body, false},
		{"stale", fmt.Sprint(now.Add(-6 * time.Minute).Unix()), w.Sign([]byte("evt_1"), []byte(fmt.Sprint(now.Add(-6*time.Minute).Unix())), body), body, false},
		{"bad timestamp", "yesterday", good, body, false},
	}
	for _, tc := range cases {
		err := w.Verify(tc.ts, tc.sig, []byte("evt_1"), []byte(tc.ts), tc.body)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if err := (Webhook{}).Verify(ts, good, body); err == nil {
		t.Error("verify without a secret succeeded")
	}
}

func TestIdempotencyKeyIsStableAndScopedByOperation(t *testing.T) {
	a, b := IdempotencyKey("capture", "k1"), IdempotencyKey("capture", "k1")
	if a != b || len(a) != 32 {
		t.Fatalf("unstable or wrong length: %q %q", a, b)
	}
	if a == IdempotencyKey("refund", "k1") || a == IdempotencyKey("capture", "k2") {
		t.Fatal("keys collide across operations or Strait keys")
	}
}

func TestEmitterKeepsEventsUntilAckedAndResendsOnNewStream(t *testing.T) {
	e := NewEmitter()
	for _, id := range []string{"a", "b", "a"} {
		if err := e.Emit(connectors.Event{ID: id, Type: connectors.EventSettlement}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Emit(connectors.Event{Type: connectors.EventSettlement}); err == nil {
		t.Fatal("event without id accepted")
	}
	receive := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var got []string
		e.stream(ctx, func(ev connectors.Event) error { got = append(got, ev.ID); return nil })
		return got
	}
	if got := receive(); strings.Join(got, ",") != "a,b" {
		t.Fatalf("first stream got %v", got)
	}
	e.ack([]string{"a"})
	if got := receive(); strings.Join(got, ",") != "b" {
		t.Fatalf("second stream got %v, want the unacked b again", got)
	}
	if e.Pending() != 1 {
		t.Fatalf("pending = %d", e.Pending())
	}
}

func TestEmitterRefusesWhenFull(t *testing.T) {
	e := NewEmitter()
	e.cap = 1
	e.Emit(connectors.Event{ID: "1", Type: connectors.EventSettlement})
	if err := e.Emit(connectors.Event{ID: "2", Type: connectors.EventSettlement}); err != ErrEmitterFull {
		t.Fatalf("err = %v", err)
	}
}
