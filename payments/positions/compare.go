// Package positions compares each connector's own balance (QueryBalance:
// what the channel holds for the platform) with the channel receivable
// account the ledger keeps for it, per currency, and raises an alert when
// their drift goes beyond a threshold the operator set.
//
// Compare is the pure step: the connectors' answers, the ledger's
// receivables and the stored thresholds in; the positions and the alerts
// to raise out. Service reads, calls the connectors (each on its own
// deadline: one that fails or hangs shows its error, the others answer)
// and records.
package positions

import (
	"slices"
	"strings"
	"time"

	"github.com/straitpay/strait/payments/money"
)

// Key names one connector's position in one currency.
type Key struct {
	Connector string
	Currency  money.Currency
}

func (k Key) compare(o Key) int {
	if c := strings.Compare(k.Connector, o.Connector); c != 0 {
		return c
	}
	return strings.Compare(k.Currency.Code(), o.Currency.Code())
}

// Report is one connector's answer to QueryBalance, in Strait's minor
// units: its balances by currency, or why there are none (Err: the
// connector failed, hung, is down or does not report balances).
type Report struct {
	Connector string
	Balances  map[money.Currency]Balance
	Err       string
}

// Balance is what a channel reports holding in one currency.
type Balance struct {
	Available int64
	Pending   int64
}

// Stored is what the store keeps of a position: the operator's threshold
// (nil: no alert) and whether the last recorded check was alerting.
type Stored struct {
	Threshold *int64
	Alerting  bool
}

// Position is one connector's position in one currency.
//
// Ledger is the channel receivable account's balance, negative while the
// channel owes the platform (docs/money.md); the channel should then
// report holding −Ledger. Reported is what it reports (available plus
// pending), nil when it did not answer; Drift is Reported + Ledger, what
// the channel holds beyond what the ledger expects (negative: less).
// Alerting is |Drift| > Threshold.
type Position struct {
	Key
	Reported  *money.Amount
	Available *money.Amount
	Pending   *money.Amount
	Ledger    money.Amount
	Drift     *money.Amount
	Threshold *money.Amount
	Alerting  bool
	Error     string
	CheckedAt time.Time
}

// Plan is what a check decided: every position, in connector and currency
// order, and the positions whose drift has just gone beyond the threshold
// (an alert is raised once when a position crosses, not at every check;
// a position back within its threshold clears, and the next crossing
// raises again).
type Plan struct {
	Positions []Position
	Alerts    []Position
}

// Compare lines the reports up with the ledger's receivables and the
// stored thresholds. A connector that answered and left a currency out
// holds none of it (0); a connector that did not answer has its error on
// each of its currencies the ledger knows, with no Reported or Drift, and
// keeps its alerting state (no news is not a recovery). A receivable of
// a connector with no report (no longer installed) shows as such.
func Compare(reports []Report, receivables map[Key]int64, stored map[Key]Stored, now time.Time) Plan {
	byConn := map[string]Report{}
	keys := map[Key]bool{}
	for _, r := range reports {
		byConn[r.Connector] = r
		for c := range r.Balances {
			keys[Key{r.Connector, c}] = true
		}
	}
	for k := range receivables {
		keys[k] = true
	}
	for k, s := range stored {
		if s.Threshold != nil {
			keys[k] = true
		}
	}
	var p Plan
	for k := range keys {
		pos := Position{Key: k, Ledger: money.Amount{Minor: receivables[k], Currency: k.Currency}, CheckedAt: now}
		st := stored[k]
		if st.Threshold != nil {
			pos.Threshold = &money.Amount{Minor: *st.Threshold, Currency: k.Currency}
		}
		r, ok := byConn[k.Connector]
		switch {
		case !ok:
			pos.Error = "connector is not installed"
			pos.Alerting = st.Alerting
		case r.Err != "":
			pos.Error = r.Err
			pos.Alerting = st.Alerting
		default:
			b := r.Balances[k.Currency]
			pos.Available = &money.Amount{Minor: b.Available, Currency: k.Currency}
			pos.Pending = &money.Amount{Minor: b.Pending, Currency: k.Currency}
			pos.Reported = &money.Amount{Minor: b.Available + b.Pending, Currency: k.Currency}
			pos.Drift = &money.Amount{Minor: pos.Reported.Minor + pos.Ledger.Minor, Currency: k.Currency}
			pos.Alerting = st.Threshold != nil && abs(pos.Drift.Minor) > *st.Threshold
			if pos.Alerting && !st.Alerting {
				p.Alerts = append(p.Alerts, pos)
			}
		}
		p.Positions = append(p.Positions, pos)
	}
	slices.SortFunc(p.Positions, func(a, b Position) int { return a.compare(b.Key) })
	slices.SortFunc(p.Alerts, func(a, b Position) int { return a.compare(b.Key) })
	return p
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
