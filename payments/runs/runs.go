// Package runs is how a long run of background work (a settlement run, a
// reconciliation, the day-end close) reports its progress: one shape for
// every kind, written as outbox events, so operators follow any run by
// subscription (runUpdated; settlementRunUpdated for settlement) or list
// it with the events query, on every replica.
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

// Kinds are every kind of run.
func Kinds() []string { return []string{Settlement, Reconciliation, Close} }

// AllTypes are the event types of every kind's runs.
func AllTypes() []string {
	var out []string
	for _, k := range Kinds() {
		out = append(out, Types(k)...)
	}
	return out
}

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
	open   bool // Total grows as the run learns its items (Grow)
	dirty  bool // items counted since the last progress event
}

// Spec describes a run to Begin.
type Spec struct {
	// ID is the run's ID, the events' object; empty: a new run_… ID. A
	// kind whose runs have an ID of their own (a reconciliation run's
	// rcn_…) reports under it, so the run is followed by that ID.
	ID                string
	Kind, Scope, Unit string
	// Total is the items to do, when known at the start.
	Total int
	// Open says the items are learned as the run goes (a report read page
	// by page): Grow adds them to Total, and the last progress event is
	// written when the run finishes.
	Open bool
}

// Start writes a run's started event and returns its tracker. now and log
// may be nil (time.Now, slog.Default).
func Start(ctx context.Context, client *ent.Client, kind, scope, unit string, total int, now func() time.Time, log *slog.Logger) *Tracker {
	return Begin(ctx, client, Spec{Kind: kind, Scope: scope, Unit: unit, Total: total}, now, log)
}

// Begin is Start with a Spec: it writes the run's started event and
// returns its tracker. now and log may be nil (time.Now, slog.Default).
func Begin(ctx context.Context, client *ent.Client, s Spec, now func() time.Time, log *slog.Logger) *Tracker {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	if s.ID == "" {
		s.ID = pulid.New("run")
	}
	t := &Tracker{client: client, now: now, log: log, open: s.Open, p: Progress{RunID: s.ID, Kind: s.Kind, Scope: s.Scope,
		Status: Running, Unit: s.Unit, Total: s.Total, Started: now().UTC()}}
	t.write(ctx, Started, t.p)
	return t
}

// Grow adds n items to a run's Total, as it learns them.
func (t *Tracker) Grow(n int) {
	t.mu.Lock()
	t.p.Total += n
	t.mu.Unlock()
}

// ID is the run's ID.
func (t *Tracker) ID() string { return t.p.RunID }

// Step counts one item's outcome and writes a progress event if none was
// written for ProgressEvery, or if it was the last item.
func (t *Tracker) Step(ctx context.Context, o Outcome) { t.StepN(ctx, o, 1) }

// StepN counts n items of one outcome, as Step does one.
func (t *Tracker) StepN(ctx context.Context, o Outcome, n int) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	switch o {
	case ItemDone:
		t.p.Done += n
	case ItemFailed:
		t.p.Failed += n
	default:
		t.p.Skipped += n
	}
	now := t.now()
	due := now.Sub(t.last) >= ProgressEvery || !t.open && t.p.Done+t.p.Failed+t.p.Skipped >= t.p.Total
	t.dirty = !due
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
// with err's message otherwise; before it, the progress of items counted
// since the last progress event. It returns the final progress.
func (t *Tracker) Finish(ctx context.Context, err error) Progress {
	t.mu.Lock()
	if t.dirty {
		t.dirty = false
		p := t.p
		t.mu.Unlock()
		t.write(ctx, Progressed, p)
		t.mu.Lock()
	}
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
