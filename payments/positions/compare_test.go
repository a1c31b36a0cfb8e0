package positions

import (
	"testing"
	"time"

	"github.com/straitpay/strait/payments/money"
)

var (
	usd = money.MustCurrency("USD")
	eur = money.MustCurrency("EUR")
	now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

func ptr(v int64) *int64 { return &v }

// TestCompareLinesUpReportsWithTheLedger: drift is reported + receivable;
// an alert fires only when a position crosses its threshold; a connector
// that failed shows its error and keeps its state; a currency the channel
// left out holds zero; a receivable of an uninstalled connector shows.
func TestCompareLinesUpReportsWithTheLedger(t *testing.T) {
	reports := []Report{
		{Connector: "bank", Balances: map[money.Currency]Balance{usd: {Available: 100_000, Pending: 5_000}}},
		{Connector: "cardnet", Err: "no answer within 5s"},
		{Connector: "wallet", Balances: map[money.Currency]Balance{}},
	}
	receivables := map[Key]int64{
		{"bank", usd}: -104_000, {"bank", eur}: -700, {"cardnet", usd}: -9_000, {"wallet", usd}: -50, {"gone", usd}: -1,
	}
	stored := map[Key]Stored{
		{"bank", usd}:    {Threshold: ptr(999)},
		{"bank", eur}:    {Threshold: ptr(700), Alerting: true},
		{"cardnet", usd}: {Threshold: ptr(1), Alerting: true},
		{"wallet", usd}:  {Threshold: ptr(10), Alerting: true},
	}
	p := Compare(reports, receivables, stored, now)
	got := map[Key]Position{}
	for _, pos := range p.Positions {
		got[pos.Key] = pos
	}
	if len(p.Positions) != 5 || p.Positions[0].Key != (Key{"bank", eur}) || p.Positions[4].Key != (Key{"wallet", usd}) {
		t.Fatalf("positions = %+v", p.Positions)
	}
	b := got[Key{"bank", usd}]
	if b.Reported.Minor != 105_000 || b.Drift.Minor != 1_000 || !b.Alerting || b.Error != "" {
		t.Fatalf("bank USD = %+v (drift %v)", b, b.Drift)
	}
	e := got[Key{"bank", eur}]
	if e.Reported.Minor != 0 || e.Drift.Minor != -700 || e.Alerting {
		t.Fatalf("bank EUR (left out: zero; |−700| is not beyond 700) = %+v", e)
	}
	c := got[Key{"cardnet", usd}]
	if c.Error != "no answer within 5s" || c.Reported != nil || c.Drift != nil || !c.Alerting || c.Ledger.Minor != -9_000 {
		t.Fatalf("cardnet = %+v", c)
	}
	if g := got[Key{"gone", usd}]; g.Error != "connector is not installed" || g.Ledger.Minor != -1 {
		t.Fatalf("gone = %+v", g)
	}
	if w := got[Key{"wallet", usd}]; w.Drift.Minor != -50 || !w.Alerting {
		t.Fatalf("wallet = %+v", w)
	}
	// Only bank USD crossed now; wallet was alerting already.
	if len(p.Alerts) != 1 || p.Alerts[0].Key != (Key{"bank", usd}) {
		t.Fatalf("alerts = %+v", p.Alerts)
	}
	// No threshold, no alert, however far.
	p = Compare([]Report{{Connector: "bank", Balances: map[money.Currency]Balance{usd: {Available: 1 << 40}}}}, nil, nil, now)
	if len(p.Alerts) != 0 || p.Positions[0].Alerting || p.Positions[0].Threshold != nil {
		t.Fatalf("no threshold: %+v", p)
	}
}
