package app

import (
	"context"
	"time"

	"github.com/straitpay/strait/payments/checkout"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/rulebook"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/vault/entstore"
)

// expireEvery is how often open sessions past their expiry are marked
// EXPIRED; reads and confirms also check the expiry themselves, so this only
// keeps listings and reports current.
const expireEvery = time.Minute

// wireCheckout builds the vault and the checkout service, over the payment
// core and coupons (built first). Without vault
// keys the vault is off (logged once) and tokenizing answers UNAVAILABLE.
func (a *App) wireCheckout(led *ledger.Ledger, opts Options) {
	db := a.DB
	keys, err := LoadVaultKeys(a.Config)
	if err != nil {
		a.Log.Error("card vault disabled", "err", err)
	} else {
		a.Vault, err = vault.New(vault.Config{Keys: keys.Ring, Fingerprints: keys.Fingerprints, Store: entstore.New(db.Client), Now: opts.Now})
		if err != nil {
			a.Log.Error("card vault disabled", "err", err)
		}
	}
	catalog := opts.Catalog
	if catalog == nil {
		catalog = routing.NewMemCatalog()
	}
	// The checkout only previews methods (AvailableMethods), which reads no
	// operator rules.
	noRules := rulebook.NewMem().RoutingRules()
	a.Checkout, err = checkout.New(checkout.Config{
		Client: db.Client, Tokens: a.Tokens, Vault: a.Vault, Coupons: a.Coupons, Dev: a.Config.Dev, Now: opts.Now,
		Payments: a.Cashier, Dialect: db.Dialect,
		BatchTimeout: a.Config.DBBatchTimeout,
		FX:           fx.NewService(db.Client, led, fx.Config{Policy: checkout.QuotePolicy, Now: opts.Now}),
		Router:       routing.NewRouter(catalog, routing.NewMemHealth(), noRules),
	})
	if err != nil {
		panic(err) // every required field is set above
	}
}

// runCheckoutJanitor expires sessions until ctx ends.
func (a *App) runCheckoutJanitor(ctx context.Context) {
	a.Checkout.RunExpirer(ctx, expireEvery, func(err error) { a.Log.Error("expire checkout sessions", "err", err) })
}
