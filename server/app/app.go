package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/graph"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/rulebook"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/tenancy"
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
	// Idempotency keeps the answers of idempotent mutations; see RunJanitors.
	Idempotency *idempotency.Service

	metrics *metrics
	handler http.Handler
	ready   func(context.Context) error
}

// Options are the parts of an App a caller may provide; zero values get
// production defaults.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
	// Connectors, Catalog and Health are the payment channels, what they
	// take and how healthy they are. Until the plugin host is wired in they
	// default to none.
	Connectors cashier.Connectors
	Catalog    routing.Catalog
	Health     routing.Health
}

// noConnectors is the empty connector set.
type noConnectors struct{}

func (noConnectors) Get(string) (connectors.Connector, bool) { return nil, false }

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
	}
	a.metrics.registry.MustRegister(collectors.NewDBStatsCollector(db.SQL, "strait"))
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
	// The ledger's committers run for the life of the process. FX has no rate
	// source until the fx connector is wired: quoting answers UNAVAILABLE.
	led := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: opts.Now})
	fxs := fx.NewService(db.Client, led, fx.Config{Now: opts.Now})
	a.Idempotency = idempotency.New(db.Client, idempotency.Config{Now: opts.Now})
	idem := graph.NewIdempotency(a.Idempotency, opts.Log)
	book := rulebook.New(db.Client)
	a.Cashier = newCashier(db, led, book, opts)
	resolver := &graph.Resolver{Client: db.Client, Tenancy: a.Tenancy, Log: opts.Log, Ledger: led, FX: fxs,
		Idempotency: idem, Cashier: a.Cashier, Rules: book}
	a.handler = a.routes(newGraphQLServer(graph.NewSchema(resolver), a, idem))
	return a
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
func newCashier(db *store.DB, led *ledger.Ledger, book *rulebook.Book, opts Options) *cashier.Service {
	if opts.Connectors == nil {
		opts.Connectors = noConnectors{}
	}
	if opts.Catalog == nil {
		opts.Catalog = routing.NewMemCatalog()
	}
	if opts.Health == nil {
		opts.Health = routing.NewMemHealth()
	}
	return cashier.New(cashier.Config{
		Client: db.Client, Dialect: db.Dialect, Ledger: led,
		Risk:       risk.NewEngine(book.RiskRules(), book.Counters(), opts.Now),
		Router:     routing.NewRouter(opts.Catalog, opts.Health, book.RoutingRules()),
		Catalog:    opts.Catalog,
		Connectors: opts.Connectors, Log: opts.Log, Now: opts.Now,
	})
}
