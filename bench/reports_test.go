package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/reports"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
	"github.com/straitpay/strait/server/auth"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// The benchmark merchant's traffic: payments spread over 30 days, in two
// currencies, through three connectors, by three methods; 85 % approved
// (a tenth of them after one decline), 15 % declined for good, 3 % of the
// approved refunded in part, 0.5 % disputed.
var (
	benchCurrencies = []string{"SGD", "USD"}
	benchConnectors = []string{"cardnet", "acquirer2", "walletpay"}
	benchMethods    = []string{"card", "wallet", "bank_transfer"}
)

const reportDays = 30

// benchPayment makes payment i's events and rows, as the cashier, refunds
// and disputes write them.
func benchPayment(rng *rand.Rand, merchant string, i int, start time.Time) ([]reports.Event, reports.Rows) {
	id := fmt.Sprintf("pay_%s_%08d", merchant[len(merchant)-8:], i)
	// Every event of the payment (the last is a dispute, two hours on) is
	// inside the 30 days.
	at := start.Add(time.Duration(rng.Int64N(int64(reportDays*24*time.Hour - 3*time.Hour))))
	amount := 500 + rng.Int64N(50_000)
	p := reports.Payment{ID: id, Currency: benchCurrencies[rng.IntN(len(benchCurrencies))],
		Connector: benchConnectors[rng.IntN(len(benchConnectors))], Method: benchMethods[rng.IntN(len(benchMethods))]}
	rows := reports.Rows{Payments: map[string]reports.Payment{}, Refunds: map[string]reports.Refund{}}
	ev := func(n int, typ, object string, after time.Duration, data map[string]any) reports.Event {
		return reports.Event{ID: fmt.Sprintf("evt_%s_%d", id, n), Type: typ, MerchantID: merchant, ObjectID: object, Data: data, At: at.Add(after)}
	}
	evs := []reports.Event{ev(0, "payment.processing", id, 0, map[string]any{"connector": p.Connector})}
	roll := rng.IntN(1000)
	switch {
	case roll < 150:
		evs = append(evs, ev(1, "payment.failed", id, time.Second, map[string]any{"status": "failed", "connector": p.Connector}))
	default:
		if roll < 235 {
			evs = append(evs, ev(1, "payment.failed", id, time.Second, map[string]any{"status": "requires_payment_method", "connector": p.Connector}))
		}
		p.AmountCaptured, p.FeeAmount = amount, 30+amount*29/1000
		evs = append(evs, ev(2, "payment.succeeded", id, 2*time.Second, map[string]any{"status": "succeeded", "connector": p.Connector}))
		if roll >= 970 {
			rid := "ref_" + id
			rows.Refunds[rid] = reports.Refund{ID: rid, PaymentID: id, Currency: p.Currency, Amount: amount / 2, FeeReversed: p.FeeAmount / 2}
			evs = append(evs, ev(3, "refund.succeeded", rid, time.Hour, nil))
		}
		if roll >= 995 {
			evs = append(evs, ev(4, "dispute.created", "dp_"+id, 2*time.Hour,
				map[string]any{"payment_id": id, "amount": float64(amount), "currency": p.Currency}))
		}
	}
	rows.Payments[id] = p
	return evs, rows
}

// seeded is what seeding put in: the payments' own totals per currency,
// which the report over the whole window must equal.
type seeded struct {
	payments, events int
	took             time.Duration
	// gross, refunded and succeeded by currency, from the generator.
	gross, refunded, succeeded map[string]int64
}

