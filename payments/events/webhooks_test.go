package events

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/webhookdelivery"
	"github.com/straitpay/strait/ent/webhookendpoint"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// receiver is a merchant's webhook endpoint: it answers with the status
// its test sets and keeps what it was sent.
type receiver struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []delivered
}

type delivered struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.status.Store(http.StatusOK)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivered{req.Header.Clone(), b})
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivered(nil), r.got...)
}

func merchantCtx(merchant string) context.Context {
	return viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: merchant, Role: viewer.RoleAdmin})
}

// webhookSetup relays the events of db with a.Enqueue and returns a
// sender reaching only the receivers' addresses.
func webhookSetup(t *testing.T, db *store.DB, now func() time.Time, rs ...*receiver) (*Webhooks, *Relay) {
	t.Helper()
	var addrs []string
	for _, r := range rs {
		addrs = append(addrs, strings.TrimPrefix(r.srv.URL, "http://"))
	}
	w := NewWebhooks(WebhookConfig{Client: db.Client, Dialect: db.Dialect, Now: now, Policy: TargetPolicy{AllowAddrs: addrs}, Poll: 20 * time.Millisecond,
		Keys: testRing(t, "k1")})
	relay := NewRelay(RelayConfig{Client: db.Client, Bus: NewInProcess(), Holder: "a", OnAssign: w.Enqueue, Now: now})
	return w, relay
}

func sendAll(t *testing.T, w *Webhooks) {
	t.Helper()
	for {
		var wg sync.WaitGroup
		n, err := w.SendDue(context.Background(), &wg)
		if err != nil {
			t.Error(err)
			return
		}
		wg.Wait()
		if n == 0 {
			return
		}
	}
}

func TestWebhookIsSignedForAnIndependentStandardWebhooksVerifier(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		w, relay := webhookSetup(t, db, time.Now, r)
		ctx := merchantCtx("mer_1")
		ep, secret, err := w.CreateEndpoint(ctx, EndpointInput{URL: r.srv.URL + "/hooks", EventTypes: []string{"payment."}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("secret %q", secret)
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 2)
		writeEvents(t, db.Client, "mer_2", []string{"pay_2"}, 1) // another merchant's
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		sendAll(t, w)
		got := r.deliveries()
		if len(got) != 2 {
			t.Fatalf("%d deliveries, want 2", len(got))
		}
		verifier, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range got {
			if err := verifier.Verify(d.body, d.header); err != nil {
				t.Fatalf("signature refused: %v (%s)", err, d.header.Get("webhook-signature"))
			}
			var p Payload
			if err := json.Unmarshal(d.body, &p); err != nil || p.Type != "payment.processing" || p.Data["id"] != "pay_1" {
				t.Fatalf("payload %s", d.body)
			}
			if !strings.HasPrefix(d.header.Get("webhook-id"), "evt_") {
				t.Fatalf("webhook-id %q", d.header.Get("webhook-id"))
			}
		}
		// Rotation: both secrets verify for the overlap.
		_, newSecret, err := w.RotateSecret(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 1)
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		sendAll(t, w)
		last := r.deliveries()[2]
		for _, s := range []string{secret, newSecret} {
			v, _ := standardwebhooks.NewWebhook(s)
			if err := v.Verify(last.body, last.header); err != nil {
				t.Fatalf("after rotation, secret %s… refused: %v", s[:10], err)
			}
		}
	})
}

func TestWebhookRetriesOnTheScheduleAndA410DisablesTheEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var clock atomic.Int64
		start := time.Now()
		now := func() time.Time { return start.Add(time.Duration(clock.Load())) }
		r := newReceiver(t)
		r.status.Store(http.StatusServiceUnavailable)
		w, relay := webhookSetup(t, db, now, r)
		w.cfg.Jitter = 0.0001
		ep, _, err := w.CreateEndpoint(merchantCtx("mer_1"), EndpointInput{URL: r.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 1)
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		sys := viewer.SystemContext(context.Background())
		for attempt := 1; attempt <= 3; attempt++ {
			sendAll(t, w)
			d := db.Client.WebhookDelivery.Query().OnlyX(sys)
			if d.Attempts != attempt || d.Status != webhookdelivery.StatusPENDING || *d.LastStatusCode != 503 {
				t.Fatalf("after attempt %d: %+v", attempt, d)
			}
			wait := d.NextAttemptAt.Sub(now())
			want := RetrySchedule[attempt]
			if wait < want-want/100-time.Millisecond || wait > want+want/100+time.Millisecond {
				t.Fatalf("attempt %d: next in %s, want about %s", attempt, wait, want)
			}
			sendAll(t, w) // not due yet: nothing sent
			if n := len(r.deliveries()); n != attempt {
				t.Fatalf("sent %d times before it was due", n)
			}
			clock.Add(int64(wait + time.Millisecond))
		}
		r.status.Store(http.StatusGone)
		sendAll(t, w)
		d := db.Client.WebhookDelivery.Query().OnlyX(sys)
		e := db.Client.WebhookEndpoint.GetX(sys, ep.ID)
		if d.Status != webhookdelivery.StatusFAILED || e.Status != webhookendpoint.StatusDISABLED {
			t.Fatalf("after a 410: delivery %s, endpoint %s", d.Status, e.Status)
		}
	})
}

