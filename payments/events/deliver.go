package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/webhookdelivery"
	"github.com/straitpay/strait/ent/webhookendpoint"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// Wake asks the sender to look for due deliveries now; it never blocks.
func (w *Webhooks) Wake() { w.wake.Wake() }

// Run sends due deliveries until ctx ends; every replica runs one.
func (w *Webhooks) Run(ctx context.Context) {
	var inflight sync.WaitGroup
	defer inflight.Wait()
	schedule.Drain(ctx, schedule.Polls{Job: "webhook sender", Poll: w.cfg.Poll, Wake: w.wake, Log: w.cfg.Log},
		func(ctx context.Context) (bool, error) {
			n, err := w.SendDue(ctx, &inflight)
			return n > 0, err // look again at once while deliveries were due
		})
}

// SendDue leases the due deliveries this replica has room for and sends
// each in its own goroutine (tracked by wg); it returns how many it took.
func (w *Webhooks) SendDue(ctx context.Context, wg *sync.WaitGroup) (int, error) {
	w.mu.Lock()
	inflight := 0
	for _, n := range w.busy {
		inflight += n
	}
	w.mu.Unlock()
	room := w.cfg.Workers - inflight
	if room <= 0 {
		return 0, nil
	}
	// The batch's queries are bounded: a database that stops answering
	// fails them instead of holding connections (the sends below have
	// their own bound, Timeout, and record on a fresh one).
	qctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	sys := viewer.SystemContext(qctx)
	leased, err := w.claim(sys, room, w.cfg.Now())
	if err != nil || len(leased) == 0 {
		return 0, err
	}
	// Their endpoints and events, in two queries for the whole batch.
	var epIDs, evIDs []string
	for _, d := range leased {
		epIDs, evIDs = append(epIDs, d.EndpointID), append(evIDs, d.EventID)
	}
	eps, err := w.client.WebhookEndpoint.Query().Where(webhookendpoint.IDIn(epIDs...)).All(sys)
	if err != nil {
		w.releaseAll(leased)
		return 0, fmt.Errorf("delivery endpoints: %w", err)
	}
	evs, err := w.client.Event.Query().Where(event.IDIn(evIDs...)).All(sys)
	if err != nil {
		w.releaseAll(leased)
		return 0, fmt.Errorf("delivery events: %w", err)
	}
	epByID, evByID := map[string]*ent.WebhookEndpoint{}, map[string]*ent.Event{}
	for _, e := range eps {
		epByID[e.ID] = e
	}
	for _, e := range evs {
		evByID[e.ID] = e
	}
	for _, d := range leased {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.release(d.EndpointID)
			// The POST: Timeout (its recording has its own bound).
			sctx, cancel := context.WithTimeout(viewer.SystemContext(ctx), w.cfg.Timeout)
			defer cancel()
			if err := w.send(sctx, d, epByID[d.EndpointID], evByID[d.EventID]); err != nil && ctx.Err() == nil {
				w.cfg.Log.Warn("webhook delivery not recorded", "delivery", d.ID, "err", err)
			}
		}()
	}
	return len(leased), nil
}

// claim leases up to room due deliveries in one transaction, at most
// PerEndpoint in flight per endpoint on this replica, and reserves their
// slots. The lease is what makes a delivery go out once across replicas:
// on MySQL the due rows are locked (SKIP LOCKED: another replica takes
// the next ones instead of waiting); on SQLite the one writer is the lock.
// Either way the update must lease every row read, or nothing is leased.
func (w *Webhooks) claim(ctx context.Context, room int, now time.Time) ([]*ent.WebhookDelivery, error) {
	tx, err := w.client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	free := webhookdelivery.Or(webhookdelivery.LeasedUntilIsNil(), webhookdelivery.LeasedUntilLT(now))
	q := tx.WebhookDelivery.Query().
		Where(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), webhookdelivery.NextAttemptAtLTE(now), free).
		Order(ent.Asc(webhookdelivery.FieldNextAttemptAt)).Limit(room * 4)
	if w.cfg.Dialect == dialect.MySQL {
		q = q.ForUpdate(sql.WithLockAction(sql.SkipLocked))
	}
	due, err := q.All(ctx)
	if err != nil {
		_ = tx.Rollback()
		return nil, w.claimErr(err)
	}
	var leased []*ent.WebhookDelivery
	var ids []string
	for _, d := range due {
		if len(leased) == room || !w.reserve(d.EndpointID) {
			continue
		}
		leased, ids = append(leased, d), append(ids, d.ID)
	}
	if len(leased) == 0 {
		_ = tx.Rollback()
		return nil, nil
	}
	n, err := tx.WebhookDelivery.Update().
		Where(webhookdelivery.IDIn(ids...), webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), free).
		SetLeasedUntil(now.Add(w.cfg.Lease)).Save(ctx)
	if err == nil && n != len(ids) {
		err = errLeaseRace
	}
	if err == nil {
		err = tx.Commit()
	} else {
		_ = tx.Rollback()
	}
	if err != nil {
		w.releaseAll(leased)
		return nil, w.claimErr(err)
	}
	return leased, nil
}

