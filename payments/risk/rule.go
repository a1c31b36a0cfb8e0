// Package risk decides whether a payment may go ahead. Rules are data (a kind,
// a scope, parameters, an action) so operators can edit them; the Engine runs
// every enabled rule that applies to the merchant's tier and combines the ones
// that fire into a Decision with a score and the reasons.
//
// Decision precedence is deny > review > challenge > allow: the strictest
// action among the rules that fire wins, and a payment no rule fires on is
// allowed.
package risk

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// Action is what a decision tells the pipeline to do.
type Action string

// Actions, from least to most strict.
const (
	// Allow lets the payment go ahead. A rule with action Allow only records its
	// reason when it fires (a monitoring rule).
	Allow Action = "allow"
	// Challenge asks for 3-D Secure (or the method's own strong authentication)
	// before authorizing.
	Challenge Action = "challenge"
	// Review authorizes nothing until an operator approves the payment.
	Review Action = "review"
	// Deny refuses the payment.
	Deny Action = "deny"
)

// severity orders actions for precedence.
var severity = map[Action]int{Allow: 0, Challenge: 1, Review: 2, Deny: 3}

// Stricter reports whether a takes precedence over b.
func (a Action) Stricter(b Action) bool { return severity[a] > severity[b] }

// Kind is what a rule checks. Each kind reads its own Params fields, listed
// with it.
type Kind string

// Rule kinds.
const (
	// AmountLimit fires when a payment in Params.Currency is above
	// Params.MaxMinor.
	AmountLimit Kind = "amount_limit"
	// DailyLimit fires when the day's authorized volume in Params.Currency for
	// the payment's Params.Dimension value (merchant by default), plus this
	// payment, is above Params.MaxMinor. Days are UTC calendar days.
	DailyLimit Kind = "daily_limit"
	// Velocity fires when the payment would be attempt number Params.MaxCount+1
	// or more within Params.Window for its Params.Dimension value (card,
	// customer, ip or email).
	Velocity Kind = "velocity"
	// CountryBlocklist fires when the card's issuing country, the IP's country or
	// the billing country is in Params.Countries.
	CountryBlocklist Kind = "country_blocklist"
	// BINBlocklist fires when the card's BIN starts with one of Params.BINs.
	BINBlocklist Kind = "bin_blocklist"
	// GeoMismatch fires when the billing country and the IP's country are both
	// known and differ.
	GeoMismatch Kind = "geo_mismatch"
	// AMLThreshold fires when a payment in Params.Currency is at or above
	// Params.MaxMinor; its action is normally Review.
	AMLThreshold Kind = "aml_threshold"
)

// Dimension is what velocity and daily limits count by.
type Dimension string

// Dimensions.
const (
	ByMerchant Dimension = "merchant"
	ByCard     Dimension = "card" // the PAN fingerprint
	ByCustomer Dimension = "customer"
	ByIP       Dimension = "ip"
	ByEmail    Dimension = "email"
)

// dimensionValue reads a dimension from a payment; "" means unknown, and a rule
// counting by an unknown dimension does not fire.
var dimensionValue = map[Dimension]func(Payment) string{
	ByMerchant: func(p Payment) string { return p.MerchantID },
	ByCard:     func(p Payment) string { return p.CardFingerprint },
	ByCustomer: func(p Payment) string { return p.CustomerID },
	ByIP:       func(p Payment) string { return p.IP },
	ByEmail:    func(p Payment) string { return strings.ToLower(strings.TrimSpace(p.Email)) },
}

// Rule is one risk rule. Rules are data: the GraphQL operator API reads and
// writes them as they are.
type Rule struct {
	ID   string
	Kind Kind
	// Tier scopes the rule to merchants of one risk tier; "" makes it global.
	Tier    string
	Action  Action
	Enabled bool
	// Score is added to the decision's score when the rule fires, 0 to 100.
	Score int
	// Description is the operator's note; the reason text is generated.
	Description string
	Params      Params
}

