package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

const runUpdatedQuery = `subscription($id: ID!, $after: Cursor) { runUpdated(id: $id, after: $after) {
	cursor type runID kind scope status unit total done failed skipped error } }`

func nextRunUpdate(t *testing.T, w *wsClient, id string) runProgress {
	t.Helper()
	m := w.expect("next")
	var body struct {
		Data   struct{ RunUpdated, SettlementRunUpdated *runProgress }
		Errors []any
	}
	if err := json.Unmarshal(m.Payload, &body); err != nil || len(body.Errors) > 0 || m.ID != id {
		t.Fatalf("next %s for %q: %v", m.Payload, m.ID, err)
	}
	if body.Data.RunUpdated != nil {
		return *body.Data.RunUpdated
	}
	return *body.Data.SettlementRunUpdated
}

// TestReconciliationAndCloseRunsAreFollowedByRunUpdated: over a real
// websocket, an operator follows a reconciliation run (cardnet's report of
// two card payments, through the real plugin and the sandbox) by its ID
// with runUpdated: subscribed after the run, it replays the run's start,
// progress (two lines done) and completion, then sees the re-run of the day
// live under the same ID (two lines skipped, nothing decided again); a
// cursor resumes after it; settlementRunUpdated sees none of it (its next
// update is a settlement run's); a merchant may not subscribe. closeDay is
// a run of one day, found with the events query and followed by its ID; a
// refused close (the day again) is a run that ends FAILED.
func TestReconciliationAndCloseRunsAreFollowedByRunUpdated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		awayFromMidnight(t)
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		for _, amount := range []int64{1000, 2000} {
			if p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(amount, "SGD"), "allowedMethods": []string{"CARD"}}),
				"4242424242424242", cvc3); p.Status != "SUCCEEDED" {
				t.Fatalf("payment %+v", p)
			}
		}
		day := time.Now().UTC().Format(time.DateOnly)

		settlements := subscribedWS(t, x.srv, x.tokens["OPERATOR"], "s", settlementRunQuery, nil)

		var run reconRun
		x.ok(t, x.gql("OPERATOR", runReconciliation, map[string]any{"c": "cardnet", "d": day}), "runReconciliation", &run)
		if run.Status != "SUCCEEDED" || run.LinesRead != 2 || !strings.HasPrefix(run.ID, "rcn_") {
			t.Fatalf("run %+v", run)
		}

		merchant := subscribedWS(t, x.srv, x.tokens["API_KEY"], "m", runUpdatedQuery, map[string]any{"id": run.ID})
		if m := merchant.expect("error"); m.ID != "m" {
			t.Fatalf("a merchant's runUpdated: %+v", m)
		}

		op := subscribedWS(t, x.srv, x.tokens["OPERATOR"], "r", runUpdatedQuery, map[string]any{"id": run.ID})
		started, progress, done := nextRunUpdate(t, op, "r"), nextRunUpdate(t, op, "r"), nextRunUpdate(t, op, "r")
		scope := "cardnet " + day
		if started.Type != "reconciliation.run_started" || started.RunID != run.ID || started.Kind != "reconciliation" ||
			started.Scope != scope || started.Unit != "lines" || started.Status != "RUNNING" || started.Done != 0 {
			t.Fatalf("started %+v", started)
		}
		if progress.Type != "reconciliation.run_progress" || progress.Done != 2 || progress.Total != 2 || progress.Skipped != 0 {
			t.Fatalf("progress %+v", progress)
		}
		if done.Type != "reconciliation.run_completed" || done.Status != "COMPLETED" || done.Done != 2 || done.Total != 2 || done.Error != nil {
			t.Fatalf("completed %+v", done)
		}

		// The day again, live: every line recorded already, so skipped.
		var again reconRun
		x.ok(t, x.gql("OPERATOR", runReconciliation, map[string]any{"c": "cardnet", "d": day}), "runReconciliation", &again)
		if again.ID != run.ID {
			t.Fatalf("re-run %s, first %s", again.ID, run.ID)
		}
		if p := nextRunUpdate(t, op, "r"); p.Type != "reconciliation.run_started" || p.RunID != run.ID {
			t.Fatalf("re-run started %+v", p)
		}
		if p := nextRunUpdate(t, op, "r"); p.Type != "reconciliation.run_progress" || p.Done != 0 || p.Skipped != 2 || p.Total != 2 {
			t.Fatalf("re-run progress %+v", p)
		}
		if p := nextRunUpdate(t, op, "r"); p.Type != "reconciliation.run_completed" || p.Status != "COMPLETED" || p.Skipped != 2 {
			t.Fatalf("re-run completed %+v", p)
		}

		// Resumed after the first run's start: its progress comes next.
		resumed := subscribedWS(t, x.srv, x.tokens["OPERATOR"], "c", runUpdatedQuery, map[string]any{"id": run.ID, "after": started.Cursor})
		if p := nextRunUpdate(t, resumed, "c"); p.Type != "reconciliation.run_progress" || p.Done != 2 {
			t.Fatalf("resumed %+v", p)
		}

		// settlementRunUpdated saw none of it: its first update is the
		// settlement run's.
		week := time.Now().UTC().AddDate(0, 0, -7).Format(time.DateOnly)
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": x.a.ID, "day": week}}), "runSettlement", &struct{}{})
		if p := nextRunUpdate(t, settlements, "s"); p.Type != "settlement.run_started" || p.Kind != "settlement" {
			t.Fatalf("settlementRunUpdated's first update %+v", p)
		}

		// The close of a day over: a run of one day.
		closeQ := `mutation($in: CloseDayInput!) { closeDay(input: $in) { id day } }`
		past := time.Now().UTC().AddDate(0, 0, -3).Format(time.DateOnly)
		x.ok(t, x.gql("OPERATOR", closeQ, map[string]any{"in": map[string]any{"day": past, "timezone": "UTC"}}), "closeDay", &struct{}{})
		if r := x.gql("OPERATOR", closeQ, map[string]any{"in": map[string]any{"day": past, "timezone": "UTC"}}); r.code() != "CONFLICT" {
			t.Fatalf("a second close: %s", r.Raw)
		}
		var evs struct {
			Edges []struct {
				Node struct{ Type, ObjectID, Data string }
			}
		}
		x.ok(t, x.gql("OPERATOR", `{ events(first: 10, filter: {type: "close.run_started"}) { edges { node { type objectID data } } } }`, nil),
			"events", &evs)
		if len(evs.Edges) != 2 || !strings.HasPrefix(evs.Edges[1].Node.ObjectID, "run_") {
			t.Fatalf("close runs %+v", evs)
		}
		first, refused := evs.Edges[1].Node.ObjectID, evs.Edges[0].Node.ObjectID // newest first
		op.subscribe("close", runUpdatedQuery, map[string]any{"id": first})
		if p := nextRunUpdate(t, op, "close"); p.Type != "close.run_started" || p.Kind != "close" || p.Scope != past+" UTC" ||
			p.Unit != "days" || p.Total != 1 {
			t.Fatalf("close started %+v", p)
		}
		if p := nextRunUpdate(t, op, "close"); p.Type != "close.run_progress" || p.Done != 1 {
			t.Fatalf("close progress %+v", p)
		}
		if p := nextRunUpdate(t, op, "close"); p.Type != "close.run_completed" || p.Status != "COMPLETED" {
			t.Fatalf("close completed %+v", p)
		}
		op.subscribe("refused", runUpdatedQuery, map[string]any{"id": refused})
		_ = nextRunUpdate(t, op, "refused")
		if p := nextRunUpdate(t, op, "refused"); p.Failed != 1 {
			t.Fatalf("refused close progress %+v", p)
		}
		if p := nextRunUpdate(t, op, "refused"); p.Status != "FAILED" || p.Error == nil || !strings.Contains(*p.Error, "closed") {
			t.Fatalf("refused close %+v", p)
		}
	})
}
