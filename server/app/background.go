package app

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/payments/channels"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/payouts"
	"github.com/straitpay/strait/payments/settlement"
)

// fxRefreshInterval is how often rates are fetched from the fx connector: a
// third of fx.DefaultPolicy.MaxRateAge, so two refreshes in a row may fail
// before quoting stops. Each refresh appends one row per currency pair.
const fxRefreshInterval = 5 * time.Minute

// settlementInterval is how often the settlement scheduler looks for
// merchants whose run is due (docs/settlement.md).
const settlementInterval = time.Minute

// payoutInterval is how often the payout scheduler sends payouts whose
// time came, asks again about unknown outcomes and runs due payout
// schedules (docs/settlement.md, "Payouts").
const payoutInterval = 5 * time.Second

// reconInterval is how often the reconciliation scheduler looks for
// connectors whose yesterday is not reconciled yet (docs/settlement.md).
const reconInterval = 5 * time.Minute

// Start launches the connectors and the background work: the channel event
// processor, the settlement and reconciliation schedulers and, when an fx connector is up, the
// FX rate refresher. A
// connector never stops Strait: a missing manifest is a warning, an invalid
// one is logged as an error and leaves Strait without connectors, and a
// refused plugin (tampered binary, bad config) stays down while the others
// serve. Start fails only when the stored connector settings cannot be read.
// Close stops everything Start started.
func (a *App) Start(ctx context.Context) error {
	err := a.Connectors.Start(ctx)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		a.Log.Warn("no connector manifest: serving without connectors", "dir", a.Config.PluginDir, "err", err)
	case err != nil:
		a.Log.Error("connector manifest refused: serving without connectors", "dir", a.Config.PluginDir, "err", err)
	}
	for _, st := range a.Connectors.List() {
		if st.Health != host.HealthUp {
			a.Log.Error("connector is not up", "connector", st.Name, "health", st.Health, "last_error", st.LastError)
		}
	}
	if err := a.Channels.ApplyStored(ctx); err != nil {
		a.Connectors.Close()
		return err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	a.goBackground(func() { a.ChannelEvents.Run(bg) })
	if err := a.StartEvents(bg); err != nil {
		a.Connectors.Close()
		return err
	}
	a.goBackground(func() { a.watchConnectorHealth(bg) })
	a.startClosing(bg)
	a.goBackground(func() {
		a.Settlement.RunScheduler(bg, settlementInterval, settlement.DefaultLease, a.Log.With("component", "settlement"))
	})
	a.goBackground(func() {
		a.Payouts.RunScheduler(bg, payoutInterval, payouts.DefaultLease, a.Log.With("component", "payouts"))
	})
	a.goBackground(func() { a.Recon.RunScheduler(bg, reconInterval, a.Log.With("component", "recon")) })
	if st, ok := channels.FXConnector(a.Connectors); ok {
		refresher := fx.NewService(a.DB.Client, a.Ledger, fx.Config{
			Source: channels.NewRateSource(a.Connectors, st.Name), Pairs: channels.Pairs(st.Currencies), Now: a.now,
		})
		a.Log.Info("refreshing FX rates", "connector", st.Name, "every", fxRefreshInterval)
		a.goBackground(func() {
			refresher.RunRefresher(bg, fxRefreshInterval, func(err error) {
				a.Log.Warn("FX rate refresh failed", "connector", st.Name, "err", err)
			})
		})
	} else {
		a.Log.Warn("no fx connector is up: FX quotes are unavailable")
	}
	return nil
}

func (a *App) goBackground(fn func()) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		fn()
	}()
}

// Close stops the background work, writes the idempotency claims and answers
// still queued, and stops every connector process. Call it once requests have
// drained: idempotent mutations fail with UNAVAILABLE afterwards. It is safe
// to call without Start, and more than once.
func (a *App) Close() error {
	if a.stop != nil {
		a.stop()
	}
	a.bg.Wait()
	a.Cashier.Close()
	if a.Bus != nil {
		_ = a.Bus.Close()
	}
	a.Idempotency.Close()
	return a.Connectors.Close()
}
