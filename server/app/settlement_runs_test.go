package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/server/app"
)

type runProgress struct {
	Cursor, Type, RunID, Kind, Scope, Status, Unit string
	Total, Done, Failed, Skipped                   int
	Error                                          *string
}

const settlementRunQuery = `subscription($id: ID, $after: Cursor) { settlementRunUpdated(id: $id, after: $after) {
	cursor type runID kind scope status unit total done failed skipped error } }`

func nextRun(t *testing.T, w *wsClient, id string) runProgress {
	t.Helper()
	m := w.expect("next")
	var body struct {
		Data   struct{ SettlementRunUpdated runProgress }
		Errors []any
	}
	if err := json.Unmarshal(m.Payload, &body); err != nil || len(body.Errors) > 0 || m.ID != id {
		t.Fatalf("next %s for %q: %v", m.Payload, m.ID, err)
	}
	return body.Data.SettlementRunUpdated
}

// TestSettlementRunsAreFollowedBySubscriptionAndTheirBatchesSentAsWebhooks:
// an operator's settlementRunUpdated sees runSettlement start, progress and
// complete (and a refused run end FAILED), resumes a run by its ID from a
// cursor, a merchant may not subscribe, and the merchant's endpoint gets
// the batch as a signed settlement.created webhook, its secret sealed in
// the database.
func TestSettlementRunsAreFollowedBySubscriptionAndTheirBatchesSentAsWebhooks(t *testing.T) {
	e, srv := liveEnv(t, func(c *app.Config) {
		withVaultKeys(c, nil)
		c.WebhookAllowPrivate = true
	})
	hooks := newHookReceiver(t)
	r := e.do("MERCHANT_ADMIN", `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret endpoint { id } } }`,
		map[string]any{"in": map[string]any{"url": hooks.srv.URL + "/strait", "eventTypes": []string{"settlement."}}})
	var created struct{ Secret string }
	if err := json.Unmarshal(r.Data["createWebhookEndpoint"], &created); err != nil || created.Secret == "" {
		t.Fatalf("createWebhookEndpoint: %s", r.Raw)
	}
	hooks.mu.Lock()
	hooks.secret = created.Secret
	hooks.mu.Unlock()
	var stored string
	if err := e.db.SQL.QueryRowContext(context.Background(), "SELECT secret FROM webhook_endpoints").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "whsec_") || !strings.HasPrefix(stored, "sealed:v1:k1:") {
		t.Fatalf("the stored secret is %.16q…", stored)
	}

	merchant := subscribedWS(t, srv, e.tokens["MERCHANT_ADMIN"], "m", settlementRunQuery, nil)
	if m := merchant.expect("error"); m.ID != "m" {
		t.Fatalf("a merchant's settlementRunUpdated: %+v", m)
	}

	op := subscribedWS(t, srv, e.tokens["OPERATOR"], "all", settlementRunQuery, nil)
	time.Sleep(100 * time.Millisecond)

	// T+2 in UTC by default: a day a week ago has matured.
	day := time.Now().UTC().AddDate(0, 0, -7).Format(time.DateOnly)
	run := `mutation($in: RunSettlementInput!) { runSettlement(input: $in) { id lineCount } }`
	if r := e.do("OPERATOR", run, map[string]any{"in": map[string]any{"merchantID": e.a.ID, "day": day}}); len(r.Errors) > 0 {
		t.Fatalf("runSettlement: %s", r.Raw)
	}
	started := nextRun(t, op, "all")
	progress := nextRun(t, op, "all")
	done := nextRun(t, op, "all")
	scope := e.a.ID + " " + day
	if started.Type != "settlement.run_started" || started.Status != "RUNNING" || started.Total != 1 || started.Done != 0 ||
		started.Kind != "settlement" || started.Scope != scope || started.Unit != "merchants" || !strings.HasPrefix(started.RunID, "run_") {
		t.Fatalf("started %+v", started)
	}
	if progress.Type != "settlement.run_progress" || progress.RunID != started.RunID || progress.Done != 1 || progress.Status != "RUNNING" {
		t.Fatalf("progress %+v", progress)
	}
	if done.Type != "settlement.run_completed" || done.Status != "COMPLETED" || done.Done != 1 || done.Failed != 0 || done.Error != nil {
		t.Fatalf("completed %+v", done)
	}

	// A refused run (a day in the future) is a run that ends FAILED.
	future := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	if r := e.do("OPERATOR", run, map[string]any{"in": map[string]any{"merchantID": e.a.ID, "day": future}}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("a future day: %s", r.Raw)
	}
	_ = nextRun(t, op, "all")
	if p := nextRun(t, op, "all"); p.Failed != 1 {
		t.Fatalf("failed run progress %+v", p)
	}
	if f := nextRun(t, op, "all"); f.Status != "FAILED" || f.Error == nil || !strings.Contains(*f.Error, "future") {
		t.Fatalf("failed run %+v", f)
	}

	// One run by its ID, resumed after its start: its progress and end only.
	again := subscribedWS(t, srv, e.tokens["OPERATOR"], "one", settlementRunQuery, map[string]any{"id": started.RunID, "after": started.Cursor})
	if p := nextRun(t, again, "one"); p.Type != "settlement.run_progress" || p.RunID != started.RunID {
		t.Fatalf("resumed %+v", p)
	}
	if p := nextRun(t, again, "one"); p.Type != "settlement.run_completed" || p.RunID != started.RunID {
		t.Fatalf("resumed %+v", p)
	}

	// The merchant's endpoint gets the batch, verified by the Standard
	// Webhooks library with the secret it was shown.
	got := hooks.waitFor(t, "settlement.created")
	if len(got) != 1 {
		t.Fatalf("webhooks %v", got)
	}
}