// errLeaseRace: another replica leased some of the rows read; the next
// look takes what is left.
var errLeaseRace = errors.New("deliveries leased by another replica")

// claimErr drops the errors that only mean another replica got there
// first (a deadlock, a busy SQLite, a lost race): the next look retries.
func (w *Webhooks) claimErr(err error) error {
	if errors.Is(err, errLeaseRace) || store.IsTransient(err) {
		return nil
	}
	return fmt.Errorf("lease deliveries: %w", err)
}

// releaseAll gives back the in-flight slots of leased deliveries not sent
// (their leases run out on their own).
func (w *Webhooks) releaseAll(ds []*ent.WebhookDelivery) {
	for _, d := range ds {
		w.release(d.EndpointID)
	}
}

func (w *Webhooks) reserve(endpoint string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[endpoint] >= w.cfg.PerEndpoint {
		return false
	}
	w.busy[endpoint]++
	return true
}

func (w *Webhooks) release(endpoint string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[endpoint]--; w.busy[endpoint] <= 0 {
		delete(w.busy, endpoint)
	}
}

// Payload is the body of a delivery, in the Standard Webhooks shape.
type Payload struct {
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// maxResponseRead is how much of a receiver's answer is read (and then
// dropped): enough to reuse the connection, never a memory risk.
const maxResponseRead = 64 << 10

// send makes one attempt at d and records its outcome.
func (w *Webhooks) send(ctx context.Context, d *ent.WebhookDelivery, ep *ent.WebhookEndpoint, ev *ent.Event) error {
	if ep == nil || ev == nil {
		return fmt.Errorf("delivery %s: endpoint or event missing", d.ID)
	}
	if ep.Status != webhookendpoint.StatusENABLED {
		// Disabled after the lease: keep it for when it is enabled again.
		return w.record(&outcome{d: d, ep: ep, parked: true})
	}
	data := map[string]any{"id": ev.ObjectID}
	for k, v := range ev.Data {
		data[k] = v
	}
	body, err := json.Marshal(Payload{Type: ev.Type, Timestamp: ev.CreatedAt.UTC(), Data: data})
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	o := &outcome{d: d, ep: ep}
	var secrets []string
	if secrets, o.err = w.signingSecrets(ep, now); o.err == nil {
		var sig string
		if sig, o.err = Sign(secrets, ev.ID, now, body); o.err == nil {
			o.status, o.err = w.post(ctx, ep.URL, ev.ID, now, sig, body)
		}
	}
	if w.afterPost != nil && w.afterPost(d) {
		return nil // a crash before the outcome is written: the lease runs out and it goes again
	}
	return w.record(o)
}

// Sign returns the webhook-signature header for body: one v1 signature per
// secret in use (the current one, and a rotated one during its overlap).
func Sign(secrets []string, msgID string, at time.Time, body []byte) (string, error) {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("secret %d: %w", i+1, err)
		}
		if sigs[i], err = wh.Sign(msgID, at, body); err != nil {
			return "", err
		}
	}
	return strings.Join(sigs, " "), nil
}

func (w *Webhooks) post(ctx context.Context, url, msgID string, at time.Time, sig string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Strait-Webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	return resp.StatusCode, nil
}

// outcome is one attempt's result, waiting to be written.
type outcome struct {
	d      *ent.WebhookDelivery
	ep     *ent.WebhookEndpoint
	status int   // the receiver's answer, 0 if none
	err    error // why there was no answer
	parked bool  // the endpoint was disabled after the lease: not attempted
	done   chan error
}

// outcomeQueue batches outcomes: while one batch is being written, the next
// gathers, so under load many outcomes share one transaction (one COMMIT,
// one fsync) instead of one each.
type outcomeQueue struct {
	mu       sync.Mutex
	queue    []*outcome
	flushing bool
}

// recordTries bounds the attempts to write one batch after deadlocks.
const recordTries = 5

// maxRecordBatch bounds the outcomes one transaction writes.
const maxRecordBatch = 256

// record writes o with the outcomes gathered beside it and returns once
// it is committed (or failed for good). A sender's slot is held until
// then: the lease is only given back by the write that records it.
func (w *Webhooks) record(o *outcome) error {
	o.done = make(chan error, 1)
	w.rec.mu.Lock()
	w.rec.queue = append(w.rec.queue, o)
	if !w.rec.flushing {
		w.rec.flushing = true
		go w.flushOutcomes()
	}
	w.rec.mu.Unlock()
	return <-o.done
}

