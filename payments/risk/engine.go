package risk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// Payment is what the Engine knows about a payment being checked. Fields the
// caller does not know stay empty; rules that need them do not fire.
type Payment struct {
	ID         string
	MerchantID string
	// Tier is the merchant's risk tier; tier rules for other tiers do not run.
	Tier            string
	Amount          money.Amount
	CardFingerprint string
	BIN             string
	CardCountry     string
	CustomerID      string
	Email           string
	IP              string
	IPCountry       string
	BillingCountry  string
}

// Reason is one rule that fired.
type Reason struct {
	RuleID string `json:"rule_id"`
	Kind   Kind   `json:"kind"`
	Action Action `json:"action"`
	// Text explains in words what the rule saw, for operators and merchants.
	Text string `json:"text"`
}

// Decision is the Engine's answer, stored with the payment.
type Decision struct {
	// Action is the strictest action among the fired rules (deny > review >
	// challenge > allow), or Allow when none fired.
	Action Action `json:"action"`
	// Score is the sum of the fired rules' scores, capped at 100.
	Score       int       `json:"score"`
	Reasons     []Reason  `json:"reasons"`
	EvaluatedAt time.Time `json:"evaluated_at"`
}

// RuleSource supplies the rules: rulebook.Book lists the risk_rules table,
// rulebook.Mem holds them in memory.
type RuleSource interface {
	// Rules returns every rule, enabled or not, of every tier.
	Rules(ctx context.Context) ([]Rule, error)
}

// Engine evaluates payments against the rules.
type Engine struct {
	rules    RuleSource
	counters Counters
	now      func() time.Time
}

// NewEngine returns an Engine. now defaults to time.Now.
func NewEngine(rules RuleSource, counters Counters, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	return &Engine{rules: rules, counters: counters, now: now}
}

// check runs one rule against a payment: whether it fired and, if so, why.
type check func(ctx context.Context, e *Engine, r Rule, p Payment, now time.Time) (fired bool, why string, err error)

// checks is the evaluation table: one function per rule kind.
var checks = map[Kind]check{
	AmountLimit: func(_ context.Context, _ *Engine, r Rule, p Payment, _ time.Time) (bool, string, error) {
		limit := money.Amount{Minor: r.Params.MaxMinor, Currency: r.Params.Currency}
		return p.Amount.Currency == limit.Currency && p.Amount.Minor > limit.Minor,
			fmt.Sprintf("amount %s is above the per-payment limit of %s", p.Amount, limit), nil
	},
	AMLThreshold: func(_ context.Context, _ *Engine, r Rule, p Payment, _ time.Time) (bool, string, error) {
		limit := money.Amount{Minor: r.Params.MaxMinor, Currency: r.Params.Currency}
		return p.Amount.Currency == limit.Currency && p.Amount.Minor >= limit.Minor,
			fmt.Sprintf("amount %s reaches the AML threshold of %s", p.Amount, limit), nil
	},
	DailyLimit: func(ctx context.Context, e *Engine, r Rule, p Payment, now time.Time) (bool, string, error) {
		dim := r.Params.Dimension
		if dim == "" {
			dim = ByMerchant
		}
		v := dimensionValue[dim](p)
		if v == "" || p.Amount.Currency != r.Params.Currency {
			return false, "", nil
		}
		_, total, err := e.counters.Sum(ctx, volumeKey(dim, v, p.Amount.Currency), startOfDay(now))
		if err != nil {
			return false, "", err
		}
		after := money.Amount{Minor: total, Currency: p.Amount.Currency}
		if after, err = after.Add(p.Amount); err != nil {
			return true, "daily volume overflows", nil
		}
		limit := money.Amount{Minor: r.Params.MaxMinor, Currency: r.Params.Currency}
		return after.Minor > limit.Minor,
			fmt.Sprintf("today's volume per %s would reach %s, above the daily limit of %s", dim, after, limit), nil
	},
	Velocity: func(ctx context.Context, e *Engine, r Rule, p Payment, now time.Time) (bool, string, error) {
		v := dimensionValue[r.Params.Dimension](p)
		if v == "" {
			return false, "", nil
		}
		n, _, err := e.counters.Sum(ctx, attemptKey(r.Params.Dimension, v), now.Add(-r.Params.Window))
		if err != nil {
			return false, "", err
		}
		return n+1 > r.Params.MaxCount,
			fmt.Sprintf("this is payment %d from the same %s within %s (limit %d)", n+1, r.Params.Dimension, r.Params.Window, r.Params.MaxCount), nil
	},
	CountryBlocklist: func(_ context.Context, _ *Engine, r Rule, p Payment, _ time.Time) (bool, string, error) {
		for _, c := range []struct{ what, code string }{{"card issuing", p.CardCountry}, {"IP", p.IPCountry}, {"billing", p.BillingCountry}} {
			if c.code != "" && slices.Contains(r.Params.Countries, strings.ToUpper(c.code)) {
				return true, fmt.Sprintf("%s country %s is blocked", c.what, strings.ToUpper(c.code)), nil
			}
		}
		return false, "", nil
	},
	BINBlocklist: func(_ context.Context, _ *Engine, r Rule, p Payment, _ time.Time) (bool, string, error) {
		for _, b := range r.Params.BINs {
			if p.BIN != "" && strings.HasPrefix(p.BIN, b) {
				return true, fmt.Sprintf("card BIN %s is blocked (prefix %s)", p.BIN, b), nil
			}
		}
		return false, "", nil
	},
	GeoMismatch: func(_ context.Context, _ *Engine, _ Rule, p Payment, _ time.Time) (bool, string, error) {
		b, ip := strings.ToUpper(p.BillingCountry), strings.ToUpper(p.IPCountry)
		return b != "" && ip != "" && b != ip,
			fmt.Sprintf("billing country %s differs from IP country %s", b, ip), nil
	},
}

