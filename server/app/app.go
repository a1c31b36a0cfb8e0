package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/graph"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/channels"
	"github.com/straitpay/strait/payments/checkout"
	"github.com/straitpay/strait/payments/coupons"
	"github.com/straitpay/strait/payments/disputes"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/inbox"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/payouts"
	"github.com/straitpay/strait/payments/positions"
	"github.com/straitpay/strait/payments/recon"
	"github.com/straitpay/strait/payments/reports"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/rulebook"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/settlement"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// Tokens mints and verifies JWTs (server/auth.KeySet).
type Tokens interface {
	Mint(v viewer.Viewer, ttl time.Duration) (string, error)
	Verify(token string) (viewer.Viewer, error)
}

// App is a wired Strait server.
type App struct {
	Config  Config
	Log     *slog.Logger
	DB      *store.DB
	Tokens  Tokens
	Tenancy *tenancy.Service
	// Cashier is the payment core; its janitor runs while the App serves.
	Cashier *cashier.Service
	// Rules holds the risk and routing rules and the risk counters; see
	// RunJanitors.
	Rules *rulebook.Book
	// Idempotency keeps the answers of idempotent mutations; see RunJanitors.
	Idempotency *idempotency.Service
	// Checkout serves checkout sessions and their cashier; Coupons the
	// merchants' coupons; Vault the card vault (nil without vault keys). The
	// payment pipeline confirms through them (docs/cashier.md).
	Checkout *checkout.Service
	Coupons  *coupons.Service
	Vault    *vault.Vault
	Ledger   *ledger.Ledger
	// FX quotes and converts; its rates come from the fx connector (Start).
	FX *fx.Service
	// Settlement keeps fee plans, split rules and settlement schedules, and
	// settles matured funds; Start runs its scheduler (docs/settlement.md).
	Settlement *settlement.Service
	// Positions compares each connector's balance with the ledger's channel
	// receivable; Start checks them on a schedule (docs/settlement.md).
	Positions *positions.Service
	// Payouts is bank accounts, payouts and payout schedules.
	Payouts *payouts.Service
	// Recon reconciles the connectors' settlement reports; Start runs its
	// scheduler (docs/settlement.md, "Reconciliation").
	Recon *recon.Service

	// Connectors supervises the connector plugins of STRAIT_PLUGIN_DIR;
	// Start launches them. Get(name) returns a connector to call, List()
	// their status.
	Connectors *host.Manager
	// Channels is the connectors merged with their operator settings.
	Channels *channels.Service
	// Catalog and Health are what routing reads (routing.NewRouter).
	Catalog *channels.Catalog
	Health  *channels.Health
	// Inbox stores every channel event before the connector is told it
	// arrived; ChannelEvents hands stored events to the registered handlers
	// (Register them before Start).
	Inbox         *inbox.Inbox
	ChannelEvents *inbox.Processor
	Disputes      *disputes.Service

	// Hub fans published events out to this replica's subscriptions;
	// Webhooks manages merchants' endpoints and sends their deliveries;
	// Relay publishes the outbox (StartEvents starts them, on the Bus).
	Hub      *events.Hub
	Webhooks *events.Webhooks
	Relay    *events.Relay
	// relayWake wakes the relay: every commit that wrote an event does
	// (events.WakeOnCommit), and with NATS every replica's, through
	// nudges, which coalesces them into one NATS message at a time.
	relayWake, nudges schedule.Waker
	Bus               events.Bus
	// Rollups keeps the reports' rollups current from the outbox
	// (StartEvents starts it, woken by the bus).
	Rollups *reports.Rollup
	// Replica names this process in leases and connector health events.
	Replica string

	sockets *sockets
	metrics *metrics
	handler http.Handler
	ready   func(context.Context) error
	now     func() time.Time
	stop    context.CancelFunc
	bg      sync.WaitGroup
}

