package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/webhookdelivery"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// eventsDB is MySQL when the tests have it, SQLite otherwise.
func eventsDB(b *testing.B) *store.DB {
	b.Helper()
	d := storetest.Dialects(b)
	return storetest.Open(b, d[len(d)-1])
}

// benchKeys is a fresh vault key ring: endpoint secrets are sealed under it.
func benchKeys(b *testing.B) *vault.KeyRing {
	r, err := vault.ParseKeyRing("bench:" + vault.GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func writeBenchEvents(b *testing.B, client *ent.Client, n int) {
	b.Helper()
	sys := viewer.SystemContext(context.Background())
	for i := 0; i < n; i += 100 {
		var rows []*ent.EventCreate
		for j := i; j < i+100 && j < n; j++ {
			rows = append(rows, client.Event.Create().SetMerchantID("mer_bench").SetType("payment.succeeded").
				SetObjectID(fmt.Sprintf("pay_%06d", j)).SetData(map[string]any{"amount": 4200, "currency": "SGD", "status": "succeeded"}))
		}
		if err := client.Event.CreateBulk(rows...).Exec(sys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWebhookDeliveries measures signed webhook deliveries per second to
// a local receiver (durable rows, leased, Standard Webhooks signatures, the
// SSRF-checked client), beside the same run's bare HTTP POSTs of the same
// bodies with the same concurrency. Goal: at least 2,000 deliveries/s.
func BenchmarkWebhookDeliveries(b *testing.B) {
	const endpoints, perEndpoint, eventsN = 20, 4, 250 // 5,000 deliveries, 80 in flight
	db := eventsDB(b)
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	policy := events.TargetPolicy{AllowAddrs: []string{strings.TrimPrefix(recv.URL, "http://")}}
	w := events.NewWebhooks(events.WebhookConfig{Client: db.Client, Dialect: db.Dialect, Policy: policy,
		PerEndpoint: perEndpoint, Workers: endpoints * perEndpoint, Poll: 5 * time.Millisecond, Keys: benchKeys(b)})
	ctx := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr", MerchantID: "mer_bench", Role: viewer.RoleAdmin})
	for i := 0; i < endpoints; i++ {
		if _, _, err := w.CreateEndpoint(ctx, events.EndpointInput{URL: fmt.Sprintf("%s/hook/%d", recv.URL, i)}); err != nil {
			b.Fatal(err)
		}
	}
	writeBenchEvents(b, db.Client, eventsN)
	relay := events.NewRelay(events.RelayConfig{Client: db.Client, Bus: events.NewInProcess(), OnAssign: w.Enqueue})
	for {
		n, err := relay.Step(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	want := int64(endpoints * eventsN)
	b.ResetTimer()
	start := time.Now()
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(rctx); close(done) }()
	// Done when every delivery is received and its outcome committed (a
	// delivery received but not recorded would go again).
	sys := viewer.SystemContext(context.Background())
	succeeded := func() int64 {
		n, err := db.Client.WebhookDelivery.Query().Where(webhookdelivery.StatusEQ(webhookdelivery.StatusSUCCEEDED)).Count(sys)
		if err != nil {
			b.Fatal(err)
		}
		return int64(n)
	}
	for got.Load() < want || succeeded() < want {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d delivered after 5 min", got.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	<-done
	b.StopTimer()
	if n := got.Load(); n != want {
		b.Fatalf("the receiver got %d deliveries, want %d (one per event and endpoint)", n, want)
	}
	rate := float64(want) / elapsed.Seconds()

	// Baseline: the same number of POSTs of a body of the same size, as
	// many at once, with a plain client.
	body := strings.Repeat("x", 160)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: endpoints * perEndpoint}}
	var next atomic.Int64
	bstart := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < endpoints*perEndpoint; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= want {
				resp, err := client.Post(recv.URL+"/bare", "application/json", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	bare := float64(want) / time.Since(bstart).Seconds()
	b.ReportMetric(rate, "deliveries/s")
	b.ReportMetric(bare, "bare_posts/s")
	fmt.Printf("webhooks (%s): %.0f signed deliveries/s (%d endpoints × %d in flight, %d deliveries); bare POST: %.0f/s; ratio %.2f (goal ≥ 2,000/s)\n",
		db.Dialect, rate, endpoints, perEndpoint, want, bare, rate/bare)
}

// BenchmarkHubSubscribers measures 10,000 live subscriptions on one hub:
// from the relay's publish to each subscriber's receipt (p50, p99), and the
// heap each subscription holds, beside the same run's bare fan-out (one
// channel per subscriber, no filter, no hub). It stops at the hub: the
// websocket writes on top are each socket's own (see docs/events.md).
func BenchmarkHubSubscribers(b *testing.B) {
	const subscribers, rounds = 10000, 20
	hub := events.NewHub(nil, nil)
	bus := events.NewInProcess()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := hub.Start(ctx, bus); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	lat := make([]time.Duration, 0, subscribers*rounds)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sent := make([]time.Time, rounds+1)
	var ready sync.WaitGroup
	for i := 0; i < subscribers; i++ {
		sub, err := hub.Subscribe(ctx, events.Filter{MerchantID: "mer_bench", Types: []string{"payment."}}, 0)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			mine := make([]time.Duration, 0, rounds)
			for m := range sub.C() {
				mine = append(mine, time.Since(sent[m.Seq]))
				if int(m.Seq) == rounds {
					break
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	ready.Wait()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSub := float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / subscribers
	b.ResetTimer()
	data, _ := json.Marshal(map[string]any{"status": "succeeded"})
	for r := 1; r <= rounds; r++ {
		sent[r] = time.Now()
		_ = bus.Publish(ctx, []events.Message{{ID: fmt.Sprint("evt_", r), Seq: int64(r), MerchantID: "mer_bench", Type: "payment.succeeded", Data: data}})
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	b.StopTimer()
	p50, p99 := percentile(lat, 50), percentile(append([]time.Duration(nil), lat...), 99)

	// Baseline: a bare fan-out to as many buffered channels.
	chans := make([]chan time.Time, subscribers)
	var bl []time.Duration
	var bwg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan time.Time, 1)
		bwg.Add(1)
		go func(c chan time.Time) {
			defer bwg.Done()
			for r := 0; r < rounds; r++ {
				t := <-c
				d := time.Since(t)
				mu.Lock()
				bl = append(bl, d)
				mu.Unlock()
			}
		}(chans[i])
	}
	for r := 0; r < rounds; r++ {
		now := time.Now()
		for _, c := range chans {
			c <- now
		}
		time.Sleep(20 * time.Millisecond)
	}
	bwg.Wait()
	b50, b99 := percentile(bl, 50), percentile(append([]time.Duration(nil), bl...), 99)
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
	b.ReportMetric(perSub/1024, "KiB/subscriber")
	fmt.Printf("hub: %d subscribers, publish to receipt p50 %s p99 %s (goal p99 ≤ 100 ms); %.1f KiB per subscription (goal ≤ 50 KB); bare fan-out p50 %s p99 %s\n",
		subscribers, p50, p99, perSub/1024, b50, b99)
}
