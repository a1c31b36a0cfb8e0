// Package viewer carries the authenticated caller through a context. Every layer
// that decides what a caller may see (GraphQL directives, ent privacy policies,
// the domain services) reads the same Viewer.
//
// Everything here is vocab/viewer's, re-exported: the data model (ent/schema)
// imports that leaf package, never the payment domain, and both read the
// same context value.
package viewer

import (
	"context"

	"github.com/straitpay/strait/vocab/viewer"
)

// Kind is the kind of principal behind a request.
type Kind = viewer.Kind

// The principals Strait knows.
const (
	// Operator is a platform operator: sees every merchant.
	Operator = viewer.Operator
	// MerchantUser is a person working for one merchant, with a Role.
	MerchantUser = viewer.MerchantUser
	// APIKey is a merchant's server calling server to server.
	APIKey = viewer.APIKey
	// Cashier is a buyer's checkout, scoped to one checkout session for minutes.
	Cashier = viewer.Cashier
	// System is Strait itself (janitors, relays, migrations). Never granted to a
	// request.
	System = viewer.System
)

// Role is a merchant user's role.
type Role = viewer.Role

// Merchant user roles, from most to least privileged.
const (
	RoleAdmin     = viewer.RoleAdmin
	RoleDeveloper = viewer.RoleDeveloper
	RoleAnalyst   = viewer.RoleAnalyst
)

// Viewer is the authenticated caller.
type Viewer = viewer.Viewer

// NewContext returns a context carrying v.
func NewContext(ctx context.Context, v Viewer) context.Context { return viewer.NewContext(ctx, v) }

// FromContext returns the viewer in ctx and whether there is one.
func FromContext(ctx context.Context) (Viewer, bool) { return viewer.FromContext(ctx) }

// SystemContext returns a context acting as Strait itself, for background work
// that must see every tenant (relays, janitors, migrations, dev seeding).
func SystemContext(ctx context.Context) context.Context { return viewer.SystemContext(ctx) }