// Options are the parts of an App a caller may provide; zero values get
// production defaults.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
	// Catalog lists the connectors for routing, Health their circuit state,
	// and Connectors calls them; nil means the plugin host's (tests pass
	// in-process fakes).
	Catalog    routing.Catalog
	Health     routing.Health
	Connectors cashier.Connectors
	// LookupEnv resolves ${NAME} in the connector manifest; nil means
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// New wires an App over an open, migrated database and a token key set.
func New(cfg Config, db *store.DB, tokens Tokens, opts Options) *App {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	opts.Log = WithRequestIDs(opts.Log)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{
		Config:  cfg,
		Log:     opts.Log,
		DB:      db,
		Tokens:  tokens,
		Tenancy: tenancy.New(db.Client, opts.Now),
		metrics: newMetrics(),
		now:     opts.Now,
	}
	a.metrics.registry.MustRegister(collectors.NewDBStatsCollector(db.SQL, "strait"))
	a.Replica = replicaName()
	a.sockets = newSockets(cfg.WSMaxSockets)
	a.Hub = events.NewHub(db.Client, opts.Log)
	a.relayWake, a.nudges = schedule.NewWaker(), schedule.NewWaker()
	events.WakeOnCommit(db.Client, func() { a.relayWake.Wake(); a.nudges.Wake() })
	// Endpoint secrets are sealed under the vault's key ring; without it
	// (logged by wireCheckout) endpoints cannot be created.
	var ring *vault.KeyRing
	if keys, err := LoadVaultKeys(cfg); err == nil {
		ring = keys.Ring
	}
	a.Webhooks = events.NewWebhooks(events.WebhookConfig{Client: db.Client, Dialect: db.Dialect, Log: opts.Log, Now: opts.Now,
		Policy: events.TargetPolicy{AllowPrivate: cfg.WebhookAllowPrivate}, Keys: ring})
	a.ready = func(ctx context.Context) error {
		if err := db.SQL.PingContext(ctx); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		pending, err := store.Pending(ctx, db)
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		if pending {
			return errors.New("migrations pending")
		}
		return nil
	}
	// The ledger's committers run for the life of the process. FX quotes
	// read stored rates, which Start's refresher fetches from the fx
	// connector; without one, quoting answers UNAVAILABLE.
	a.Ledger = ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: opts.Now, BatchTimeout: cfg.DBBatchTimeout})
	a.FX = fx.NewService(db.Client, a.Ledger, fx.Config{Now: opts.Now})
	a.Settlement = settlement.NewService(db.Client, a.Ledger, settlement.Config{FX: a.FX, Now: opts.Now})
	a.ChannelEvents = inbox.NewProcessor(db.Client, inbox.ProcessorConfig{Log: opts.Log, Now: opts.Now})
	a.ChannelEvents.Register(inbox.LogHandler(opts.Log))
	a.Inbox = inbox.New(db.Client, inbox.Config{Now: opts.Now, OnStore: a.ChannelEvents.Wake})
	m, err := host.New(host.Config{
		Dir: cfg.PluginDir, Logger: opts.Log, Registry: a.metrics.registry,
		EventSink: a.Inbox.Store, LookupEnv: opts.LookupEnv, Now: opts.Now,
	})
	if err != nil {
		panic(fmt.Sprintf("app: %v", err)) // only a duplicate metric registration: a wiring bug
	}
	a.Connectors = m
	// The host satisfies payments/channels.Host in the contract's terms: the
	// payment core never imports connectors/host.
	var _ channels.Host = m
	a.Channels = channels.New(db.Client, m)
	a.Positions = positions.NewService(db.Client, m, positions.Config{Now: opts.Now, Log: opts.Log.With("component", "positions")})
	a.Recon = recon.NewService(recon.Config{Client: db.Client, Ledger: a.Ledger, Connectors: m, Now: opts.Now})
	a.Catalog = a.Channels.Catalog()
	a.Health = channels.NewHealth(m)
	if opts.Catalog == nil {
		opts.Catalog = a.Catalog
	}
	switch {
	case opts.Connectors == nil:
		opts.Connectors = m
		if opts.Health == nil {
			opts.Health = a.Health
		}
	case opts.Health == nil:
		// In-process connectors (tests) have no supervisor: always healthy.
		opts.Health = routing.NewMemHealth()
	}
	a.Idempotency = idempotency.New(db.Client, idempotency.Config{Now: opts.Now, Dialect: db.Dialect, BatchTimeout: cfg.DBBatchTimeout})
	idem := graph.NewIdempotency(a.Idempotency, opts.Log)
	book := rulebook.New(db.Client)
	a.Rules = book
	a.Coupons = coupons.New(db.Client, coupons.Config{Dialect: db.Dialect, Now: opts.Now})
	a.Cashier = newCashier(db, a.Ledger, book, a.Coupons, cfg.DBBatchTimeout, opts)
	a.wireCheckout(a.Ledger, opts)
	a.metrics.registry.MustRegister(newBatchCollector(a.BatchStats), newPositionsCollector(a.Positions.Metrics))
	a.ChannelEvents.Register(inbox.Decoded(a.Cashier.HandleEvent),
		connectors.EventPaymentResult, connectors.EventRefundResult, connectors.EventAgreementResult)
	var files disputes.FileStore
	if cfg.DataDir != "" {
		files = disputes.DiskStore{Dir: filepath.Join(cfg.DataDir, "dispute-files")}
	}
	a.Disputes = disputes.New(disputes.Config{Client: db.Client, Dialect: db.Dialect, Ledger: a.Ledger,
		Connectors: opts.Connectors, Log: opts.Log, Now: opts.Now, Files: files})
	a.ChannelEvents.Register(inbox.Decoded(a.Disputes.HandleEvent), connectors.EventDispute)
	a.Payouts = payouts.New(payouts.Config{Client: db.Client, Dialect: db.Dialect, Ledger: a.Ledger, FX: a.FX,
		Connectors: opts.Connectors, Log: opts.Log.With("component", "payouts"), Now: opts.Now})
	a.ChannelEvents.Register(inbox.Decoded(a.Payouts.HandleEvent), connectors.EventPayoutResult)
	resolver := &graph.Resolver{Client: db.Client, Tenancy: a.Tenancy, Log: opts.Log, Ledger: a.Ledger, FX: a.FX, SettlementService: a.Settlement,
		Recon: a.Recon, Positions: a.Positions, Channels: a.Channels, Idempotency: idem, Checkout: a.Checkout, Coupons: a.Coupons, Cashier: a.Cashier, Rules: book,
		Events: a.Hub, Webhooks: a.Webhooks, Disputes: a.Disputes, PayoutService: a.Payouts, Reports: reports.NewService(db.Client)}
	a.handler = a.routes(newGraphQLServer(graph.NewSchema(resolver), a, idem))
	return a
}