func TestWebhookDeliveryGoesOutOnceWhateverTheReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		a, relay := webhookSetup(t, db, time.Now, r)
		b, _ := webhookSetup(t, db, time.Now, r)
		if _, _, err := a.CreateEndpoint(merchantCtx("mer_1"), EndpointInput{URL: r.srv.URL}); err != nil {
			t.Fatal(err)
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1", "pay_2"}, 10)
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Numbering again (a second relay's enqueue) makes no second delivery.
		evs := db.Client.Event.Query().AllX(viewer.SystemContext(context.Background()))
		tx, _ := db.Client.Tx(context.Background())
		if err := a.Enqueue(context.Background(), tx, evs); err != nil {
			t.Fatal(err)
		}
		_ = tx.Commit()
		var wg sync.WaitGroup
		for i := 0; i < 5; i++ {
			for _, w := range []*Webhooks{a, b} {
				wg.Add(1)
				go func() { defer wg.Done(); sendAll(t, w) }()
			}
		}
		wg.Wait()
		sendAll(t, a)
		ids := map[string]int{}
		for _, d := range r.deliveries() {
			ids[d.header.Get("webhook-id")]++
		}
		if len(ids) != 20 {
			t.Fatalf("%d events delivered, want 20", len(ids))
		}
		for id, n := range ids {
			if n != 1 {
				t.Fatalf("event %s delivered %d times", id, n)
			}
		}
	})
}

func TestWebhookTargetsArePublicAfterResolutionAndOnRedirects(t *testing.T) {
	ctx := context.Background()
	strict := TargetPolicy{}
	for _, u := range []string{"https://127.0.0.1/x", "https://10.0.0.8/", "https://169.254.169.254/latest", "https://[::1]/", "https://localhost/", "http://example.com/", "ftp://example.com/", "https://user:pw@example.com/"} {
		if err := strict.CheckURL(ctx, u); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("%s accepted (%v)", u, err)
		}
	}
	if err := (TargetPolicy{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1:9/x"); err != nil {
		t.Errorf("the development setting refused a local target: %v", err)
	}
	// A receiver allowed by address redirects to one that is not: the
	// redirect is refused when it dials.
	inner := newReceiver(t)
	outer := httptest.NewServer(http.RedirectHandler(inner.srv.URL, http.StatusTemporaryRedirect))
	t.Cleanup(outer.Close)
	c := TargetPolicy{AllowAddrs: []string{strings.TrimPrefix(outer.URL, "http://")}}.HTTPClient(5 * time.Second)
	_, err := c.Post(outer.URL, "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("redirect to a loopback receiver: %v", err)
	}
	if len(inner.deliveries()) != 0 {
		t.Fatal("the loopback receiver was reached")
	}
	// DNS is checked at dial time too: a name that resolves to loopback.
	_, err = TargetPolicy{}.HTTPClient(5 * time.Second).Get("http://localhost:" + strings.Split(inner.srv.URL, ":")[2])
	if err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("localhost dialed: %v", err)
	}
	_ = net.IPv4len
}

func TestWebhookEndpointsAreTheMerchantsOwn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t)
		w, _ := webhookSetup(t, db, time.Now, r)
		ep, _, err := w.CreateEndpoint(merchantCtx("mer_1"), EndpointInput{URL: r.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		other := merchantCtx("mer_2")
		if _, err := w.SetEnabled(other, ep.ID, false); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Fatalf("another merchant disabled it: %v", err)
		}
		if _, _, err := w.RotateSecret(other, ep.ID); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Fatalf("another merchant rotated it: %v", err)
		}
		if _, err := w.UpdateEndpoint(merchantCtx("mer_1"), ep.ID, nil, []string{"no spaces allowed"}); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("bad event type accepted: %v", err)
		}
		var _ *ent.WebhookEndpoint = ep
	})
}