// seedReportMerchant writes n payments of merchant, 2,000 per transaction:
// their payment rows by multi-row INSERT, and their events folded into the
// rollups by the consumer's own fold and upsert (reports.Fold,
// reports.AddRollups). The marks the live consumer also writes are left
// out (each batch holds whole payments, so nothing in it can count twice),
// and so is the outbox table: the consumer's own rate over real outbox rows
// is BenchmarkReportRollupConsumer's.
func seedReportMerchant(b testing.TB, db *store.DB, merchant string, n int, start time.Time) seeded {
	b.Helper()
	ctx := viewer.SystemContext(context.Background())
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	out := seeded{payments: n, gross: map[string]int64{}, refunded: map[string]int64{}, succeeded: map[string]int64{}}
	began := time.Now()
	const batch = 2000
	for i := 0; i < n; i += batch {
		var evs []reports.Event
		rows := reports.Rows{Payments: map[string]reports.Payment{}, Refunds: map[string]reports.Refund{}}
		var ins strings.Builder
		ins.WriteString("INSERT INTO payments (id, created_at, updated_at, merchant_id, amount, currency, amount_captured, amount_refunded, fee_amount, status, payment_method_type, connector) VALUES ")
		var args []any
		for j := i; j < i+batch && j < n; j++ {
			e, r := benchPayment(rng, merchant, j, start)
			evs = append(evs, e...)
			var refunded int64
			for k, v := range r.Refunds {
				rows.Refunds[k] = v
				refunded += v.Amount
			}
			for k, p := range r.Payments {
				rows.Payments[k] = p
				status := "FAILED"
				if p.AmountCaptured > 0 {
					status = "SUCCEEDED"
					out.succeeded[p.Currency]++
				}
				out.gross[p.Currency] += p.AmountCaptured
				out.refunded[p.Currency] += refunded
				if j > i {
					ins.WriteString(",")
				}
				ins.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
				at := e[0].At
				args = append(args, p.ID, at, e[len(e)-1].At, merchant, max(p.AmountCaptured, 500), p.Currency,
					p.AmountCaptured, refunded, p.FeeAmount, status, p.Method, p.Connector)
			}
		}
		out.events += len(evs)
		deltas, _ := reports.Fold(evs, rows, map[string]bool{})
		if _, err := store.WithTx(ctx, db.Client, func(tx *ent.Tx) (struct{}, error) {
			if _, err := tx.ExecContext(ctx, ins.String(), args...); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, reports.AddRollups(ctx, tx.Client(), deltas)
		}); err != nil {
			b.Fatal(err)
		}
	}
	out.took = time.Since(began)
	return out
}

// reportQuery is a dashboard's report: every figure of every line.
const reportQuery = `query($from: String!, $to: String!, $groupBy: ReportGroupBy!, $tz: String) {
	merchantReport(from: $from, to: $to, groupBy: $groupBy, timezone: $tz) {
		from to timezone groupBy
		groups { key currency
			gross { amount currency decimal } fees { amount currency decimal } net { amount currency decimal }
			refunded { amount currency decimal } disputed { amount currency decimal }
			payments succeeded failed authorized declined refunds disputes
			authorizationRate refundRate disputeRate } } }`

// reportGroup is a line of the answer, as a client decodes it.
type reportGroup struct {
	Key, Currency   string
	Gross, Refunded struct {
		Amount string `json:"amount"`
	}
	Payments, Succeeded int64
}

// gqlClient posts GraphQL requests to a Strait over HTTP with a bearer
// token, as a dashboard does.
type gqlClient struct {
	url, token string
	http       *http.Client
}

