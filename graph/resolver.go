// Package graph is Strait's GraphQL layer: thin resolvers that hand over to the
// ent client or the payments domain, the @auth directive, the error presenter
// and the query limits. Generated code lives in graph/generated and
// graph/model; resolver bodies and the files without "generated" are by hand.
package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/graph/generated"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/channels"
	"github.com/straitpay/strait/payments/checkout"
	"github.com/straitpay/strait/payments/coupons"
	"github.com/straitpay/strait/payments/disputes"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/payouts"
	"github.com/straitpay/strait/payments/positions"
	"github.com/straitpay/strait/payments/recon"
	"github.com/straitpay/strait/payments/reports"
	"github.com/straitpay/strait/payments/rulebook"
	"github.com/straitpay/strait/payments/settlement"
	"github.com/straitpay/strait/payments/tenancy"
)

// Resolver is the root resolver: the dependencies every resolver may use.
type Resolver struct {
	Client  *ent.Client
	Tenancy *tenancy.Service
	Log     *slog.Logger
	// Ledger and FX are the money core (docs/money.md).
	Ledger *ledger.Ledger
	FX     *fx.Service
	// SettlementService is fee plans, split rules and settlement runs
	// (docs/settlement.md).
	SettlementService *settlement.Service
	// PayoutService is bank accounts, payouts and payout schedules.
	PayoutService *payouts.Service
	// Recon reconciles channel settlement reports (docs/settlement.md).
	Recon *recon.Service
	// Cashier is the payment core (docs/payments.md).
	Cashier *cashier.Service
	// Rules stores the operators' risk and routing rules.
	Rules *rulebook.Book
	// Idempotency implements @idempotent; the handler must also Use it.
	Idempotency *Idempotency
	// Checkout and Coupons serve checkout sessions and their cashier
	// (docs/cashier.md).
	Checkout *checkout.Service
	Coupons  *coupons.Service
	// Channels is the operators' view of the connectors.
	Channels *channels.Service
	// Disputes runs chargebacks and their evidence (docs/disputes.md).
	Disputes *disputes.Service
	// Events fans published events out to subscriptions; Webhooks manages
	// merchants' endpoints (docs/events.md).
	Events   *events.Hub
	Webhooks *events.Webhooks
	// Positions compares the channels' balances with the ledger
	// (docs/settlement.md#channel-positions).
	Positions *positions.Service
	// Reports answers merchantReport and operatorReport from the rollups
	// (docs/events.md, "Reports").
	Reports *reports.Service
}

// NewSchema returns the executable schema over r.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return generated.NewExecutableSchema(generated.Config{
		Schema:     PublicSchema(),
		Resolvers:  r,
		Directives: generated.DirectiveRoot{Auth: Auth, Idempotent: r.Idempotency.Directive},
	})
}