// flushOutcomes writes the queued outcomes batch after batch until none
// are left, then wakes the sender: the slots freed take the next ones.
func (w *Webhooks) flushOutcomes() {
	for {
		w.rec.mu.Lock()
		batch := w.rec.queue
		if len(batch) > maxRecordBatch {
			batch, w.rec.queue = batch[:maxRecordBatch:maxRecordBatch], batch[maxRecordBatch:]
		} else {
			w.rec.queue = nil
		}
		if len(batch) == 0 {
			w.rec.flushing = false
			w.rec.mu.Unlock()
			return
		}
		w.rec.mu.Unlock()
		// A deadlock with another replica's leasing rolls the batch back; it
		// is retried, or its deliveries would go again when their leases end.
		var err error
		for try := 1; ; try++ {
			ctx, cancel := context.WithTimeout(viewer.SystemContext(context.Background()), w.cfg.Timeout)
			err = w.writeOutcomes(ctx, batch)
			cancel()
			if err == nil || !store.IsTransient(err) || try == recordTries {
				break
			}
			time.Sleep(time.Duration(try) * 20 * time.Millisecond)
		}
		for _, o := range batch {
			o.done <- err
		}
		w.Wake()
	}
}

// writeOutcomes writes a batch of outcomes in one transaction: delivered
// on a 2xx (one statement per status code for the lot); the endpoint
// disabled on a 410 (the receiver says it is gone for good); otherwise the
// next attempt on the schedule, or failed once it has run out.
func (w *Webhooks) writeOutcomes(ctx context.Context, batch []*outcome) error {
	tx, err := w.client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := w.applyOutcomes(ctx, tx, batch); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (w *Webhooks) applyOutcomes(ctx context.Context, tx *ent.Tx, batch []*outcome) error {
	now := w.cfg.Now()
	delivered := map[int][]string{} // ids by status code
	var gone []*ent.WebhookEndpoint
	for _, o := range batch {
		d := o.d
		one := tx.WebhookDelivery.Update().Where(webhookdelivery.ID(d.ID))
		switch {
		case o.parked:
			if err := one.ClearLeasedUntil().SetNextAttemptAt(never).Exec(ctx); err != nil {
				return err
			}
			continue
		case o.err == nil && o.status >= 200 && o.status < 300:
			delivered[o.status] = append(delivered[o.status], d.ID)
			continue
		}
		u := one.SetAttempts(d.Attempts + 1).SetLastAttemptAt(now).ClearLeasedUntil()
		if o.status != 0 {
			u.SetLastStatusCode(o.status)
		}
		switch next := d.Attempts + 1; {
		case o.err == nil && o.status == http.StatusGone:
			u.SetStatus(webhookdelivery.StatusFAILED).SetLastError("410 Gone: endpoint disabled")
			if !slices.ContainsFunc(gone, func(e *ent.WebhookEndpoint) bool { return e.ID == o.ep.ID }) {
				gone = append(gone, o.ep)
			}
		case o.err != nil:
			u.SetLastError(clip(o.err.Error(), 300))
			w.retryOrFail(u, next, now)
		default:
			u.SetLastError(fmt.Sprintf("HTTP %d", o.status))
			w.retryOrFail(u, next, now)
		}
		if err := u.Exec(ctx); err != nil {
			return err
		}
	}
	// After the rows above: the endpoint's deliveries left pending (a
	// retry just scheduled among them) wait until it is enabled again.
	for _, ep := range gone {
		if _, err := w.setStatus(ctx, tx, ep, false, "the endpoint answered 410 Gone"); err != nil {
			return err
		}
	}
	for code, ids := range delivered {
		for len(ids) > 0 {
			n := min(len(ids), insertChunk)
			if err := tx.WebhookDelivery.Update().Where(webhookdelivery.IDIn(ids[:n]...)).
				AddAttempts(1).SetLastAttemptAt(now).ClearLeasedUntil().SetLastStatusCode(code).
				SetStatus(webhookdelivery.StatusSUCCEEDED).SetDeliveredAt(now).SetLastError("").Exec(ctx); err != nil {
				return err
			}
			ids = ids[n:]
		}
	}
	return nil
}

// retryOrFail schedules attempt next (counting from 0) with jitter, or
// fails the delivery when the schedule has run out.
func (w *Webhooks) retryOrFail(u *ent.WebhookDeliveryUpdate, next int, now time.Time) {
	if next >= len(w.cfg.Schedule) {
		u.SetStatus(webhookdelivery.StatusFAILED)
		return
	}
	u.SetNextAttemptAt(now.Add(w.jittered(w.cfg.Schedule[next])))
}

// jittered spreads wait by up to ±Jitter of itself.
func (w *Webhooks) jittered(wait time.Duration) time.Duration {
	spread := time.Duration(float64(wait) * w.cfg.Jitter)
	if spread <= 0 {
		return wait
	}
	return wait - spread + rand.N(2*spread)
}
