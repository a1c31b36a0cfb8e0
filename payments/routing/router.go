package routing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// Request is what routing knows about a payment.
type Request struct {
	// PaymentID seeds volume splits, so retries of a payment route alike.
	PaymentID  string
	MerchantID string
	Method     Method
	// Scheme is the card scheme (from the vault's BIN lookup); "" for other
	// methods, or to accept any scheme.
	Scheme string
	Amount money.Amount
	// Country is the buyer's country (ISO 3166-1 alpha-2), "" if unknown.
	Country string
	// AuthorizeOnly says the attempt authorizes without capturing (manual
	// capture, or a payment risk holds for review): only connectors that
	// can (Connector.Preauth) are eligible.
	AuthorizeOnly bool
}

// Candidate is one connector as the router saw it.
type Candidate struct {
	Connector string `json:"connector"`
	Eligible  bool   `json:"eligible"`
	// Reason says why the connector was dropped, or where it ranked and why.
	Reason string `json:"reason"`
	// Cost is the connector's fee for this payment in minor units of its
	// currency (eligible candidates only).
	Cost       int64   `json:"cost,omitempty"`
	AuthRateBP int64   `json:"auth_rate_bp,omitempty"`
	Circuit    Circuit `json:"circuit,omitempty"`
}

// Decision is the router's answer, recorded on the payment attempt.
type Decision struct {
	PaymentID string `json:"payment_id"`
	// Chosen is the connector to call now.
	Chosen string `json:"chosen"`
	// Rule is the operator rule that reordered the candidates, "" if none did
	// (no rule matched, or none of its connectors was eligible).
	Rule string `json:"rule,omitempty"`
	// Candidates are the eligible connectors in the order they would be tried,
	// then the dropped ones by name.
	Candidates []Candidate `json:"candidates"`
	// Attempted lists the connectors used so far, Chosen last.
	Attempted []string `json:"attempted"`
}

// Router chooses connectors.
type Router struct {
	catalog Catalog
	health  Health
	rules   RuleSource
}

// NewRouter returns a Router over a catalog, live health and operator rules.
func NewRouter(c Catalog, h Health, r RuleSource) *Router {
	return &Router{catalog: c, health: h, rules: r}
}

// filters is the eligibility table, checked in order; the first filter that
// objects drops the connector with its reason.
var filters = []func(c Connector, req Request, s Stats) string{
	func(c Connector, _ Request, _ Stats) string {
		return when(!c.Enabled, "disabled")
	},
	func(c Connector, req Request, _ Stats) string {
		return when(!slices.Contains(c.Methods, req.Method), "does not take %s", req.Method)
	},
	func(c Connector, req Request, _ Stats) string {
		ok := req.Method != Card || req.Scheme == "" || len(c.Schemes) == 0 ||
			slices.ContainsFunc(c.Schemes, func(s string) bool { return strings.EqualFold(s, req.Scheme) })
		return when(!ok, "does not accept %s cards", req.Scheme)
	},
	func(c Connector, req Request, _ Stats) string {
		return when(!slices.Contains(c.Currencies, req.Amount.Currency), "does not take %s", req.Amount.Currency)
	},
	func(c Connector, req Request, _ Stats) string {
		return when(req.AuthorizeOnly && !c.Preauth, "cannot authorize without capturing")
	},
	func(c Connector, req Request, _ Stats) string {
		ok := len(c.Countries) == 0 || (req.Country != "" && slices.Contains(c.Countries, req.Country))
		return when(!ok, "does not serve buyers in %q", req.Country)
	},
	func(c Connector, req Request, _ Stats) string {
		l, ok := c.limit(req.Amount.Currency)
		switch {
		case !ok:
			return ""
		case req.Amount.Minor < l.Min:
			return fmt.Sprintf("amount %s is below its minimum %s", req.Amount, money.Amount{Minor: l.Min, Currency: l.Currency})
		case l.Max > 0 && req.Amount.Minor > l.Max:
			return fmt.Sprintf("amount %s is above its maximum %s", req.Amount, money.Amount{Minor: l.Max, Currency: l.Currency})
		}
		return ""
	},
	func(_ Connector, _ Request, s Stats) string {
		return when(s.Circuit == Open, "circuit open")
	},
}

