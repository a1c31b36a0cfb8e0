package batch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentRequestsShareBatches(t *testing.T) {
	var batches, biggest atomic.Int64
	gate := make(chan struct{})
	r := New(context.Background(), 64, func(_ context.Context, reqs []int) []Result[int] {
		if batches.Add(1) == 1 {
			<-gate // hold the first batch so the others queue up behind it
		}
		if n := int64(len(reqs)); n > biggest.Load() {
			biggest.Store(n)
		}
		out := make([]Result[int], len(reqs))
		for i, v := range reqs {
			out[i].Value = 2 * v
		}
		return out
	})
	defer r.Close()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := r.Do(context.Background(), i)
			if err != nil || got != 2*i {
				t.Errorf("Do(%d) = %d, %v", i, got, err)
			}
		}()
		if i == 0 {
			time.Sleep(20 * time.Millisecond) // the first request runs alone
		}
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	if batches.Load() > 3 || biggest.Load() < 10 {
		t.Fatalf("%d batches, the biggest of %d: the queued requests did not share batches", batches.Load(), biggest.Load())
	}
}

func TestCanceledCallersAreNotRun(t *testing.T) {
	gate := make(chan struct{})
	var ran atomic.Int64
	r := New(context.Background(), 8, func(_ context.Context, reqs []string) []Result[string] {
		if reqs[0] == "first" {
			<-gate
		}
		ran.Add(int64(len(reqs)))
		return make([]Result[string], len(reqs))
	})
	defer r.Close()
	go r.Do(context.Background(), "first")
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := r.Do(ctx, "late"); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	close(gate)
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller got %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	if ran.Load() != 1 {
		t.Fatalf("%d requests ran, want only the first", ran.Load())
	}
}

func TestPanicAnswersEveryCallerAndTheRunnerGoesOn(t *testing.T) {
	r := New(context.Background(), 8, func(_ context.Context, reqs []int) []Result[int] {
		if reqs[0] < 0 {
			panic("boom")
		}
		return make([]Result[int], len(reqs))
	})
	defer r.Close()
	if _, err := r.Do(context.Background(), -1); err == nil {
		t.Fatal("a panicking batch answered without an error")
	}
	if _, err := r.Do(context.Background(), 1); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
}

func TestClose(t *testing.T) {
	r := New(context.Background(), 8, func(_ context.Context, reqs []int) []Result[int] { return make([]Result[int], len(reqs)) })
	r.Close()
	if _, err := r.Do(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

// TestABatchThatHangsEndsAtItsTimeout: a batch stuck on its database (here,
// waiting for its context) ends at the runner's timeout with its context's
// error, its callers get their answers, and the next batch runs.
func TestABatchThatHangsEndsAtItsTimeout(t *testing.T) {
	var calls atomic.Int64
	r := New(context.Background(), 8, func(ctx context.Context, reqs []int) []Result[int] {
		out := make([]Result[int], len(reqs))
		if calls.Add(1) == 1 {
			<-ctx.Done() // the first batch hangs until its deadline
			for i := range out {
				out[i].Err = ctx.Err()
			}
			return out
		}
		for i, v := range reqs {
			out[i].Value = v
		}
		return out
	}).WithTimeout(50 * time.Millisecond)
	defer r.Close()
	start := time.Now()
	if _, err := r.Do(context.Background(), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung batch: err = %v, want the deadline", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Fatalf("hung batch answered after %v, want about the timeout", d)
	}
	if got, err := r.Do(context.Background(), 2); err != nil || got != 2 {
		t.Fatalf("next batch: %d, %v", got, err)
	}
	if DefaultTimeout != 30*time.Second || New(context.Background(), 1, func(context.Context, []int) []Result[int] { return nil }).timeout != DefaultTimeout {
		t.Fatal("a runner's batches are not bounded by DefaultTimeout")
	}
}