// Assess is Evaluate without recording the payment's attempt: it returns
// the decision and the counts that record the attempt, for the caller to
// write with RecordTx in its own transaction (the payment pipeline writes
// them with the attempt, so a count and its attempt commit together), or
// with Record. Its errors are Evaluate's.
func (e *Engine) Assess(ctx context.Context, p Payment) (Decision, []Count, error) {
	rules, err := e.rules.Rules(ctx)
	if err != nil {
		return Decision{}, nil, fmt.Errorf("risk: rules: %w", err)
	}
	rules = slices.DeleteFunc(slices.Clone(rules), func(r Rule) bool { return !r.appliesTo(p.Tier) })
	sortRules(rules)

	now := e.now()
	d := Decision{Action: Allow, Reasons: []Reason{}, EvaluatedAt: now.UTC()}
	for _, r := range rules {
		run, ok := checks[r.Kind]
		if !ok {
			return Decision{}, nil, fmt.Errorf("risk: rule %s has unknown kind %q", r.ID, r.Kind)
		}
		fired, why, err := run(ctx, e, r, p, now)
		if err != nil {
			return Decision{}, nil, fmt.Errorf("risk: rule %s: %w", r.ID, err)
		}
		if !fired {
			continue
		}
		d.Reasons = append(d.Reasons, Reason{RuleID: r.ID, Kind: r.Kind, Action: r.Action, Text: why})
		d.Score = min(100, d.Score+r.Score)
		if r.Action.Stricter(d.Action) {
			d.Action = r.Action
		}
	}
	return d, counts(keysOf(attemptDimensions, p, attemptKey), now, 1), nil
}

