package events

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// EnvNATS names the NATS server tests use (.ci/run sets it); without it
// tests try 127.0.0.1:4222 and skip when nothing answers, except in CI.
const EnvNATS = "STRAIT_TEST_NATS_URL"

// testNATS returns a bus on its own stream and subjects, deleted after the test.
func testNATS(t *testing.T) (*NATS, NATSConfig) {
	t.Helper()
	url := os.Getenv(EnvNATS)
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI", EnvNATS)
		}
		url = "nats://127.0.0.1:4222"
		c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
		if err != nil {
			t.Skipf("no NATS at %s: %v", url, err)
		}
		c.Close()
	}
	id := strings.ToUpper(strings.TrimPrefix(pulid.New("t"), "t_"))
	cfg := NATSConfig{URL: url, Stream: "TEST_" + id, Subject: "test." + id}
	b, err := DialNATS(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.js.DeleteStream(context.Background(), cfg.Stream)
		b.Close()
	})
	return b, cfg
}

func TestNATSDropsARepublishedEventByItsID(t *testing.T) {
	b, _ := testNATS(t)
	ctx := context.Background()
	got := make(chan Message, 10)
	if err := b.Subscribe(ctx, func(m Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	msgs := []Message{{ID: "evt_1", Seq: 1, Type: "payment.succeeded", CheckoutSessionID: "cs_1"}, {ID: "evt_2", Seq: 2, Type: "refund.created"}}
	for i := 0; i < 2; i++ { // a relay that crashed before marking them publishes again
		if err := b.Publish(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	info, err := b.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2", info.State.Msgs)
	}
	for want := int64(1); want <= 2; want++ {
		select {
		case m := <-got:
			if m.Seq != want {
				t.Fatalf("got seq %d, want %d", m.Seq, want)
			}
			// A replica's hub filters cashiers' subscriptions by it.
			if m.CheckoutSessionID != msgs[want-1].CheckoutSessionID {
				t.Fatalf("seq %d crossed the bus with session %q, want %q", want, m.CheckoutSessionID, msgs[want-1].CheckoutSessionID)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no message %d", want)
		}
	}
	select {
	case m := <-got:
		t.Fatalf("duplicate delivered: %+v", m)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestNATSDurableConsumerResumesAfterARestart(t *testing.T) {
	b, cfg := testNATS(t)
	ctx := context.Background()
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			if err := b.Publish(ctx, []Message{{ID: fmt.Sprint("evt_", i), Seq: int64(i), Type: "payment.succeeded"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	consume := func(bus *NATS, n int) []int64 {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		got := make(chan int64, 100)
		stopped, err := bus.ConsumeDurable(cctx, "webhooks", func(m Message) error { got <- m.Seq; return nil })
		if err != nil {
			t.Fatal(err)
		}
		// This process stops: consuming has ended before anything else is
		// published, as a restart's would.
		defer func() {
			cancel()
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("the consumer did not stop in 10 s")
			}
		}()
		var out []int64
		for len(out) < n {
			select {
			case s := <-got:
				out = append(out, s)
			case <-time.After(5 * time.Second):
				t.Fatalf("got %v, want %d messages", out, n)
			}
		}
		time.Sleep(200 * time.Millisecond) // acks reach the server
		return out
	}
	publish(1, 3)
	if got := consume(b, 3); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("first run got %v", got)
	}
	publish(4, 5)
	restarted, err := DialNATS(ctx, cfg) // a new process, same durable name
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if got := consume(restarted, 2); fmt.Sprint(got) != "[4 5]" {
		t.Fatalf("after restart got %v, want [4 5]", got)
	}
}
