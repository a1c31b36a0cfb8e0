package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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
	now := w.cfg.Now()
	due, err := w.client.WebhookDelivery.Query().
		Where(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), webhookdelivery.NextAttemptAtLTE(now),
			webhookdelivery.Or(webhookdelivery.LeasedUntilIsNil(), webhookdelivery.LeasedUntilLT(now))).
		Order(ent.Asc(webhookdelivery.FieldNextAttemptAt)).Limit(room * 4).All(sys)
	if err != nil {
		return 0, fmt.Errorf("due deliveries: %w", err)
	}
	var leased []*ent.WebhookDelivery
	for _, d := range due {
		if len(leased) == room || !w.reserve(d.EndpointID) {
			continue
		}
		// The lease: whoever updates the row first sends it.
		n, err := w.client.WebhookDelivery.Update().
			Where(webhookdelivery.ID(d.ID), webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING),
				webhookdelivery.Or(webhookdelivery.LeasedUntilIsNil(), webhookdelivery.LeasedUntilLT(now))).
			SetLeasedUntil(now.Add(w.cfg.Lease)).Save(sys)
		if err != nil || n == 0 {
			w.release(d.EndpointID)
			if err != nil && !store.IsTransient(err) { // a deadlock: another replica is leasing it
				w.releaseAll(leased)
				return 0, fmt.Errorf("lease delivery %s: %w", d.ID, err)
			}
			continue
		}
		leased = append(leased, d)
	}
	if len(leased) == 0 {
		return 0, nil
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
			// The POST and the recording of its outcome: Timeout each.
			sctx, cancel := context.WithTimeout(viewer.SystemContext(ctx), 2*w.cfg.Timeout)
			defer cancel()
			if err := w.send(sctx, d, epByID[d.EndpointID], evByID[d.EventID]); err != nil && ctx.Err() == nil {
				w.cfg.Log.Warn("webhook delivery not recorded", "delivery", d.ID, "err", err)
			}
		}()
	}
	return len(leased), nil
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
		return w.client.WebhookDelivery.UpdateOne(d).ClearLeasedUntil().SetNextAttemptAt(never).Exec(ctx)
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
	var status int
	secrets, sendErr := w.signingSecrets(ep, now)
	if sendErr == nil {
		var sig string
		if sig, sendErr = Sign(secrets, ev.ID, now, body); sendErr == nil {
			status, sendErr = w.post(ctx, ep.URL, ev.ID, now, sig, body)
		}
	}
	// A deadlock with another replica's leasing rolls the record back; it
	// is retried, or the delivery would be sent again when its lease ends.
	for try := 1; ; try++ {
		err := w.record(ctx, d, ep, status, sendErr)
		if err == nil || !store.IsTransient(err) || try == recordTries {
			return err
		}
		time.Sleep(time.Duration(try) * 20 * time.Millisecond)
	}
}

// recordTries bounds the attempts to record one outcome after deadlocks.
const recordTries = 5

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

// record writes an attempt's outcome: delivered on a 2xx; the endpoint
// disabled on a 410 (the receiver says it is gone for good); otherwise
// the next attempt on the schedule, or failed once it has run out.
func (w *Webhooks) record(ctx context.Context, d *ent.WebhookDelivery, ep *ent.WebhookEndpoint, status int, sendErr error) error {
	now := w.cfg.Now()
	u := w.client.WebhookDelivery.UpdateOne(d).SetAttempts(d.Attempts + 1).SetLastAttemptAt(now).ClearLeasedUntil()
	if status != 0 {
		u.SetLastStatusCode(status)
	}
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		return u.SetStatus(webhookdelivery.StatusSUCCEEDED).SetDeliveredAt(now).SetLastError("").Exec(ctx)
	case sendErr == nil && status == http.StatusGone:
		tx, err := w.client.Tx(ctx)
		if err != nil {
			return err
		}
		if _, err := w.setStatus(ctx, tx, ep, false, "the endpoint answered 410 Gone"); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.WebhookDelivery.UpdateOneID(d.ID).SetAttempts(d.Attempts + 1).SetLastAttemptAt(now).ClearLeasedUntil().
			SetLastStatusCode(status).SetStatus(webhookdelivery.StatusFAILED).SetLastError("410 Gone: endpoint disabled").Exec(ctx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	msg := fmt.Sprintf("HTTP %d", status)
	if sendErr != nil {
		msg = clip(sendErr.Error(), 300)
	}
	u.SetLastError(msg)
	next := d.Attempts + 1
	if next >= len(w.cfg.Schedule) {
		return u.SetStatus(webhookdelivery.StatusFAILED).Exec(ctx)
	}
	return u.SetNextAttemptAt(now.Add(w.jittered(w.cfg.Schedule[next]))).Exec(ctx)
}

// jittered spreads wait by up to ±Jitter of itself.
func (w *Webhooks) jittered(wait time.Duration) time.Duration {
	spread := time.Duration(float64(wait) * w.cfg.Jitter)
	if spread <= 0 {
		return wait
	}
	return wait - spread + rand.N(2*spread)
}
