package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/merchant"
	"github.com/straitpay/strait/ent/merchantuser"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/viewer"
)

// devMerchantName marks the demo merchant, so a restart reuses it.
const devMerchantName = "Strait Demo Store"

// devOperator is the operator dev mode's tokens speak for, and
// devTokenLifetime how long they last.
var devOperator = viewer.Viewer{Kind: viewer.Operator, Subject: "dev-operator"}

const devTokenLifetime = 12 * time.Hour

// SeedDev makes sure a demo merchant with an admin user exists and prints
// ready-made tokens and the GraphiQL URL to out. Only for dev mode.
func (a *App) SeedDev(ctx context.Context, out io.Writer, baseURL string) error {
	op := viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.Operator, Subject: "dev"})
	m, err := a.DB.Client.Merchant.Query().Where(merchant.LegalName(devMerchantName)).First(op)
	if ent.IsNotFound(err) {
		m, err = a.Tenancy.CreateMerchant(op, tenancy.MerchantInput{LegalName: devMerchantName, Country: "SG", SettlementCurrency: "USD"})
	}
	if err != nil {
		return fmt.Errorf("dev merchant: %w", err)
	}
	u, err := a.DB.Client.MerchantUser.Query().Where(merchantuser.MerchantID(m.ID), merchantuser.Email("admin@demo.strait.dev")).First(op)
	if ent.IsNotFound(err) {
		u, err = a.Tenancy.CreateUser(op, tenancy.UserInput{MerchantID: m.ID, Email: "admin@demo.strait.dev", Name: "Demo Admin", Role: merchantuser.RoleADMIN})
	}
	if err != nil {
		return fmt.Errorf("dev user: %w", err)
	}
	opToken, err := a.Tokens.Mint(devOperator, devTokenLifetime)
	if err != nil {
		return err
	}
	adminToken, err := a.Tokens.Mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: u.ID, MerchantID: m.ID, Role: viewer.RoleAdmin}, devTokenLifetime)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `
Strait dev mode
  GraphiQL:        %s/  (served from the binary; the operator token is pre-filled)
  connectors:      %s
  demo merchant:   %s (%s)
  operator token:  %s
  merchant admin:  %s

  curl -s %s/graphql -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"query":"{ viewer { principal subject merchant { id legalName } } }"}'

`, baseURL, a.connectorSummary(), m.ID, m.LegalName, opToken, adminToken, baseURL)
	return nil
}

// connectorSummary lists the connectors and their health on one line.
func (a *App) connectorSummary() string {
	list := a.Connectors.List()
	if len(list) == 0 {
		return "none (no manifest in " + a.Config.PluginDir + "; run make build)"
	}
	parts := make([]string, len(list))
	for i, st := range list {
		parts[i] = st.Name + " " + string(st.Health)
	}
	return strings.Join(parts, ", ")
}