// BatchStats reports every group-committed step of the payment pipeline
// (payments/batch), by step: confirm, record, operation.
func (a *App) BatchStats() map[string]batch.Stats {
	out := a.Cashier.BatchStats()
	for k, v := range a.Checkout.BatchStats() {
		out[k] = v
	}
	return out
}

// Handler returns the root HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Serve listens on the configured address until ctx is done, then drains
// in-flight requests for up to ShutdownIn.
func (a *App) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", a.Config.Addr, err)
	}
	return a.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx is done, then shuts down gracefully.
func (a *App) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		// Headers past this get net/http's 431. Authorization headers above
		// maxCredentialLen (8 KiB) are refused by the auth middleware with a coded
		// error; this only stops absurd requests from being read at all.
		MaxHeaderBytes: 2 << 20,
		ErrorLog:       slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if a.Config.TLSCert != "" {
			a.Log.Info("serving", "addr", ln.Addr().String(), "scheme", "https", "dev", a.Config.Dev)
			errc <- srv.ServeTLS(ln, a.Config.TLSCert, a.Config.TLSKey)
			return
		}
		a.Log.Info("serving", "addr", ln.Addr().String(), "scheme", "http", "dev", a.Config.Dev)
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down", "drain", a.Config.ShutdownIn)
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownIn)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// janitorEvery is how often the payment janitor looks for attempts that are
// due: often enough that a resolved timeout shows within seconds of its
// backoff step, rarely enough to cost nothing when idle (one indexed query).
const janitorEvery = 5 * time.Second

// newCashier wires the payment core.
func newCashier(db *store.DB, led *ledger.Ledger, book *rulebook.Book, cps *coupons.Service, batchTimeout time.Duration, opts Options) *cashier.Service {
	return cashier.New(cashier.Config{
		Client: db.Client, Dialect: db.Dialect, Ledger: led,
		Risk:       risk.NewEngine(book.RiskRules(), book.Counters(), opts.Now),
		Router:     routing.NewRouter(opts.Catalog, opts.Health, book.RoutingRules()),
		Catalog:    opts.Catalog,
		Connectors: opts.Connectors, Coupons: cps, Log: opts.Log, Now: opts.Now,
		BatchTimeout: batchTimeout,
	})
}
