package rulebook_test

import (
	"context"
	"testing"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/rulebook"
)

func TestMemRefusesInvalidRules(t *testing.T) {
	m := rulebook.NewMem()
	if err := m.UpsertRiskRule(risk.Rule{Kind: risk.CountryBlocklist}); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("risk rule without id: %v, want EINVALID", err)
	}
	if err := m.UpsertRoutingRule(routing.Rule{}); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("routing rule without id: %v, want EINVALID", err)
	}
	if rules, _ := m.RiskRules().Rules(context.Background()); len(rules) != 0 {
		t.Errorf("stored %d refused risk rules", len(rules))
	}
	if rules, _ := m.RoutingRules().Rules(context.Background()); len(rules) != 0 {
		t.Errorf("stored %d refused routing rules", len(rules))
	}
}

func TestMemReplacesARuleByIDAndKeepsItsOwnCopy(t *testing.T) {
	m := rulebook.NewMem()
	countries := []string{"KP"}
	for _, action := range []risk.Action{risk.Review, risk.Deny} {
		r := risk.Rule{ID: "block", Kind: risk.CountryBlocklist, Action: action, Enabled: true, Params: risk.Params{Countries: countries}}
		if err := m.UpsertRiskRule(r); err != nil {
			t.Fatal(err)
		}
	}
	countries[0] = "US" // the caller's slice, changed after the upsert

	rules, err := m.RiskRules().Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Action != risk.Deny || rules[0].Params.Countries[0] != "KP" {
		t.Fatalf("rules = %+v, want the second upsert with countries [KP]", rules)
	}

	prefer := []string{"acq_a"}
	if err := m.UpsertRoutingRule(routing.Rule{ID: "prefer", Enabled: true, Prefer: prefer}); err != nil {
		t.Fatal(err)
	}
	prefer[0] = "acq_b"
	routes, err := m.RoutingRules().Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 || routes[0].Prefer[0] != "acq_a" {
		t.Fatalf("routing rules = %+v, want prefer [acq_a]", routes)
	}
}
