// Package runs is how a long run of background work (a settlement run
// today; reconciliation and the day-end close next) reports its progress:
// one shape for every kind, written as outbox events, so operators follow
// any run by subscription (settlementRunUpdated) or list it with the
// events query, on every replica.
//
// A run writes <kind>.run_started, then <kind>.run_progress as items are
// done (at most one a second, and always after the last item), then
// <kind>.run_completed, each with a Progress as its data and the run's ID
// as its object. The events report work; they change no state, so they are
// written on their own, outside the run's transactions, and a write that
// fails is logged and never fails the run.
package runs

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments/viewer"
)

// Kinds of run.
const (
	Settlement     = "settlement"
	Reconciliation = "reconciliation"
	Close          = "close"
)

// Status is where a run is.
type Status string

// A run is RUNNING from its start until it ends COMPLETED (every item
// tried; some may have failed, counted in Failed) or FAILED (the run
// itself stopped, Error says why).
const (
	Running   Status = "RUNNING"
	Completed Status = "COMPLETED"
	Failed    Status = "FAILED"
)

// Event type suffixes: the types are "<kind>" + one of these.
const (
	Started    = ".run_started"
	Progressed = ".run_progress"
	Ended      = ".run_completed"
)

// Types are the event types of a kind's runs.
func Types(kind string) []string { return []string{kind + Started, kind + Progressed, kind + Ended} }

// Progress is every run event's data.
type Progress struct {
	// RunID ("run_…") is also the event's object ID.
	RunID string `json:"run_id"`
	Kind  string `json:"kind"`
	// Scope says what the run covers, in the kind's terms: a merchant and
	// a business day ("mer_… 2026-03-02"), the schedule's due merchants
	// ("due"), a connector's report day.
	Scope  string `json:"scope"`
	Status Status `json:"status"`
	// Unit names what Total counts: merchants, lines, accounts.
	Unit  string `json:"unit"`
	Total int    `json:"total"`
	// Done, Failed and Skipped (taken by another replica, or nothing to
	// do) add up to Total once the run has completed.
	Done    int       `json:"done"`
	Failed  int       `json:"failed"`
	Skipped int       `json:"skipped"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started_at"`
}

// ProgressEvery bounds how often a run writes a progress event: a run of
// 100,000 items writes about one a second, not one per item.
const ProgressEvery = time.Second

// Outcome is what became of one item.
type Outcome int

// Outcomes of an item.
const (
	ItemDone Outcome = iota
	ItemFailed
	ItemSkipped
)

// Tracker reports one run. Its methods are safe for concurrent use.
type Tracker struct {
	client *ent.Client
	now    func() time.Time
	log    *slog.Logger
	mu     sync.Mutex
	p      Progress
	last   time.Time
}

// Start writes a run's started event and returns its tracker. now and log
// may be nil (time.Now, slog.Default).
func Start(ctx context.Context, client *ent.Client, kind, scope, unit string, total int, now func() time.Time, log *slog.Logger) *Tracker {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	t := &Tracker{client: client, now: now, log: log, p: Progress{RunID: pulid.New("run"), Kind: kind, Scope: scope,
		Status: Running, Unit: unit, Total: total, Started: now().UTC()}}
	t.write(ctx, Started, t.p)
	return t
}

// ID is the run's ID.
func (t *Tracker) ID() string { return t.p.RunID }

// Step counts one item's outcome and writes a progress event if none was
// written for ProgressEvery, or if it was the last item.
func (t *Tracker) Step(ctx context.Context, o Outcome) {
	t.mu.Lock()
	switch o {
	case ItemDone:
		t.p.Done++
	case ItemFailed:
		t.p.Failed++
	default:
		t.p.Skipped++
	}
	now := t.now()
	due := now.Sub(t.last) >= ProgressEvery || t.p.Done+t.p.Failed+t.p.Skipped >= t.p.Total
	if due {
		t.last = now
	}
	p := t.p
	t.mu.Unlock()
	if due {
		t.write(ctx, Progressed, p)
	}
}

// Finish writes the completed event: COMPLETED when err is nil, FAILED
// with err's message otherwise. It returns the final progress.
func (t *Tracker) Finish(ctx context.Context, err error) Progress {
	t.mu.Lock()
	t.p.Status = Completed
	if err != nil {
		t.p.Status, t.p.Error = Failed, clip(err.Error(), 500)
	}
	p := t.p
	t.mu.Unlock()
	t.write(ctx, Ended, p)
	return p
}

func (t *Tracker) write(ctx context.Context, suffix string, p Progress) {
	data, err := toMap(p)
	if err == nil {
		// The run may end because its context did: its events still go out.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = t.client.Event.Create().SetType(p.Kind + suffix).SetObjectID(p.RunID).SetData(data).
			SetCreatedAt(t.now().UTC()).Exec(viewer.SystemContext(wctx))
		cancel()
	}
	if err != nil {
		t.log.Warn("run progress event not written", "run", p.RunID, "kind", p.Kind, "type", p.Kind+suffix, "err", err)
	}
}

// Decode reads a run event's data.
func Decode(data []byte) (Progress, error) {
	var p Progress
	err := json.Unmarshal(data, &p)
	return p, err
}

func toMap(p Progress) (map[string]any, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