// A replica that dies after the POST and before writing its outcome loses
// nothing: the lease runs out and the delivery goes again, with the same
// webhook-id, so the receiver can tell it already has it.
func TestWebhookCrashAfterThePostOnlyRedelivers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var clock atomic.Int64
		start := time.Now()
		now := func() time.Time { return start.Add(time.Duration(clock.Load())) }
		r := newReceiver(t)
		w, relay := webhookSetup(t, db, now, r)
		if _, _, err := w.CreateEndpoint(merchantCtx("mer_1"), EndpointInput{URL: r.srv.URL}); err != nil {
			t.Fatal(err)
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 1)
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.afterPost = func(*ent.WebhookDelivery) bool { return true } // the crash
		sendAll(t, w)
		w.afterPost = nil
		sys := viewer.SystemContext(context.Background())
		d := db.Client.WebhookDelivery.Query().OnlyX(sys)
		if len(r.deliveries()) != 1 || d.Status != webhookdelivery.StatusPENDING || d.LeasedUntil == nil {
			t.Fatalf("after the crash: %d sent, delivery %+v", len(r.deliveries()), d)
		}
		sendAll(t, w) // still leased: not sent again yet
		if n := len(r.deliveries()); n != 1 {
			t.Fatalf("sent %d times while leased", n)
		}
		clock.Add(int64(w.cfg.Lease + time.Second))
		sendAll(t, w)
		got := r.deliveries()
		if len(got) != 2 || got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") {
			t.Fatalf("after the lease: %d deliveries, want the same message twice", len(got))
		}
		if d = db.Client.WebhookDelivery.Query().OnlyX(sys); d.Status != webhookdelivery.StatusSUCCEEDED || d.Attempts != 1 {
			t.Fatalf("after the redelivery: %+v", d)
		}
	})
}

// Outcomes written together keep each their own meaning: a batch with
// successes, a retry and a 410 records each as if written alone.
func TestWebhookOutcomesBatchedKeepTheirMeaning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ok, busy, gone := newReceiver(t), newReceiver(t), newReceiver(t)
		busy.status.Store(http.StatusServiceUnavailable)
		gone.status.Store(http.StatusGone)
		w, relay := webhookSetup(t, db, time.Now, ok, busy, gone)
		ctx := merchantCtx("mer_1")
		var eps []*ent.WebhookEndpoint
		for _, r := range []*receiver{ok, busy, gone} {
			ep, _, err := w.CreateEndpoint(ctx, EndpointInput{URL: r.srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			eps = append(eps, ep)
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 3)
		if _, err := relay.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		if _, err := w.SendDue(context.Background(), &wg); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		sys := viewer.SystemContext(context.Background())
		byEP := map[string][]*ent.WebhookDelivery{}
		for _, d := range db.Client.WebhookDelivery.Query().AllX(sys) {
			byEP[d.EndpointID] = append(byEP[d.EndpointID], d)
		}
		for _, d := range byEP[eps[0].ID] {
			if d.Status != webhookdelivery.StatusSUCCEEDED || d.Attempts != 1 || d.DeliveredAt == nil || d.LeasedUntil != nil || *d.LastStatusCode != 200 {
				t.Fatalf("delivered: %+v", d)
			}
		}
		for _, d := range byEP[eps[1].ID] {
			if d.Status != webhookdelivery.StatusPENDING || d.Attempts != 1 || d.LeasedUntil != nil || d.LastError != "HTTP 503" ||
				d.NextAttemptAt.Before(time.Now().Add(4*time.Second)) {
				t.Fatalf("to retry: %+v", d)
			}
		}
		failed := 0
		for _, d := range byEP[eps[2].ID] {
			if d.Status == webhookdelivery.StatusFAILED {
				failed++
			} else if d.NextAttemptAt.Before(never) {
				t.Fatalf("left due on a gone endpoint: %+v", d)
			}
		}
		if e := db.Client.WebhookEndpoint.GetX(sys, eps[2].ID); failed == 0 || e.Status != webhookendpoint.StatusDISABLED {
			t.Fatalf("after a 410: %d failed, endpoint %s", failed, e.Status)
		}
	})
}