// Evaluate runs every enabled rule for the payment's tier (global rules, then
// tier rules, each by id) and returns the decision. It then records the payment
// as an attempt for velocity, whatever the decision, so that a burst of denied
// card-testing attempts keeps counting. Call it once per payment attempt, after
// idempotency (a replayed request must not count twice).
//
// Returns an error, and no decision, if the rules or counters cannot be read:
// the pipeline must not guess, and treats this as EUNAVAILABLE.
func (e *Engine) Evaluate(ctx context.Context, p Payment) (Decision, error) {
	d, cs, err := e.Assess(ctx, p)
	if err != nil {
		return Decision{}, err
	}
	if err := e.Record(ctx, cs); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// RecordVolume adds an authorized payment's amount to the daily totals of every
// dimension. Declined and reviewed payments do not count toward daily
// limits. The payment pipeline records the same counts (VolumeKeys,
// VolumeCounts) in the transaction that records the authorization.
func (e *Engine) RecordVolume(ctx context.Context, p Payment) error {
	if !p.Amount.IsPositive() {
		return payments.FieldErrorf("amount", "volume must be positive")
	}
	return e.Record(ctx, e.VolumeCounts(VolumeKeys(p), p.Amount.Minor))
}

// VolumeKeys names the daily totals an authorization of p adds to: one per
// dimension p has a value for, in p's currency.
func VolumeKeys(p Payment) []string {
	return keysOf(volumeDimensions, p, func(d Dimension, v string) string { return volumeKey(d, v, p.Amount.Currency) })
}

// VolumeCounts are the counts that add amount (minor units) to the daily
// totals named by keys (VolumeKeys), now.
func (e *Engine) VolumeCounts(keys []string, amount int64) []Count {
	return counts(keys, e.now(), amount)
}

var (
	attemptDimensions = []Dimension{ByCard, ByCustomer, ByIP, ByEmail}
	volumeDimensions  = []Dimension{ByMerchant, ByCard, ByCustomer, ByIP, ByEmail}
)

// Count is one event of value at a time under a counter's key.
type Count struct {
	Key   string
	At    time.Time
	Value int64
}

func keysOf(dims []Dimension, p Payment, key func(Dimension, string) string) []string {
	var keys []string
	for _, d := range dims {
		if v := dimensionValue[d](p); v != "" {
			keys = append(keys, key(d, v))
		}
	}
	return keys
}

func counts(keys []string, at time.Time, value int64) []Count {
	out := make([]Count, len(keys))
	for i, k := range keys {
		out[i] = Count{Key: k, At: at, Value: value}
	}
	return out
}

// Record writes counts through the engine's Counters, in one write where
// they allow it (BatchCounters).
func (e *Engine) Record(ctx context.Context, cs []Count) error {
	if len(cs) == 0 {
		return nil
	}
	if b, ok := e.counters.(BatchCounters); ok && len(cs) > 1 && sameEvent(cs) {
		if err := b.AddAll(ctx, keysOfCounts(cs), cs[0].At, cs[0].Value); err != nil {
			return fmt.Errorf("risk: record counters: %w", err)
		}
		return nil
	}
	var errs []error
	for _, c := range cs {
		if err := e.counters.Add(ctx, c.Key, c.At, c.Value); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("risk: record counters: %w", err)
	}
	return nil
}

// TxCounters is implemented by Counters stored in Strait's database, which
// can write counts through the caller's transaction: client is bound to it
// (ent.Tx.Client, or store.Writes.Client).
type TxCounters interface {
	AddTx(ctx context.Context, client *ent.Client, cs []Count) error
}

// RecordTx writes counts through client, bound to the caller's transaction,
// when the Counters can (TxCounters), so that they commit or roll back with
// what they count; other Counters record them at once (Record).
func (e *Engine) RecordTx(ctx context.Context, client *ent.Client, cs []Count) error {
	if len(cs) == 0 {
		return nil
	}
	if t, ok := e.counters.(TxCounters); ok {
		if err := t.AddTx(ctx, client, cs); err != nil {
			return fmt.Errorf("risk: record counters: %w", err)
		}
		return nil
	}
	return e.Record(ctx, cs)
}

func sameEvent(cs []Count) bool {
	for _, c := range cs[1:] {
		if !c.At.Equal(cs[0].At) || c.Value != cs[0].Value {
			return false
		}
	}
	return true
}

func keysOfCounts(cs []Count) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key
	}
	return out
}

// Counter keys name the merchant where it matters: velocity by card or email is
// deliberately platform-wide (card testing spans merchants), volume is per
// dimension value and currency.
func attemptKey(d Dimension, v string) string { return "attempts|" + string(d) + "|" + v }

func volumeKey(d Dimension, v string, c money.Currency) string {
	return "volume|" + string(d) + "|" + v + "|" + c.Code()
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
