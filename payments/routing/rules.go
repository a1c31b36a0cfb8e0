package routing

import (
	"context"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// Rule is an operator routing rule. The first enabled rule (lowest Priority,
// then id) whose Match fits the payment applies; it either prefers connectors
// in a fixed order (Prefer) or splits volume among them (Split). Connectors a
// rule names still have to be eligible: a rule reorders, it never forces.
type Rule struct {
	ID       string `json:"id"`
	Priority int    `json:"priority"`
	Enabled  bool   `json:"enabled"`
	Match    Match  `json:"match"`
	// Prefer puts these connectors first, in this order.
	Prefer []string `json:"prefer,omitempty"`
	// Split sends each payment to one of these connectors with the given
	// percentages (summing to 100), chosen by a hash of the payment id so a
	// payment always lands on the same connector.
	Split []Share `json:"split,omitempty"`
}

// Match selects payments; empty fields match everything.
type Match struct {
	MerchantID string           `json:"merchant_id,omitempty"`
	Methods    []Method         `json:"methods,omitempty"`
	Schemes    []string         `json:"schemes,omitempty"`
	Currencies []money.Currency `json:"currencies,omitempty"`
	Countries  []string         `json:"countries,omitempty"`
}

// Share is one connector's percentage of a volume split.
type Share struct {
	Connector string `json:"connector"`
	Percent   int    `json:"percent"`
}

// Validate checks a rule before it is stored. Returns EINVALID naming the field:
// "id", "prefer", "split" or "split.percent".
func (r Rule) Validate() error {
	if r.ID == "" {
		return payments.FieldErrorf("id", "rule id is required")
	}
	if (len(r.Prefer) == 0) == (len(r.Split) == 0) {
		return payments.FieldErrorf("prefer", "a rule sets exactly one of prefer and split")
	}
	for _, name := range r.Prefer {
		if name == "" {
			return payments.FieldErrorf("prefer", "connector name is empty")
		}
	}
	total, seen := 0, map[string]bool{}
	for _, s := range r.Split {
		if s.Connector == "" || seen[s.Connector] {
			return payments.FieldErrorf("split", "each share names a different connector")
		}
		if s.Percent <= 0 || s.Percent > 100 {
			return payments.FieldErrorf("split.percent", "a share is 1 to 100 percent")
		}
		seen[s.Connector] = true
		total += s.Percent
	}
	if len(r.Split) > 0 && total != 100 {
		return payments.FieldErrorf("split.percent", "shares sum to %d, want 100", total)
	}
	return nil
}

func (m Match) matches(req Request) bool {
	return (m.MerchantID == "" || m.MerchantID == req.MerchantID) &&
		(len(m.Methods) == 0 || slices.Contains(m.Methods, req.Method)) &&
		(len(m.Schemes) == 0 || slices.Contains(m.Schemes, req.Scheme)) &&
		(len(m.Currencies) == 0 || slices.Contains(m.Currencies, req.Amount.Currency)) &&
		(len(m.Countries) == 0 || slices.Contains(m.Countries, req.Country))
}

// pickRule returns the rule that applies to req, if any.
func pickRule(rules []Rule, req Request) (Rule, bool) {
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b Rule) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, r := range rules {
		if r.Enabled && r.Match.matches(req) {
			return r, true
		}
	}
	return Rule{}, false
}

// bucket maps a payment id to a stable number in [0, n): FNV-1a, which is fast,
// stable across processes and versions, and spreads ids evenly enough for
// percentage splits.
func bucket(paymentID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(paymentID))
	return int(h.Sum32() % uint32(n))
}

// splitPick chooses a connector from the eligible shares of a split. Shares of
// ineligible connectors are left out and the rest keep their relative weights,
// so a split between A 70 / B 30 with B down sends everything to A.
func splitPick(shares []Share, eligible func(string) bool, paymentID string) (string, bool) {
	var live []Share
	total := 0
	for _, s := range shares {
		if eligible(s.Connector) {
			live = append(live, s)
			total += s.Percent
		}
	}
	if total == 0 {
		return "", false
	}
	b := bucket(paymentID, total)
	for _, s := range live {
		if b < s.Percent {
			return s.Connector, true
		}
		b -= s.Percent
	}
	return "", false // unreachable: b < total
}

// RuleSource supplies operator rules: rulebook.Book reads the routing_rules
// table, rulebook.Mem holds them in memory.
type RuleSource interface {
	// Rules returns every rule, enabled or not.
	Rules(ctx context.Context) ([]Rule, error)
}