func when(cond bool, format string, args ...any) string {
	if !cond {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

// rank orders eligible candidates: least cost, then higher auth rate, then a
// closed circuit before a half-open one, then name for a stable order.
func rank(a, b Candidate) int {
	return cmp.Or(
		cmp.Compare(a.Cost, b.Cost),
		cmp.Compare(b.AuthRateBP, a.AuthRateBP),
		cmp.Compare(circuitOrder(a.Circuit), circuitOrder(b.Circuit)),
		cmp.Compare(a.Connector, b.Connector),
	)
}

func circuitOrder(c Circuit) int {
	if c == HalfOpen {
		return 1
	}
	return 0
}

func (req Request) validate() error {
	switch {
	case !slices.Contains(Methods, req.Method):
		return payments.FieldErrorf("method", "unknown payment method %q", req.Method)
	case req.Amount.Currency.IsZero():
		return payments.FieldErrorf("currency", "currency is required")
	case !req.Amount.IsPositive():
		return payments.FieldErrorf("amount", "amount must be positive")
	}
	return nil
}

// Route chooses a connector for the request. It always returns the Decision
// with every candidate and its reason; with no eligible connector, Chosen is
// empty and the error is EUNAVAILABLE when some connector was dropped only for
// an open circuit (try again later), EINVALID otherwise (nothing takes this
// payment). Returns EINVALID for a malformed request, and the catalog's,
// health's or rules' error wrapped.
func (r *Router) Route(ctx context.Context, req Request) (Decision, error) {
	if err := req.validate(); err != nil {
		return Decision{}, err
	}
	conns, stats, err := r.load(ctx)
	if err != nil {
		return Decision{}, err
	}
	rules, err := r.rules.Rules(ctx)
	if err != nil {
		return Decision{}, fmt.Errorf("routing: rules: %w", err)
	}

	eligible, dropped := screen(conns, stats, req)
	slices.SortFunc(eligible, rank)
	for i := range eligible {
		eligible[i].Reason = fmt.Sprintf("rank %d by cost %s, auth rate %s, circuit %s",
			i+1, money.Amount{Minor: eligible[i].Cost, Currency: req.Amount.Currency}, percent(eligible[i].AuthRateBP), eligible[i].Circuit)
	}
	d := Decision{PaymentID: req.PaymentID, Attempted: []string{}}
	if rule, ok := pickRule(rules, req); ok && applyRule(rule, eligible, req.PaymentID) > 0 {
		d.Rule = rule.ID
	}
	d.Candidates = append(eligible, dropped...)
	if len(eligible) == 0 {
		return d, noConnector(req, dropped)
	}
	d.Chosen = eligible[0].Connector
	d.Attempted = append(d.Attempted, d.Chosen)
	return d, nil
}

// applyRule reorders the eligible candidates in place by an operator rule and
// notes it in their reasons. It returns how many candidates the rule moved to
// the front.
func applyRule(rule Rule, eligible []Candidate, paymentID string) int {
	isEligible := func(name string) bool {
		return slices.ContainsFunc(eligible, func(c Candidate) bool { return c.Connector == name })
	}
	var front []string
	var note string
	if len(rule.Split) > 0 {
		if name, ok := splitPick(rule.Split, isEligible, paymentID); ok {
			front, note = []string{name}, "chosen by volume split in rule "+rule.ID
		}
	} else {
		for _, name := range rule.Prefer {
			if isEligible(name) && !slices.Contains(front, name) {
				front = append(front, name)
			}
		}
		note = "preferred by rule " + rule.ID
	}
	pos := func(c Candidate) int {
		if i := slices.Index(front, c.Connector); i >= 0 {
			return i
		}
		return len(front)
	}
	slices.SortStableFunc(eligible, func(a, b Candidate) int { return pos(a) - pos(b) })
	for i := range front {
		eligible[i].Reason = note + "; " + eligible[i].Reason
	}
	return len(front)
}

// screen splits connectors into eligible candidates (unsorted) and dropped ones
// (by name).
func screen(conns []Connector, stats map[string]Stats, req Request) (eligible, dropped []Candidate) {
	for _, c := range conns {
		s := stats[c.Name]
		if s.Circuit == "" {
			s.Circuit = Closed
		}
		why := ""
		for _, f := range filters {
			if why = f(c, req, s); why != "" {
				break
			}
		}
		if why != "" {
			dropped = append(dropped, Candidate{Connector: c.Name, Reason: why, Circuit: s.Circuit})
			continue
		}
		eligible = append(eligible, Candidate{Connector: c.Name, Eligible: true, Cost: c.cost(req.Amount), AuthRateBP: s.AuthRateBP, Circuit: s.Circuit})
	}
	slices.SortFunc(dropped, func(a, b Candidate) int { return strings.Compare(a.Connector, b.Connector) })
	return eligible, dropped
}

func (r *Router) load(ctx context.Context) ([]Connector, map[string]Stats, error) {
	conns, err := r.catalog.Connectors(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("routing: catalog: %w", err)
	}
	stats := make(map[string]Stats, len(conns))
	for _, c := range conns {
		s, err := r.health.Stats(ctx, c.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("routing: health of %s: %w", c.Name, err)
		}
		stats[c.Name] = s
	}
	return conns, stats, nil
}

func noConnector(req Request, dropped []Candidate) error {
	if slices.ContainsFunc(dropped, func(c Candidate) bool { return c.Reason == "circuit open" }) {
		return payments.Errorf(payments.EUNAVAILABLE, "no connector is available for this payment right now")
	}
	return payments.Errorf(payments.EINVALID, "no connector takes %s payments of %s from %q", req.Method, req.Amount, req.Country)
}

// AvailableMethods returns, in the order of Methods, the methods that at least
// one connector could take now for a payment of amount from a buyer in
// country, or in any country when country is "": the routing preview a
// checkout session shows. Scheme is not checked.
func (r *Router) AvailableMethods(ctx context.Context, amount money.Amount, country string) ([]Method, error) {
	conns, stats, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	// An unknown country is any country a connector serves (and none, for
	// the connectors that serve every country).
	countries := []string{country}
	if country == "" {
		for _, c := range conns {
			for _, cc := range c.Countries {
				if !slices.Contains(countries, cc) {
					countries = append(countries, cc)
				}
			}
		}
	}
	var out []Method
	for _, m := range Methods {
		for _, cc := range countries {
			req := Request{Method: m, Amount: amount, Country: cc}
			if err := req.validate(); err != nil {
				return nil, err
			}
			if eligible, _ := screen(conns, stats, req); len(eligible) > 0 {
				out = append(out, m)
				break
			}
		}
	}
	return out, nil
}

// percent formats basis points as a percentage with two decimals, without
// floats.
func percent(bp int64) string { return fmt.Sprintf("%d.%02d%%", bp/100, bp%100) }
