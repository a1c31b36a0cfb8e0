package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// PrincipalOf maps a viewer to the schema's Principal.
func PrincipalOf(v viewer.Viewer) (model.Principal, bool) {
	switch v.Kind {
	case viewer.Operator:
		return model.PrincipalOperator, true
	case viewer.APIKey:
		return model.PrincipalAPIKey, true
	case viewer.Cashier:
		return model.PrincipalCashier, true
	case viewer.MerchantUser:
		switch v.Role {
		case viewer.RoleAdmin:
			return model.PrincipalMerchantAdmin, true
		case viewer.RoleDeveloper:
			return model.PrincipalMerchantDeveloper, true
		case viewer.RoleAnalyst:
			return model.PrincipalMerchantAnalyst, true
		}
	}
	return "", false
}

// Auth implements @auth(requires: [...]): the field resolves only for a viewer
// whose principal is listed. No viewer is UNAUTHENTICATED; the wrong principal
// is FORBIDDEN.
func Auth(ctx context.Context, _ any, next graphql.Resolver, requires []model.Principal) (any, error) {
	v, ok := viewer.FromContext(ctx)
	if !ok {
		return nil, payments.Errorf(payments.EUNAUTHORIZED, "authentication required")
	}
	p, ok := PrincipalOf(v)
	if !ok || !slices.Contains(requires, p) {
		return nil, payments.Errorf(payments.EFORBIDDEN, "%s may not call %s", principalName(p, ok), graphql.GetFieldContext(ctx).Field.Name)
	}
	return next(ctx)
}

func principalName(p model.Principal, ok bool) string {
	if !ok {
		return "this caller"
	}
	return string(p)
}
