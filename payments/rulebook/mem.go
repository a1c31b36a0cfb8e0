package rulebook

import (
	"context"
	"slices"
	"sync"

	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
)

// Mem is a rule book held in memory: risk and routing rules without a
// database, for tests and for wiring that needs no operator rules. Like Book,
// it validates every rule it stores; unlike Book, it keeps no audit log. It is
// safe for concurrent use.
type Mem struct {
	risk    memRules[risk.Rule]
	routing memRules[routing.Rule]
}

// NewMem returns an empty rule book.
func NewMem() *Mem {
	return &Mem{risk: memRules[risk.Rule]{byID: map[string]risk.Rule{}}, routing: memRules[routing.Rule]{byID: map[string]routing.Rule{}}}
}

// RiskRules returns the book as a risk.RuleSource.
func (m *Mem) RiskRules() risk.RuleSource { return &m.risk }

// RoutingRules returns the book as a routing.RuleSource.
func (m *Mem) RoutingRules() routing.RuleSource { return &m.routing }

// UpsertRiskRule validates r and stores it under its id, replacing the rule
// with that id. Returns the EINVALID error of risk.Rule.Validate.
func (m *Mem) UpsertRiskRule(r risk.Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	// The caller keeps its slices; the book keeps its own.
	r.Params.Countries = slices.Clone(r.Params.Countries)
	r.Params.BINs = slices.Clone(r.Params.BINs)
	m.risk.put(r.ID, r)
	return nil
}

// UpsertRoutingRule validates r and stores it under its id, replacing the rule
// with that id. Returns the EINVALID error of routing.Rule.Validate.
func (m *Mem) UpsertRoutingRule(r routing.Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.Prefer = slices.Clone(r.Prefer)
	r.Split = slices.Clone(r.Split)
	r.Match.Methods = slices.Clone(r.Match.Methods)
	r.Match.Schemes = slices.Clone(r.Match.Schemes)
	r.Match.Currencies = slices.Clone(r.Match.Currencies)
	r.Match.Countries = slices.Clone(r.Match.Countries)
	m.routing.put(r.ID, r)
	return nil
}

// memRules holds one kind of rule by id.
type memRules[R any] struct {
	mu   sync.Mutex
	byID map[string]R
}

func (s *memRules[R]) put(id string, r R) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id] = r
}

// Rules implements risk.RuleSource and routing.RuleSource: every rule, in no
// particular order.
func (s *memRules[R]) Rules(context.Context) ([]R, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]R, 0, len(s.byID))
	for _, r := range s.byID {
		out = append(out, r)
	}
	return out, nil
}
