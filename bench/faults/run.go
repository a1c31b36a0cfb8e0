package faults

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Config is one seed's run.
type Config struct {
	Seed     int64
	Duration time.Duration // of load and faults
	Workers  int           // concurrent buyers and merchants (default 4)
	// Settle bounds the wait, after the faults, for the janitor to resolve
	// what is in flight (default 100 s).
	Settle time.Duration
	Bins   Bins
	Dir    string // work directory of the seed (processes' data, logs)
	SQLite bool   // use SQLite even when MySQL is reachable
	// Env is added to strait's environment (STRAIT_DEBUG_FAULT for the
	// debug switch test).
	Env  []string
	Keep bool      // keep the seed's MySQL database
	Log  io.Writer // progress; nil is silent
}

// Result is what one seed showed.
type Result struct {
	Seed       int64
	Dialect    string
	Duration   time.Duration
	Elapsed    time.Duration
	Schedule   []planned
	Counts     Counts
	Payments   int
	Resolved   map[string]int // indeterminate operations by how they ended
	InFlight   []string       // left after the settle bound
	Violations []Violation
	Report     string // readable: the seed, the figures and every violation with its payment's history
}

// Failed says whether any invariant broke.
func (r *Result) Failed() bool { return len(r.Violations) > 0 }

// Run runs one seed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Settle == 0 {
		cfg.Settle = 100 * time.Second
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "seed %d: "+format+"\n", append([]any{cfg.Seed}, args...)...)
		}
	}
	began := time.Now()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	r, err := startRig(ctx, cfg.Bins, cfg.Dir, cfg.Seed, cfg.SQLite, cfg.Env)
	if err != nil {
		return nil, err
	}
	defer r.close(cfg.Keep)
	res := &Result{Seed: cfg.Seed, Dialect: r.dialect, Duration: cfg.Duration, Resolved: map[string]int{}}
	res.Schedule = Schedule(cfg.Seed, cfg.Duration, r.dialect == "mysql")
	logf("%s, %d workers, %s of load; faults:\n%s", r.dialect, cfg.Workers, cfg.Duration, describe(res.Schedule))

	c := newClient(r.straitAddr, r.sbAddr)
	operator, err := r.straitCmd(ctx, "token", "--role", "operator", "--ttl", "12h")
	if err != nil {
		return nil, fmt.Errorf("operator token: %v %s", err, operator)
	}
	var m struct{ ID string }
	if err := c.must(ctx, operator, `mutation { createMerchant(input: {legalName: "Faults Ltd", country: "SG", settlementCurrency: "SGD"}) { id } }`,
		nil, "createMerchant", &m); err != nil {
		return nil, err
	}
	var key struct{ Secret string }
	if err := c.must(ctx, operator, `mutation($m: ID) { createAPIKey(input: {merchantID: $m, name: "faults"}) { secret } }`,
		map[string]any{"m": m.ID}, "createAPIKey", &key); err != nil {
		return nil, err
	}
	if err := waitConnectors(ctx, c, operator); err != nil {
		return nil, err
	}

	h := newHistory()
	l := &loader{c: c, h: h, apiKey: key.Secret, seed: cfg.Seed, timeout: true, parked: make(chan *order, 10000)}
	loadCtx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	faultsDone := make(chan struct{})
	go func() { r.inject(loadCtx, h, c, res.Schedule, h.t0); close(faultsDone) }()
	l.run(loadCtx, cfg.Workers)
	<-faultsDone
	logf("load and faults over after %s; settling", time.Since(h.t0).Round(time.Second))

	// Whatever the faults left: the sandbox running, strait up.
	_ = r.signalSandbox(syscall.SIGCONT)
	r.mu.Lock()
	stDone := r.stDone
	r.mu.Unlock()
	select {
	case <-stDone:
		if err := r.startStrait(ctx); err != nil {
			return nil, err
		}
	default:
	}

	// Settle: poll until nothing is in flight, within cfg.Settle.
	var payments []fullPayment
	var events []channelEvent
	settleBy := time.Now().Add(cfg.Settle)
	for {
		if payments, err = c.payments(ctx, key.Secret); err != nil {
			return nil, err
		}
		if events, err = c.channelEvents(ctx, operator); err != nil {
			return nil, err
		}
		pending, err := c.pendingDeliveries(ctx)
		if err != nil {
			return nil, err
		}
		res.InFlight = inFlight(payments, events, pending)
		if len(res.InFlight) == 0 || time.Now().After(settleBy) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	logf("settled in %s (%d payments, %d still in flight)", time.Since(h.t0).Round(time.Second)-cfg.Duration, len(payments), len(res.InFlight))

	k := &checker{h: h, payments: payments, events: events}
	if err := c.sandboxJSON(ctx, "GET", "/records", &k.records); err != nil {
		return nil, err
	}
	if err := c.must(ctx, operator, `{ trialBalance { currency net { amount } postingsNet { amount } } }`, nil, "trialBalance", &k.trial); err != nil {
		return nil, err
	}
	var accounts struct {
		Edges []struct {
			Node struct {
				OwnerType, OwnerID, Kind, Currency string
				AllowNegative                      bool
				Balance                            struct{ Amount string }
			}
		}
	}
	if err := c.must(ctx, operator, `{ accounts(first: 100) { edges { node { ownerType ownerID kind currency allowNegative balance { amount } } } } }`,
		nil, "accounts", &accounts); err != nil {
		return nil, err
	}
	for _, e := range accounts.Edges {
		k.accounts = append(k.accounts, e.Node)
	}
	if db, err := r.db(); err == nil {
		k.db = db
		defer db.Close()
	}
	k.run(ctx)
	for _, f := range res.InFlight {
		id, _, _ := strings.Cut(f, " ")
		if !strings.HasPrefix(id, "pay_") {
			id = ""
		}
		k.fail("I6", id, "", "still in flight %s after the faults stopped: %s", cfg.Settle, f)
	}
	// I7's count: how each indeterminate operation ended.
	final := map[string]fullPayment{}
	for _, p := range payments {
		final[p.ID] = p
	}
	h.mu.Lock()
	for _, op := range h.ops {
		if op.Outcome != Indeterminate {
			continue
		}
		id := op.PaymentID
		if id == "" {
			id = h.byRef[op.Ref]
		}
		p, ok := final[id]
		switch {
		case !ok:
			res.Resolved[op.Kind+": no payment"]++
		case op.Kind == "capture":
			res.Resolved[applied("capture", atoi(p.AmountCaptured.Amount) > 0, k.chCaptured[id] > 0)]++
		case op.Kind == "cancel":
			res.Resolved[applied("cancel", p.Status == "CANCELED", k.chVoided[id])]++
		case op.Kind == "refund":
			res.Resolved[applied("refund", atoi(p.AmountRefunded.Amount) > 0, k.chRefunded[id] > 0)]++
		default:
			res.Resolved[op.Kind+": "+p.Status]++
		}
	}
	h.mu.Unlock()

	// Attacks: no card number in the database or the logs.
	if k.db != nil {
		found, err := r.scanDatabase(ctx, k.db)
		if err != nil {
			k.fail("PAN", "", "", "scanning the database: %v", err)
		}
		for _, f := range found {
			k.fail("PAN", "", "", "%s", f)
		}
	}
	for _, f := range ScanPANs("strait logs", r.stLogs.String(), TestPANs) {
		k.fail("PAN", "", "", "%s", f)
	}
	for _, f := range ScanPANs("sandbox logs", r.sbLogs.String(), TestPANs) {
		k.fail("PAN", "", "", "%s", f)
	}
	_ = os.WriteFile(filepath.Join(cfg.Dir, "strait.log"), []byte(r.stLogs.String()), 0o644)
	_ = os.WriteFile(filepath.Join(cfg.Dir, "sandbox.log"), []byte(r.sbLogs.String()), 0o644)

	res.Violations = k.out
	res.Counts = h.counts()
	res.Payments = len(payments)
	res.Elapsed = time.Since(began)
	res.Report = report(res, h, cfg)
	return res, nil
}

