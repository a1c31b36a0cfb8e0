package runs_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/payments/runs"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// progressOf reads the events of run id, oldest first.
func progressOf(t *testing.T, db *store.DB, id string) []runs.Progress {
	t.Helper()
	evs, err := db.Client.Event.Query().Where(event.ObjectID(id)).Order(ent.Asc(event.FieldID)).
		All(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var out []runs.Progress
	for _, e := range evs {
		b, _ := json.Marshal(e.Data)
		p, err := runs.Decode(b)
		if err != nil || !strings.HasPrefix(e.Type, p.Kind+".run_") || e.ObjectID != p.RunID {
			t.Fatalf("event %s %v: %v", e.Type, e.Data, err)
		}
		out = append(out, p)
	}
	return out
}

// TestOpenRunReportsUnderItsOwnID: a run begun under an ID of its own,
// whose total grows as it learns its items (a report read page by page),
// writes progress at most once a ProgressEvery (not at each "last" item of
// a total still growing) and, when it finishes, the progress not yet
// written, then its end; a run of known total writes progress after its
// last item, as settlement's does.
func TestOpenRunReportsUnderItsOwnID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		tr := runs.Begin(ctx, db.Client, runs.Spec{ID: "rcn_1", Kind: runs.Reconciliation, Scope: "cardnet 2026-03-02",
			Unit: "lines", Open: true}, clock, nil)
		tr.Grow(3)
		tr.StepN(ctx, runs.ItemDone, 3) // the first progress: none was written yet
		now = now.Add(100 * time.Millisecond)
		tr.Grow(2)
		tr.StepN(ctx, runs.ItemSkipped, 2) // within ProgressEvery, and the total is open: not yet
		end := tr.Finish(ctx, nil)
		got := progressOf(t, db, "rcn_1")
		if len(got) != 4 {
			t.Fatalf("events %+v", got)
		}
		if got[0].Status != runs.Running || got[0].RunID != "rcn_1" || got[0].Total != 0 || got[0].Unit != "lines" {
			t.Errorf("started %+v", got[0])
		}
		if got[1].Done != 3 || got[1].Total != 3 || got[1].Skipped != 0 {
			t.Errorf("first progress %+v", got[1])
		}
		if got[2].Done != 3 || got[2].Skipped != 2 || got[2].Total != 5 || got[2].Status != runs.Running {
			t.Errorf("progress written at the finish %+v", got[2])
		}
		if got[3].Status != runs.Completed || got[3].Total != 5 || end != got[3] {
			t.Errorf("completed %+v (returned %+v)", got[3], end)
		}

		closed := runs.Start(ctx, db.Client, runs.Close, "2026-03-02 UTC", "days", 1, clock, nil)
		closed.Step(ctx, runs.ItemFailed)
		closed.Finish(ctx, context.DeadlineExceeded)
		got = progressOf(t, db, closed.ID())
		if len(got) != 3 || got[1].Failed != 1 || got[2].Status != runs.Failed || got[2].Error == "" || got[2].Kind != runs.Close {
			t.Errorf("a failed close %+v", got)
		}
	})
}
