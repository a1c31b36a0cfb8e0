package cashier

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/coupons"
	"github.com/straitpay/strait/payments/executor"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
)

// Connectors finds a running connector by its name in routing (the plugin
// host's Manager, or fakes in tests).
type Connectors interface {
	Get(name string) (connectors.Connector, bool)
}

// Config holds a Service's dependencies and settings. Zero settings get the
// defaults documented on each.
type Config struct {
	Client  *ent.Client
	Dialect string // dialect.MySQL or dialect.SQLite: rows are locked FOR UPDATE on MySQL only
	Ledger  *ledger.Ledger
	Risk    *risk.Engine
	Router  *routing.Router
	// Catalog prices captures: the fee of the connector that captured.
	Catalog    routing.Catalog
	Connectors Connectors
	Log        *slog.Logger
	Now        func() time.Time

	// CallTimeout bounds every connector call (default 20 s). A call that
	// runs out leaves its attempt unknown for the janitor.
	CallTimeout time.Duration
	// AuthorizationWindow is how long a manual-capture authorization may be
	// captured (default 7 days, the common card-scheme hold).
	AuthorizationWindow time.Duration
	// Backoff is the janitor's schedule: the wait before check n+1 of an
	// unresolved attempt is Backoff[min(n, len-1)]. Default 30 s, 1 m, 2 m,
	// 5 m, 15 m, 1 h, then every 6 h.
	Backoff []time.Duration
	// Coupons redeems and gives back the coupons of checkout sessions'
	// payments (sessions.go); nil when there are none.
	Coupons *coupons.Service

	// ActionTTL is how long a buyer has to finish a next action before the
	// janitor asks the channel and, if still unfinished, expires the attempt
	// (default 1 h).
	ActionTTL time.Duration

	// NoBatching records each payment in a transaction of its own instead of
	// group-committing concurrent payments' transactions (for tests that
	// compare the two).
	NoBatching bool
	// BatchTimeout bounds one group-committed batch (attempt, record),
	// fallbacks included; zero means batch.DefaultTimeout. A payment whose
	// record batch ran out is left processing for the janitor.
	BatchTimeout time.Duration
}

// Service is the payment core: the pipeline (Confirm, Charge), the
// merchant's operations (Capture, Cancel, Refund, agreements), asynchronous
// channel events (HandleEvent) and the janitor.
type Service struct {
	cfg Config
	log *slog.Logger
	// merchants remembers merchants' risk tiers and countries
	// (merchantFacts).
	merchants sync.Map
	// The executors apply the core's writes (payments/executor): each owns
	// its step's transactions, group commit, deadlines and fallbacks.
	//
	// recorder records results (applyRecords), ops runs the merchant's and
	// the janitor's operations on payments (applyOp), both group-committed.
	// A new payment's first attempt is written by its caller's transaction
	// (Begin: the checkout's confirm step).
	recorder *executor.Executor[*recordReq, recorded]
	ops      *executor.Executor[*opReq, struct{}]
}

// New returns a Service over cfg.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 20 * time.Second
	}
	if cfg.AuthorizationWindow <= 0 {
		cfg.AuthorizationWindow = 7 * 24 * time.Hour
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
			15 * time.Minute, time.Hour, 6 * time.Hour}
	}
	if cfg.ActionTTL <= 0 {
		cfg.ActionTTL = time.Hour
	}
	s := &Service{cfg: cfg, log: cfg.Log}
	ec := executor.Config{Client: cfg.Client, Log: cfg.Log, Timeout: cfg.BatchTimeout, NoBatching: cfg.NoBatching}
	s.recorder = executor.New(ec, executor.Step[*recordReq, recorded]{Name: "record", Max: maxRecordBatch,
		Key: func(r *recordReq) string { return r.attempt.PaymentID }, Apply: s.applyRecords})
	s.ops = executor.New(ec, executor.Step[*opReq, struct{}]{Name: "operation", Max: maxOpBatch,
		Key: func(r *opReq) string { return r.key }, Apply: s.applyOp})
	return s
}

// BatchStats reports the group-committed steps (record, operation): batches
// run, payments in them, and time spent.
func (s *Service) BatchStats() map[string]batch.Stats {
	return map[string]batch.Stats{"record": s.recorder.Stats(), "operation": s.ops.Stats()}
}

// Close stops the service's batching; results recorded after Close are
// recorded one by one. Safe to call more than once.
func (s *Service) Close() {
	s.recorder.Close()
	s.ops.Close()
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// backoff returns the wait before the next check of an attempt checked n
// times so far.
func (s *Service) backoff(n int) time.Duration {
	return s.cfg.Backoff[min(n, len(s.cfg.Backoff)-1)]
}

// inFlightGrace is added to CallTimeout before the janitor looks at a
// pending attempt: a call still running in this process must have ended (and
// recorded) before anyone asks the channel about it.
const inFlightGrace = 30 * time.Second

func (s *Service) connector(name string) (connectors.Connector, error) {
	c, ok := s.cfg.Connectors.Get(name)
	if !ok {
		return nil, payments.Errorf(payments.EUNAVAILABLE, "connector %s is not available", name)
	}
	return c, nil
}

// lockPayment reads a payment inside tx, locked against concurrent record
// transactions until tx ends (SQLite has a single writer instead). Every
// transaction that changes a payment locks it first, before any ledger
// account, so the order of locks is the same everywhere.
func (s *Service) lockPayment(ctx context.Context, tx *ent.Tx, id string) (*ent.Payment, error) {
	q := tx.Payment.Query().Where(payment.ID(id))
	if s.cfg.Dialect == dialect.MySQL {
		q = q.ForUpdate()
	}
	p, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "payment %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock payment %s: %w", id, err)
	}
	return p, nil
}

// Payment returns a payment visible to the viewer in ctx. Returns ENOTFOUND
// if it does not exist or belongs to another merchant.
func (s *Service) Payment(ctx context.Context, id string) (*ent.Payment, error) {
	p, err := s.cfg.Client.Payment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "payment %q not found", truncate(id, 64))
	}
	if err != nil {
		return nil, fmt.Errorf("payment %s: %w", id, err)
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// isTransient reports whether err is a transaction losing a race with
// another (a deadlock, a lock wait timeout, SQLite's busy): nothing of it was
// written and it may run again.
func isTransient(err error) bool {
	return store.IsTransient(err)
}