func waitConnectors(ctx context.Context, c *client, operator string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list []struct{ Name, Health string }
		err := c.must(ctx, operator, `{ connectors { name health } }`, nil, "connectors", &list)
		up := 0
		for _, x := range list {
			if x.Health == "UP" {
				up++
			}
		}
		if err == nil && up == 4 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("connectors not all UP after 60 s: %+v %v", list, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// report is the readable account of a seed: figures, then each violation
// with the minimal history of its payment.
func report(res *Result, h *History, cfg Config) string {
	var b strings.Builder
	verdict := "PASS"
	if res.Failed() {
		verdict = fmt.Sprintf("FAIL (%d violations)", len(res.Violations))
	}
	fmt.Fprintf(&b, "seed %d: %s — %s, %s of load, %d payments, %s in all\n", res.Seed, verdict, res.Dialect, res.Duration, res.Payments, res.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "  operations: %s\n", outcomeLine(res.Counts.Outcomes))
	kinds := make([]string, 0, len(res.Counts.Ops))
	for k := range res.Counts.Ops {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "    %-22s %s\n", k, outcomeLine(res.Counts.Ops[k]))
	}
	if len(res.Counts.Codes) > 0 {
		fmt.Fprintf(&b, "  error codes: %s\n", mapLine(res.Counts.Codes))
	}
	fmt.Fprintf(&b, "  faults: %s\n", mapLine(res.Counts.Faults))
	if len(res.Resolved) > 0 {
		fmt.Fprintf(&b, "  indeterminate operations ended: %s\n", mapLine(res.Resolved))
	}
	if !res.Failed() {
		return b.String()
	}
	byInv := map[string]int{}
	for _, v := range res.Violations {
		byInv[v.Invariant]++
	}
	fmt.Fprintf(&b, "  violations: %s\n", mapLine(byInv))
	fmt.Fprintf(&b, "  replay: make faults SEED=%d DURATION=%s\n", res.Seed, res.Duration)
	told := map[string]bool{}
	shown := 0
	for _, v := range res.Violations {
		fmt.Fprintf(&b, "\n  %s %s: %s\n", v.Invariant, v.PaymentID, v.What)
		key := v.PaymentID + "|" + v.Ref
		if (v.PaymentID != "" || v.Ref != "") && !told[key] && shown < 10 {
			told[key] = true
			shown++
			b.WriteString(h.story(v.PaymentID, v.Ref))
		}
	}
	return b.String()
}

func outcomeLine(m map[Outcome]int) string {
	return fmt.Sprintf("%d ok, %d failed, %d indeterminate", m[OK], m[Failed], m[Indeterminate])
}

func mapLine[K ~string](m map[K]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[K(k)])
	}
	return strings.Join(parts, ", ")
}