func (c gqlClient) post(query string, vars map[string]any, into any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != http.StatusOK || len(out.Errors) > 0 {
		return fmt.Errorf("HTTP %d: %v %.300s", res.StatusCode, err, raw)
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(out.Data, into)
}

// benchApp is Strait's HTTP handler on db with a fresh signing key, and
// the key set that mints its tokens.
func benchApp(b testing.TB, db *store.DB) (http.Handler, *auth.KeySet) {
	b.Helper()
	dir := b.TempDir()
	if _, err := auth.GenerateKey(dir, time.Now().Add(-time.Minute)); err != nil {
		b.Fatal(err)
	}
	ks, err := auth.LoadKeySet(dir, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := app.ParseConfig("bench", nil, func(string) string { return "" })
	return app.New(cfg, db, ks, app.Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Handler(), ks
}

// loadavg is the 1-minute load average (uptime's first figure).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// BenchmarkMerchantReport measures merchantReport for 30 days by day as a
// client sees it: a GraphQL POST over HTTP (loopback TCP, a merchant
// analyst's JWT, every figure of every line) to Strait's real handler,
// timed from the request until its answer is read and decoded, on MySQL
// when the tests have it, for merchants of 10k, 100k and 1M payments (the
// payment rows are in the database too: 1.11M at the end). Each call is
// interleaved with the same run's baselines, so a load spike hits them
// alike: a bare single-row INSERT and a SELECT 1 on the same pool, and the
// cheapest GraphQL request over the same HTTP path ({ __typename }). It
// also times the report in-process (reports.Service, as the resolver
// calls it). Before timing, the report's totals are checked against the
// payments table itself (count, gross and refunded per currency). Goal:
// p99 ≤ 100 ms at 1M.
//
//	STRAIT_TEST_MYSQL_DSN='root:@tcp(127.0.0.1:3306)/strait_reports' \
//	  go test ./bench -run '^$' -bench 'MerchantReport' -benchtime 1x -timeout 30m
//
// STRAIT_BENCH_REPORT_SIZES ("10000,100000,1000000") and
// STRAIT_BENCH_REPORT_CALLS (300) change the sizes and the calls per size;
// STRAIT_BENCH_CPUPROFILE writes a CPU profile of the timed calls.
func BenchmarkMerchantReport(b *testing.B) {
	db := eventsDB(b)
	sys := viewer.SystemContext(context.Background())
	sizes := []int{10_000, 100_000, 1_000_000}
	if s := os.Getenv("STRAIT_BENCH_REPORT_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("STRAIT_BENCH_REPORT_SIZES=%q", s)
			}
			sizes = append(sizes, n)
		}
	}
	calls := envInt(b, "STRAIT_BENCH_REPORT_CALLS", 300)
	svc := reports.NewService(db.Client)
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -reportDays)
	from, to := start.Format("2006-01-02"), start.AddDate(0, 0, reportDays-1).Format("2006-01-02")
	vars := map[string]any{"from": from, "to": to, "groupBy": "DAY"}
	q := reports.Query{From: from, To: to, GroupBy: reports.ByDay}

	h, ks := benchApp(b, db)
	srv := httptest.NewServer(h)
	defer srv.Close()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	if _, err := db.SQL.Exec("CREATE TABLE bench_bare (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	bareID := 0

	out := fmt.Sprintf("\nmerchantReport, %d days by day, over HTTP GraphQL (%s; %d calls per size, each interleaved with the baselines; goal p99 ≤ 100 ms at 1M):\n", reportDays, db.Dialect, calls)
	out += "| payments | seeded in (payment rows + rollups) | load (1 min) | report over HTTP p50 / p99 | in-process p50 / p99 | lines | { __typename } over HTTP p50 / p99 | bare INSERT p50 / p99 | SELECT 1 p50 / p99 |\n"
	out += "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
	for _, n := range sizes {
		m := db.Client.Merchant.Create().SetLegalName(fmt.Sprintf("Bench %d", n)).SetCountry("SG").SetSettlementCurrency("SGD").SaveX(sys)
		seed := seedReportMerchant(b, db, m.ID, n, start)
		token, err := ks.Mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_bench", MerchantID: m.ID, Role: viewer.RoleAnalyst}, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		c := gqlClient{url: srv.URL + "/graphql", token: token, http: httpc}
		checkReport(b, db, c, vars, m.ID, seed)
		ctx := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_bench", MerchantID: m.ID, Role: viewer.RoleAnalyst})
		for range 10 { // warm the pools and caches
			if err := c.post(reportQuery, vars, nil); err != nil {
				b.Fatal(err)
			}
		}
		loadBefore := loadavg()
		stop := func() {}
		if n == sizes[len(sizes)-1] {
			stop = profileCPU(b, os.Getenv("STRAIT_BENCH_CPUPROFILE"))
		}
		var overHTTP, inProc, floor, bare, sel1 []time.Duration
		var lines int
		for range calls {
			t0 := time.Now()
			var r struct {
				MerchantReport struct{ Groups []reportGroup }
			}
			if err := c.post(reportQuery, vars, &r); err != nil {
				b.Fatal(err)
			}
			overHTTP = append(overHTTP, time.Since(t0))
			lines = len(r.MerchantReport.Groups)

			t0 = time.Now()
			if _, err := svc.MerchantReport(ctx, q); err != nil {
				b.Fatal(err)
			}
			inProc = append(inProc, time.Since(t0))

			t0 = time.Now()
			if err := c.post(`{ __typename }`, nil, nil); err != nil {
				b.Fatal(err)
			}
			floor = append(floor, time.Since(t0))

			bareID++
			t0 = time.Now()
			if _, err := db.SQL.Exec("INSERT INTO bench_bare (id, v) VALUES (?, ?)", bareID, bareID); err != nil {
				b.Fatal(err)
			}
			bare = append(bare, time.Since(t0))

			t0 = time.Now()
			var one int
			if err := db.SQL.QueryRow("SELECT 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
			sel1 = append(sel1, time.Since(t0))
		}
		stop()
		pp := func(lat []time.Duration) string {
			p50, p99 := percentiles(lat)
			return ms(p50) + " / " + ms(p99)
		}
		out += fmt.Sprintf("| %d | %s | %s → %s | %s | %s | %d | %s | %s | %s |\n", n, seed.took.Round(time.Second),
			loadBefore, loadavg(), pp(overHTTP), pp(inProc), lines, pp(floor), pp(bare), pp(sel1))
		if n == sizes[len(sizes)-1] {
			p50, p99 := percentiles(overHTTP)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
		}
	}
	fmt.Print(out)
}

// checkReport asks for the whole window by currency and by day and
// checks both against the payments table (what was inserted) and the
// generator's own totals: the rollups count every payment once and sum
// every amount exactly.
func checkReport(b *testing.B, db *store.DB, c gqlClient, vars map[string]any, merchant string, seed seeded) {
	b.Helper()
	rows, err := db.SQL.Query(`SELECT currency, COUNT(*), SUM(amount_captured), SUM(amount_refunded), SUM(CASE WHEN status = 'SUCCEEDED' THEN 1 ELSE 0 END)
		FROM payments WHERE merchant_id = ? GROUP BY currency`, merchant)
	if err != nil {
		b.Fatal(err)
	}
	type totals struct{ payments, gross, refunded, succeeded int64 }
	table := map[string]totals{}
	for rows.Next() {
		var cur string
		var t totals
		if err := rows.Scan(&cur, &t.payments, &t.gross, &t.refunded, &t.succeeded); err != nil {
			b.Fatal(err)
		}
		table[cur] = t
	}
	rows.Close()
	for _, by := range []string{"CURRENCY", "DAY"} {
		v := map[string]any{"groupBy": by}
		for k, x := range vars {
			if k != "groupBy" {
				v[k] = x
			}
		}
		var r struct {
			MerchantReport struct{ Groups []reportGroup }
		}
		if err := c.post(reportQuery, v, &r); err != nil {
			b.Fatal(err)
		}
		got := map[string]totals{}
		for _, g := range r.MerchantReport.Groups {
			t := got[g.Currency]
			gross, _ := strconv.ParseInt(g.Gross.Amount, 10, 64)
			refunded, _ := strconv.ParseInt(g.Refunded.Amount, 10, 64)
			t.payments += g.Payments
			t.gross += gross
			t.refunded += refunded
			t.succeeded += g.Succeeded
			got[g.Currency] = t
		}
		var count int64
		for cur, want := range table {
			count += want.payments
			if got[cur] != want || want.gross != seed.gross[cur] || want.refunded != seed.refunded[cur] || want.succeeded != seed.succeeded[cur] {
				b.Fatalf("by %s, %s: the report says %+v, the payments table %+v, the generator gross %d refunded %d succeeded %d",
					by, cur, got[cur], want, seed.gross[cur], seed.refunded[cur], seed.succeeded[cur])
			}
		}
		if len(got) != len(table) || count != int64(seed.payments) {
			b.Fatalf("by %s: currencies %v, payments table %v (%d payments of %d)", by, got, table, count, seed.payments)
		}
	}
}

// BenchmarkReportRollupConsumer measures the rollup consumer as it runs in
// production: 10,000 payments' rows and their ~23,000 numbered outbox
// events in the database, then reports.Rollup steps (read the events after
// the cursor, load their payments and refunds, fold, write marks and
// upserts, move the cursor, one transaction per 1,000 events) until it has
// applied them all. It prints events applied per second.
func BenchmarkReportRollupConsumer(b *testing.B) {
	db := eventsDB(b)
	sys := viewer.SystemContext(context.Background())
	m := db.Client.Merchant.Create().SetLegalName("Bench consumer").SetCountry("SG").SetSettlementCurrency("SGD").SaveX(sys)
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -reportDays)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 10_000
	var seq int64
	for i := 0; i < n; i += 500 {
		var pays []*ent.PaymentCreate
		var refs []*ent.RefundCreate
		var evs []*ent.EventCreate
		for j := i; j < i+500 && j < n; j++ {
			es, rows := benchPayment(rng, m.ID, j, start)
			for _, p := range rows.Payments {
				pays = append(pays, db.Client.Payment.Create().SetID(p.ID).SetMerchantID(m.ID).SetAmount(p.AmountCaptured+1).
					SetCurrency(p.Currency).SetConnector(p.Connector).SetPaymentMethodType(p.Method).
					SetAmountCaptured(p.AmountCaptured).SetFeeAmount(p.FeeAmount).SetStatus(paymentstatus.Succeeded))
			}
			for _, r := range rows.Refunds {
				refs = append(refs, db.Client.Refund.Create().SetID(r.ID).SetMerchantID(m.ID).SetPaymentID(r.PaymentID).
					SetAmount(r.Amount).SetCurrency(r.Currency).SetFeeReversed(r.FeeReversed).SetStatus("SUCCEEDED"))
			}
			for _, e := range es {
				seq++
				evs = append(evs, db.Client.Event.Create().SetMerchantID(m.ID).SetType(e.Type).SetObjectID(e.ObjectID).
					SetData(e.Data).SetCreatedAt(e.At).SetSeq(seq))
			}
		}
		if err := db.Client.Payment.CreateBulk(pays...).Exec(sys); err != nil {
			b.Fatal(err)
		}
		if len(refs) > 0 {
			if err := db.Client.Refund.CreateBulk(refs...).Exec(sys); err != nil {
				b.Fatal(err)
			}
		}
		for k := 0; k < len(evs); k += 500 {
			if err := db.Client.Event.CreateBulk(evs[k:min(k+500, len(evs))]...).Exec(sys); err != nil {
				b.Fatal(err)
			}
		}
	}
	r := reports.NewRollup(reports.RollupConfig{Client: db.Client, StepTimeout: time.Minute})
	b.ResetTimer()
	began := time.Now()
	applied := 0
	for {
		k, err := r.Step(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			break
		}
		applied += k
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if int64(applied) != seq {
		b.Fatalf("applied %d of %d events", applied, seq)
	}
	// Every payment counted once, in the rollups' total rows.
	var counted int64
	if err := db.SQL.QueryRow("SELECT COALESCE(SUM(payments), 0) FROM report_rollups WHERE merchant_id = ? AND total", m.ID).Scan(&counted); err != nil {
		b.Fatal(err)
	}
	if counted != n {
		b.Fatalf("the rollups count %d payments of %d", counted, n)
	}
	rate := float64(applied) / elapsed.Seconds()
	b.ReportMetric(rate, "events/s")
	fmt.Printf("report rollup consumer (%s): %d events of %d payments applied in %s: %.0f events/s (%.0f payments/s)\n",
		db.Dialect, applied, n, elapsed.Round(time.Millisecond), rate, float64(n)/elapsed.Seconds())
}
