package idempotency_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T, db *store.DB, cfg idempotency.Config) (*idempotency.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.Now
	return idempotency.New(db.Client, cfg), c
}

func begin(t *testing.T, s *idempotency.Service, scope, key, op, hash string) idempotency.Outcome {
	t.Helper()
	out, err := s.Begin(context.Background(), scope, key, op, hash)
	if err != nil {
		t.Fatalf("Begin(%s, %s): %v", scope, key, err)
	}
	return out
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if payments.ErrorCode(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func TestBeginCompleteReplaysTheStoredAnswer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		first := begin(t, s, "mer_a", "k1", "refund", "h1")
		if first.Replayed() || first.Token.Attempt() != 1 {
			t.Fatalf("first Begin = %+v, want a claim", first)
		}
		answer := []byte(`{"data":{"refund":{"id":"ref_1"}}}`)
		if err := s.Complete(context.Background(), first.Token, answer); err != nil {
			t.Fatal(err)
		}
		again := begin(t, s, "mer_a", "k1", "refund", "h1")
		if !bytes.Equal(again.Replay, answer) {
			t.Fatalf("replay = %q, want %q", again.Replay, answer)
		}
	})
}

func TestBeginRefusesAReusedKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		tok := begin(t, s, "mer_a", "k1", "refund", "h1").Token
		// In flight and completed alike: the request differs, so no waiting.
		_, err := s.Begin(context.Background(), "mer_a", "k1", "refund", "h2")
		wantCode(t, err, payments.ECONFLICT)
		if err := s.Complete(context.Background(), tok, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ name, op, hash string }{
			{"another request", "refund", "h2"},
			{"another operation", "capture", "h1"},
		} {
			_, err := s.Begin(context.Background(), "mer_a", "k1", tt.op, tt.hash)
			if payments.ErrorCode(err) != payments.ECONFLICT {
				t.Errorf("%s: err = %v, want a conflict", tt.name, err)
			}
		}
	})
}

func TestKeysAreScopedPerMerchant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		a := begin(t, s, "mer_a", "k1", "refund", "h1")
		if err := s.Complete(context.Background(), a.Token, []byte(`"a"`)); err != nil {
			t.Fatal(err)
		}
		if b := begin(t, s, "mer_b", "k1", "refund", "other"); b.Replayed() {
			t.Fatalf("merchant B got merchant A's answer %q", b.Replay)
		}
	})
}

func TestReleaseLetsTheRetryRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		tok := begin(t, s, "mer_a", "k1", "refund", "h1").Token
		if err := s.Release(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		// Released, the key is free for any request.
		if out := begin(t, s, "mer_a", "k1", "refund", "h2"); out.Replayed() {
			t.Fatalf("after release: %+v, want a claim", out)
		}
	})
}

func TestBeginRefusesMalformedKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{})
		for _, key := range []string{"", "has space", string(bytes.Repeat([]byte("k"), 129)), "ключ"} {
			_, err := s.Begin(context.Background(), "mer_a", key, "refund", "h1")
			if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != "idempotencyKey" {
				t.Errorf("key %q: err = %v, want EINVALID on idempotencyKey", key, err)
			}
		}
	})
}

// TestConcurrentDuplicatesRunOnce starts 16 Begins of one key at once: one
// runs, the others wait for it and replay its answer.
func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := idempotency.New(db.Client, idempotency.Config{})
		var runs atomic.Int32
		answers := make([][]byte, 16)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			wg.Go(func() {
				<-start
				out, err := s.Begin(context.Background(), "mer_a", "k1", "refund", "h1")
				if err != nil {
					t.Error(err)
					return
				}
				if out.Replayed() {
					answers[i] = out.Replay
					return
				}
				runs.Add(1)
				time.Sleep(50 * time.Millisecond) // the work, long enough for the others to queue
				answers[i] = []byte(`{"ran":true}`)
				if err := s.Complete(context.Background(), out.Token, answers[i]); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if runs.Load() != 1 {
			t.Fatalf("%d executions, want 1", runs.Load())
		}
		for i, a := range answers {
			if string(a) != `{"ran":true}` {
				t.Errorf("duplicate %d got %q", i, a)
			}
		}
	})
}

func TestADuplicateWaitsBoundedThenConflicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, idempotency.Config{Wait: 100 * time.Millisecond})
		begin(t, s, "mer_a", "k1", "refund", "h1")
		start := time.Now()
		_, err := s.Begin(context.Background(), "mer_a", "k1", "refund", "h1")
		wantCode(t, err, payments.ECONFLICT)
		if waited := time.Since(start); waited < 100*time.Millisecond || waited > 2*time.Second {
			t.Errorf("waited %s, want about 100ms", waited)
		}
	})
}

// TestAnAbandonedClaimIsTakenOver models a crash: the holder never finishes;
// once its lease runs out a retry runs again, and the old holder can no longer
// store its answer over the retry's.
func TestAnAbandonedClaimIsTakenOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, c := newService(t, db, idempotency.Config{Lease: time.Minute, Wait: 50 * time.Millisecond})
		dead := begin(t, s, "mer_a", "k1", "refund", "h1").Token
		c.Advance(time.Minute + time.Second)
		retry := begin(t, s, "mer_a", "k1", "refund", "h1")
		if retry.Replayed() || retry.Token.Attempt() != 2 {
			t.Fatalf("retry = %+v, want a second attempt", retry)
		}
		wantCode(t, s.Complete(context.Background(), dead, []byte(`"stale"`)), payments.ECONFLICT)
		if err := s.Complete(context.Background(), retry.Token, []byte(`"fresh"`)); err != nil {
			t.Fatal(err)
		}
		if out := begin(t, s, "mer_a", "k1", "refund", "h1"); string(out.Replay) != `"fresh"` {
			t.Fatalf("replay = %q, want the retry's answer", out.Replay)
		}
	})
}

func TestSweepDeletesOldRecordsButNotLiveClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, c := newService(t, db, idempotency.Config{Lease: 48 * time.Hour})
		done := begin(t, s, "mer_a", "old-done", "refund", "h1").Token
		if err := s.Complete(context.Background(), done, []byte(`"old"`)); err != nil {
			t.Fatal(err)
		}
		begin(t, s, "mer_a", "old-running", "refund", "h1") // still leased
		c.Advance(23 * time.Hour)
		young := begin(t, s, "mer_a", "young", "refund", "h1").Token
		if err := s.Complete(context.Background(), young, []byte(`"young"`)); err != nil {
			t.Fatal(err)
		}
		c.Advance(2 * time.Hour) // the first two are 25 h old, the last 2 h
		n, err := s.Sweep(context.Background(), 24*time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want 1 record", n, err)
		}
		if out := begin(t, s, "mer_a", "old-done", "refund", "h2"); out.Replayed() {
			t.Error("a swept key still replays")
		}
		if out := begin(t, s, "mer_a", "young", "refund", "h1"); string(out.Replay) != `"young"` {
			t.Errorf("young key: %+v, want its replay", out)
		}
		c.Advance(49 * time.Hour) // every lease is over now
		if n, err := s.Sweep(context.Background(), 24*time.Hour); err != nil || n != 3 {
			t.Fatalf("second Sweep = %d, %v; want 3 records", n, err)
		}
	})
}

func TestFingerprintIsCanonical(t *testing.T) {
	a, err := idempotency.Fingerprint("refund", map[string]any{"amount": "100", "payment": "pay_1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := idempotency.Fingerprint("refund", map[string]any{"payment": "pay_1", "amount": "100"})
	c, _ := idempotency.Fingerprint("capture", map[string]any{"payment": "pay_1", "amount": "100"})
	d, _ := idempotency.Fingerprint("refund", map[string]any{"payment": "pay_1", "amount": "101"})
	if a != b || len(a) != 64 {
		t.Errorf("key order changed the fingerprint: %s vs %s", a, b)
	}
	if a == c || a == d {
		t.Error("different requests share a fingerprint")
	}
}
