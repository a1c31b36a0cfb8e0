// Package viewer carries the authenticated caller through a context. Every layer
// that decides what a caller may see (GraphQL directives, ent privacy policies,
// the domain services) reads the same Viewer.
//
// It is a leaf: it imports nothing of Strait's, so the data model's privacy
// rules (ent/schema/rule) read the caller without depending on the payment
// domain. payments/viewer re-exports it for the domain's code.
package viewer

import "context"

// Kind is the kind of principal behind a request.
type Kind string

// The principals Strait knows.
const (
	// Operator is a platform operator: sees every merchant.
	Operator Kind = "operator"
	// MerchantUser is a person working for one merchant, with a Role.
	MerchantUser Kind = "merchant_user"
	// APIKey is a merchant's server calling server to server.
	APIKey Kind = "api_key"
	// Cashier is a buyer's checkout, scoped to one checkout session for minutes.
	Cashier Kind = "cashier"
	// System is Strait itself (janitors, relays, migrations). Never granted to a
	// request.
	System Kind = "system"
)

// Role is a merchant user's role.
type Role string

// Merchant user roles, from most to least privileged.
const (
	RoleAdmin     Role = "admin"
	RoleDeveloper Role = "developer"
	RoleAnalyst   Role = "analyst"
)

// Viewer is the authenticated caller.
type Viewer struct {
	Kind Kind
	// Subject identifies the principal: an operator name, a merchant user ID, an
	// API key ID, or a checkout session ID for the cashier.
	Subject string
	// MerchantID is the tenant the caller acts for; empty for operators and System.
	MerchantID string
	// Role is set for merchant users.
	Role Role
	// SessionID is the checkout session a cashier token is scoped to.
	SessionID string
}

// IsOperator reports whether v is a platform operator.
func (v Viewer) IsOperator() bool { return v.Kind == Operator }

// IsSystem reports whether v is Strait's own background work.
func (v Viewer) IsSystem() bool { return v.Kind == System }

// IsPrivileged reports whether v sees across tenants (operator or system).
func (v Viewer) IsPrivileged() bool { return v.IsOperator() || v.IsSystem() }

type ctxKey struct{}

// NewContext returns a context carrying v.
func NewContext(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx and whether there is one.
func FromContext(ctx context.Context) (Viewer, bool) {
	v, ok := ctx.Value(ctxKey{}).(Viewer)
	return v, ok
}

// SystemContext returns a context acting as Strait itself, for background work
// that must see every tenant (relays, janitors, migrations, dev seeding).
func SystemContext(ctx context.Context) context.Context {
	return NewContext(ctx, Viewer{Kind: System, Subject: "strait"})
}
