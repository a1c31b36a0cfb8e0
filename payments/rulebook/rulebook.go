// Package rulebook stores the operators' risk and routing rules, and the risk
// counters, in the database: the ent-backed implementations of
// risk.RuleSource, risk.Counters and routing.RuleSource. Every change to a
// rule is validated by the domain's Rule.Validate and audit-logged in the same
// transaction. Mem holds rules in memory instead, for tests and for wiring
// that needs no operator rules.
package rulebook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/riskcounter"
	"github.com/straitpay/strait/ent/riskrule"
	"github.com/straitpay/strait/ent/routingrule"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/readcache"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/viewer"
)

// Book reads and writes rules and counters through an ent client.
type Book struct {
	client *ent.Client
	// The pipeline reads both rule sets on every payment; they change when
	// an operator edits one.
	risk    *readcache.Value[[]risk.Rule]
	routing *readcache.Value[[]routing.Rule]
}

// RulesTTL is how long the rules read from the database serve payments. A
// change made through this Book applies to the next payment; one made
// through another replica applies here within RulesTTL.
const RulesTTL = time.Second

// New returns a Book over client.
func New(client *ent.Client) *Book {
	b := &Book{client: client}
	b.risk = readcache.New(RulesTTL, nil, b.loadRiskRules)
	b.routing = readcache.New(RulesTTL, nil, b.loadRoutingRules)
	return b
}

// RiskRules returns the Book as a risk.RuleSource.
func (b *Book) RiskRules() risk.RuleSource { return riskSource{b} }

// RoutingRules returns the Book as a routing.RuleSource.
func (b *Book) RoutingRules() routing.RuleSource { return routingSource{b} }

// Counters returns the Book as risk.Counters.
func (b *Book) Counters() risk.Counters { return counters{b} }

type riskSource struct{ b *Book }

// Rules implements risk.RuleSource: every stored rule, as the system, at
// most RulesTTL old.
func (s riskSource) Rules(ctx context.Context) ([]risk.Rule, error) {
	rules, err := s.b.risk.Get(ctx)
	return slices.Clone(rules), err
}