// Summary adds up several seeds' results.
func Summary(all []*Result) string {
	outcomes := map[Outcome]int{}
	faults := map[string]int{}
	viol := map[string]int{}
	var failed []int64
	payments := 0
	var elapsed time.Duration
	for _, r := range all {
		for k, v := range r.Counts.Outcomes {
			outcomes[k] += v
		}
		for k, v := range r.Counts.Faults {
			faults[k] += v
		}
		for _, v := range r.Violations {
			viol[v.Invariant]++
		}
		if r.Failed() {
			failed = append(failed, r.Seed)
		}
		payments += r.Payments
		elapsed += r.Elapsed
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds, %d payments, %s in all; operations: %s\n", len(all), payments, elapsed.Round(time.Second), outcomeLine(outcomes))
	fmt.Fprintf(&b, "faults: %s\n", mapLine(faults))
	if len(failed) == 0 {
		b.WriteString("violations: 0\n")
	} else {
		fmt.Fprintf(&b, "violations: %s; failing seeds: %v\n", mapLine(viol), failed)
	}
	return b.String()
}

// applied names how an indeterminate operation ended on both sides.
func applied(kind string, strait, channel bool) string {
	word := map[bool]string{true: "applied", false: "not applied"}
	if strait == channel {
		return kind + " " + word[strait]
	}
	return fmt.Sprintf("%s %s at Strait but %s at the channel", kind, word[strait], word[channel])
}