// Params are a rule's parameters; which fields a kind reads is listed with the
// kind. Amounts are minor units of Currency.
type Params struct {
	Currency  money.Currency `json:"currency,omitzero"`
	MaxMinor  int64          `json:"max_minor,omitempty"`
	Dimension Dimension      `json:"dimension,omitempty"`
	Window    time.Duration  `json:"window,omitempty"`
	MaxCount  int64          `json:"max_count,omitempty"`
	Countries []string       `json:"countries,omitempty"`
	BINs      []string       `json:"bins,omitempty"`
}

// validators check each kind's parameters.
var validators = map[Kind]func(Params) error{
	AmountLimit:  validAmount,
	AMLThreshold: validAmount,
	DailyLimit: func(p Params) error {
		if err := validAmount(p); err != nil {
			return err
		}
		if p.Dimension != "" && dimensionValue[p.Dimension] == nil {
			return payments.FieldErrorf("params.dimension", "unknown dimension %q", p.Dimension)
		}
		return nil
	},
	Velocity: func(p Params) error {
		switch {
		case dimensionValue[p.Dimension] == nil || p.Dimension == ByMerchant:
			return payments.FieldErrorf("params.dimension", "velocity counts by card, customer, ip or email")
		case p.Window < time.Second || p.Window > MaxWindow:
			return payments.FieldErrorf("params.window", "window must be between 1s and %s", MaxWindow)
		case p.MaxCount < 1:
			return payments.FieldErrorf("params.max_count", "max count must be at least 1")
		}
		return nil
	},
	CountryBlocklist: func(p Params) error {
		if len(p.Countries) == 0 {
			return payments.FieldErrorf("params.countries", "list at least one country")
		}
		for _, c := range p.Countries {
			if len(c) != 2 || strings.ToUpper(c) != c || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				return payments.FieldErrorf("params.countries", "%q is not an ISO 3166-1 alpha-2 code", c)
			}
		}
		return nil
	},
	BINBlocklist: func(p Params) error {
		if len(p.BINs) == 0 {
			return payments.FieldErrorf("params.bins", "list at least one BIN prefix")
		}
		for _, b := range p.BINs {
			if len(b) < 1 || len(b) > 6 || strings.Trim(b, "0123456789") != "" {
				return payments.FieldErrorf("params.bins", "%q is not a 1-6 digit BIN prefix", b)
			}
		}
		return nil
	},
	GeoMismatch: func(Params) error { return nil },
}

func validAmount(p Params) error {
	if p.Currency.IsZero() {
		return payments.FieldErrorf("params.currency", "currency is required")
	}
	if p.MaxMinor <= 0 {
		return payments.FieldErrorf("params.max_minor", "amount must be positive")
	}
	return nil
}

// MaxWindow is the longest velocity window; counters keep events this long.
const MaxWindow = 7 * 24 * time.Hour

// Retention is how long counter events matter: the longest velocity window
// (a daily limit needs only today's). Older events may be forgotten.
const Retention = MaxWindow

// Validate checks a rule before it is stored. Returns EINVALID naming the field:
// "id", "kind", "action", "score" or "params.<name>".
func (r Rule) Validate() error {
	if r.ID == "" {
		return payments.FieldErrorf("id", "rule id is required")
	}
	v, ok := validators[r.Kind]
	if !ok {
		return payments.FieldErrorf("kind", "unknown rule kind %q", r.Kind)
	}
	if _, ok := severity[r.Action]; !ok {
		return payments.FieldErrorf("action", "unknown action %q", r.Action)
	}
	if r.Score < 0 || r.Score > 100 {
		return payments.FieldErrorf("score", "score must be 0 to 100")
	}
	return v(r.Params)
}

// appliesTo reports whether the rule runs for a merchant of the tier.
func (r Rule) appliesTo(tier string) bool { return r.Enabled && (r.Tier == "" || r.Tier == tier) }

// String describes the rule for logs.
func (r Rule) String() string {
	scope := "global"
	if r.Tier != "" {
		scope = "tier " + r.Tier
	}
	return fmt.Sprintf("%s (%s, %s → %s)", r.ID, r.Kind, scope, r.Action)
}

// sortRules orders rules for evaluation: global rules first, then tier rules,
// each by id, so reasons come out in a stable order.
func sortRules(rs []Rule) {
	slices.SortStableFunc(rs, func(a, b Rule) int {
		if (a.Tier == "") != (b.Tier == "") {
			if a.Tier == "" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
}