func (b *Book) loadRiskRules(ctx context.Context) ([]risk.Rule, error) {
	rows, err := b.client.RiskRule.Query().All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("risk rules: %w", err)
	}
	out := make([]risk.Rule, 0, len(rows))
	for _, row := range rows {
		r, err := RiskRule(row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// RiskRule converts a stored rule to the domain's.
func RiskRule(row *ent.RiskRule) (risk.Rule, error) {
	r := risk.Rule{ID: row.Key, Kind: risk.Kind(row.Kind), Tier: row.Tier, Action: risk.Action(row.Action),
		Enabled: row.Enabled, Score: row.Score, Description: row.Description}
	if err := recode(row.Params, &r.Params); err != nil {
		return risk.Rule{}, fmt.Errorf("risk rule %s: params: %w", row.Key, err)
	}
	return r, nil
}

// UpsertRiskRule validates r and stores it under its id, replacing the rule
// with that id, with an audit entry in the same transaction. Returns the
// EINVALID error of risk.Rule.Validate.
func (b *Book) UpsertRiskRule(ctx context.Context, r risk.Rule) (*ent.RiskRule, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var params map[string]any
	if err := recode(r.Params, &params); err != nil {
		return nil, err
	}
	var out *ent.RiskRule
	err := b.tx(ctx, func(tx *ent.Tx) error {
		prior, err := tx.RiskRule.Query().Where(riskrule.Key(r.ID)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
			out, err = tx.RiskRule.Create().SetKey(r.ID).SetKind(string(r.Kind)).SetTier(r.Tier).SetAction(string(r.Action)).
				SetEnabled(r.Enabled).SetScore(r.Score).SetDescription(r.Description).SetParams(params).Save(ctx)
		case err == nil:
			out, err = tx.RiskRule.UpdateOne(prior).SetKind(string(r.Kind)).SetTier(r.Tier).SetAction(string(r.Action)).
				SetEnabled(r.Enabled).SetScore(r.Score).SetDescription(r.Description).SetParams(params).Save(ctx)
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "risk_rule.upsert", TargetType: "risk_rule", TargetID: out.ID,
			Details: map[string]string{"key": r.ID, "rule": r.String(), "enabled": fmt.Sprint(r.Enabled)}})
	})
	if err != nil {
		return nil, fmt.Errorf("upsert risk rule %s: %w", r.ID, err)
	}
	b.risk.Invalidate()
	return out, nil
}

type routingSource struct{ b *Book }

// Rules implements routing.RuleSource: every stored rule, at most RulesTTL
// old.
func (s routingSource) Rules(ctx context.Context) ([]routing.Rule, error) {
	rules, err := s.b.routing.Get(ctx)
	return slices.Clone(rules), err
}

func (b *Book) loadRoutingRules(ctx context.Context) ([]routing.Rule, error) {
	rows, err := b.client.RoutingRule.Query().All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("routing rules: %w", err)
	}
	out := make([]routing.Rule, 0, len(rows))
	for _, row := range rows {
		r, err := RoutingRule(row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// RoutingRule converts a stored rule to the domain's.
func RoutingRule(row *ent.RoutingRule) (routing.Rule, error) {
	r := routing.Rule{ID: row.Key, Priority: row.Priority, Enabled: row.Enabled, Prefer: row.Prefer}
	if err := recode(row.Match, &r.Match); err != nil {
		return routing.Rule{}, fmt.Errorf("routing rule %s: match: %w", row.Key, err)
	}
	if err := recode(row.Split, &r.Split); err != nil {
		return routing.Rule{}, fmt.Errorf("routing rule %s: split: %w", row.Key, err)
	}
	return r, nil
}

// UpsertRoutingRule validates r and stores it under its id, with an audit
// entry in the same transaction. Returns the EINVALID error of
// routing.Rule.Validate.
func (b *Book) UpsertRoutingRule(ctx context.Context, r routing.Rule) (*ent.RoutingRule, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var match map[string]any
	var split []map[string]any
	if err := recode(r.Match, &match); err != nil {
		return nil, err
	}
	if err := recode(r.Split, &split); err != nil {
		return nil, err
	}
	var out *ent.RoutingRule
	err := b.tx(ctx, func(tx *ent.Tx) error {
		prior, err := tx.RoutingRule.Query().Where(routingrule.Key(r.ID)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
			out, err = tx.RoutingRule.Create().SetKey(r.ID).SetPriority(r.Priority).SetEnabled(r.Enabled).
				SetMatch(match).SetPrefer(r.Prefer).SetSplit(split).Save(ctx)
		case err == nil:
			out, err = tx.RoutingRule.UpdateOne(prior).SetPriority(r.Priority).SetEnabled(r.Enabled).
				SetMatch(match).SetPrefer(r.Prefer).SetSplit(split).Save(ctx)
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "routing_rule.upsert", TargetType: "routing_rule", TargetID: out.ID,
			Details: map[string]string{"key": r.ID, "priority": fmt.Sprint(r.Priority), "enabled": fmt.Sprint(r.Enabled)}})
	})
	if err != nil {
		return nil, fmt.Errorf("upsert routing rule %s: %w", r.ID, err)
	}
	b.routing.Invalidate()
	return out, nil
}

type counters struct{ b *Book }

// Add implements risk.Counters.
func (c counters) Add(ctx context.Context, key string, at time.Time, value int64) error {
	return c.b.client.RiskCounter.Create().SetKey(key).SetAt(at.UTC().Truncate(time.Microsecond)).SetValue(value).
		Exec(viewer.SystemContext(ctx))
}

// AddAll implements risk.BatchCounters with one multi-row INSERT. (The
// payment pipeline writes its counts inside its own transactions instead:
// AddTx.)
func (c counters) AddAll(ctx context.Context, keys []string, at time.Time, value int64) error {
	cs := make([]risk.Count, len(keys))
	for i, k := range keys {
		cs[i] = risk.Count{Key: k, At: at, Value: value}
	}
	return c.AddTx(ctx, c.b.client, cs)
}

// AddTx implements risk.TxCounters: the counts in one multi-row INSERT
// through client (bound to the caller's transaction, or the Book's own).
func (c counters) AddTx(ctx context.Context, client *ent.Client, cs []risk.Count) error {
	rows := make([]*ent.RiskCounterCreate, len(cs))
	for i, k := range cs {
		rows[i] = client.RiskCounter.Create().SetKey(k.Key).SetAt(k.At.UTC().Truncate(time.Microsecond)).SetValue(k.Value)
	}
	return client.RiskCounter.CreateBulk(rows...).Exec(viewer.SystemContext(ctx))
}

// Sum implements risk.Counters with one indexed range query on (key, at).
func (c counters) Sum(ctx context.Context, key string, since time.Time) (count, total int64, err error) {
	var rows []struct {
		N   int64  `json:"count"`
		Sum *int64 `json:"sum"`
	}
	err = c.b.client.RiskCounter.Query().
		Where(riskcounter.Key(key), riskcounter.AtGTE(since.UTC())).
		Aggregate(ent.Count(), func(s *sql.Selector) string { return sql.As(sql.Sum(s.C(riskcounter.FieldValue)), "sum") }).
		Scan(viewer.SystemContext(ctx), &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("risk counter %s: %w", key, err)
	}
	if len(rows) == 0 {
		return 0, 0, nil
	}
	if rows[0].Sum != nil {
		total = *rows[0].Sum
	}
	return rows[0].N, total, nil
}

// Forget deletes counter events older than before, a chunk of
// forgetChunk rows per statement so that no DELETE holds many row locks, and
// returns how many it deleted. Velocity windows reach back at most
// risk.MaxWindow and daily limits one day: Strait's janitor forgets what is
// older than risk.Retention.
func (b *Book) Forget(ctx context.Context, before time.Time) (int, error) {
	sys := viewer.SystemContext(ctx)
	total := 0
	for {
		ids, err := b.client.RiskCounter.Query().Where(riskcounter.AtLT(before.UTC())).Limit(forgetChunk).IDs(sys)
		if err != nil {
			return total, fmt.Errorf("forget risk counters: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := b.client.RiskCounter.Delete().Where(riskcounter.IDIn(ids...)).Exec(sys)
		total += n
		if err != nil {
			return total, fmt.Errorf("forget risk counters: %w", err)
		}
		if len(ids) < forgetChunk || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// forgetChunk bounds the counter rows one DELETE removes.
const forgetChunk = 1000

func (b *Book) tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := b.client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// recode converts between a domain value and its stored JSON form.
func recode(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, to)
}
