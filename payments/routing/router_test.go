package routing

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

var (
	usd = money.MustCurrency("USD")
	eur = money.MustCurrency("EUR")
	jpy = money.MustCurrency("JPY")
	idr = money.MustCurrency("IDR")
)

// cardConn is a card connector taking USD and EUR everywhere, with the given fee.
func cardConn(name string, fixed, bps int64) Connector {
	return Connector{
		Name: name, Kind: "cardnet", Methods: []Method{Card}, Currencies: []money.Currency{usd, eur},
		Fees: []Fee{{FixedMinor: fixed, BasisPoints: bps}}, Enabled: true,
	}
}

func cardRequest() Request {
	return Request{PaymentID: "pay_1", MerchantID: "mer_a", Method: Card, Scheme: "visa", Amount: money.Must(10000, "USD"), Country: "US"}
}

// ruleList is a RuleSource over the rules a test adds. (rulebook.Mem serves
// other packages' tests; it imports this one.)
type ruleList struct{ rules []Rule }

func (l *ruleList) Rules(context.Context) ([]Rule, error) { return l.rules, nil }

type world struct {
	catalog *MemCatalog
	health  *MemHealth
	rules   *ruleList
	router  *Router
}

func newWorld(t *testing.T, conns ...Connector) world {
	t.Helper()
	w := world{catalog: NewMemCatalog(conns...), health: NewMemHealth(), rules: &ruleList{}}
	w.router = NewRouter(w.catalog, w.health, w.rules)
	return w
}

func (w world) route(t *testing.T, req Request) Decision {
	t.Helper()
	d, err := w.router.Route(context.Background(), req)
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	return d
}

func (w world) addRule(t *testing.T, r Rule) {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatalf("rule %s: %v", r.ID, err)
	}
	w.rules.rules = append(w.rules.rules, r)
}

func order(d Decision) string {
	var names []string
	for _, c := range d.Candidates {
		if c.Eligible {
			names = append(names, c.Connector)
		}
	}
	return strings.Join(names, ",")
}

func TestEligibilityDropsWithReasons(t *testing.T) {
	base := cardConn("x", 0, 0)
	cases := []struct {
		name   string
		edit   func(*Connector, *Stats)
		reason string // "" means eligible
	}{
		{"eligible", func(*Connector, *Stats) {}, ""},
		{"disabled", func(c *Connector, _ *Stats) { c.Enabled = false }, "disabled"},
		{"method", func(c *Connector, _ *Stats) { c.Methods = []Method{Wallet} }, "does not take card"},
		{"scheme", func(c *Connector, _ *Stats) { c.Schemes = []string{"mastercard"} }, "does not accept visa cards"},
		{"scheme case-insensitive", func(c *Connector, _ *Stats) { c.Schemes = []string{"VISA"} }, ""},
		{"currency", func(c *Connector, _ *Stats) { c.Currencies = []money.Currency{eur} }, "does not take USD"},
		{"country", func(c *Connector, _ *Stats) { c.Countries = []string{"DE", "FR"} }, `does not serve buyers in "US"`},
		{"below minimum", func(c *Connector, _ *Stats) { c.Limits = []Limit{{Currency: usd, Min: 20000, Max: 0}} }, "below its minimum 200.00 USD"},
		{"above maximum", func(c *Connector, _ *Stats) { c.Limits = []Limit{{Currency: usd, Min: 0, Max: 9999}} }, "above its maximum 99.99 USD"},
		{"limit in another currency", func(c *Connector, _ *Stats) { c.Limits = []Limit{{Currency: eur, Min: 0, Max: 1}} }, ""},
		{"circuit open", func(_ *Connector, s *Stats) { s.Circuit = Open }, "circuit open"},
		{"circuit half-open", func(_ *Connector, s *Stats) { s.Circuit = HalfOpen }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, stats := base, Stats{}
			c.edit(&conn, &stats)
			w := newWorld(t, conn, cardConn("fallback", 1000, 0))
			w.health.Set("x", stats)
			d := w.route(t, cardRequest())
			var got Candidate
			for _, cand := range d.Candidates {
				if cand.Connector == "x" {
					got = cand
				}
			}
			if c.reason == "" {
				if !got.Eligible || d.Chosen != "x" {
					t.Fatalf("x not chosen: %+v", d)
				}
				return
			}
			if got.Eligible || !strings.Contains(got.Reason, c.reason) || d.Chosen != "fallback" {
				t.Fatalf("candidate %+v, want dropped with %q", got, c.reason)
			}
		})
	}
}

// TestAuthorizeOnlyNeedsPreauth: a payment that is only authorized (manual
// capture, or held for review) goes to a connector that can authorize
// without capturing, even a dearer one; none is a refusal.
func TestAuthorizeOnlyNeedsPreauth(t *testing.T) {
	saleOnly, preauth := cardConn("sale_only", 0, 100), cardConn("preauth", 50, 300)
	preauth.Preauth = true
	w := newWorld(t, saleOnly, preauth)
	if d := w.route(t, cardRequest()); d.Chosen != "sale_only" {
		t.Fatalf("a sale: %+v", d)
	}
	req := cardRequest()
	req.AuthorizeOnly = true
	d := w.route(t, req)
	if d.Chosen != "preauth" || order(d) != "preauth" {
		t.Fatalf("authorize only: %+v", d)
	}
	for _, c := range d.Candidates {
		if c.Connector == "sale_only" && (c.Eligible || c.Reason != "cannot authorize without capturing") {
			t.Fatalf("sale_only: %+v", c)
		}
	}
	_, err := newWorld(t, saleOnly).router.Route(context.Background(), req)
	if payments.ErrorCode(err) != payments.EINVALID {
		t.Fatalf("no connector can preauthorize: %v", err)
	}
}

func TestRankingLeastCostThenAuthRateThenHealth(t *testing.T) {
	w := newWorld(t,
		cardConn("pricey", 30, 290),     // 0.30 + 2.90% of 100.00 = 320
		cardConn("cheap", 0, 150),       // 150
		cardConn("cheap-good", 50, 100), // 150, better auth rate
		cardConn("cheap-half", 0, 150),  // 150, same auth rate as cheap, half-open
		cardConn("also-cheap", 0, 150),  // 150, same as cheap: name decides
	)
	w.health.Set("cheap", Stats{Circuit: Closed, AuthRateBP: 9000})
	w.health.Set("also-cheap", Stats{Circuit: Closed, AuthRateBP: 9000})
	w.health.Set("cheap-good", Stats{Circuit: Closed, AuthRateBP: 9500})
	w.health.Set("cheap-half", Stats{Circuit: HalfOpen, AuthRateBP: 9000})
	d := w.route(t, cardRequest())
	if got, want := order(d), "cheap-good,also-cheap,cheap,cheap-half,pricey"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	if d.Chosen != "cheap-good" || d.Candidates[0].Cost != 150 || d.Candidates[4].Cost != 320 {
		t.Fatalf("decision %+v", d)
	}
	if !strings.Contains(d.Candidates[0].Reason, "rank 1 by cost 1.50 USD, auth rate 95.00%") {
		t.Fatalf("reason %q", d.Candidates[0].Reason)
	}
	if len(d.Attempted) != 1 || d.Attempted[0] != "cheap-good" {
		t.Fatalf("attempted %v", d.Attempted)
	}
}

func TestCost(t *testing.T) {
	cases := []struct {
		name   string
		fees   []Fee
		amount money.Amount
		want   int64
	}{
		{"fixed plus bps", []Fee{{FixedMinor: 30, BasisPoints: 290}}, money.Must(10000, "USD"), 320},
		{"bps rounds up", []Fee{{BasisPoints: 290}}, money.Must(1, "USD"), 1},
		{"exact bps", []Fee{{BasisPoints: 100}}, money.Must(10000, "USD"), 100},
		{"currency entry beats default", []Fee{{FixedMinor: 1}, {Currency: jpy, FixedMinor: 40}, {FixedMinor: 2}}, money.Must(1000, "JPY"), 40},
		{"default for other currencies", []Fee{{Currency: jpy, FixedMinor: 40}, {FixedMinor: 25}}, money.Must(1000, "USD"), 25},
		{"no fee schedule", nil, money.Must(1000, "USD"), 0},
		{"only another currency", []Fee{{Currency: jpy, FixedMinor: 40}}, money.Must(1000, "USD"), 0},
		{"IDR above 2^31", []Fee{{BasisPoints: 200}}, money.Must(5_000_000_000, "IDR"), 100_000_000},
		{"max amount does not overflow", []Fee{{BasisPoints: 10000, FixedMinor: 1}}, money.Amount{Minor: math.MaxInt64, Currency: idr}, math.MaxInt64},
	}
	for _, c := range cases {
		conn := Connector{Fees: c.fees}
		if got := conn.cost(c.amount); got != c.want {
			t.Errorf("%s: cost = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestPreferRuleReordersEligibleConnectors(t *testing.T) {
	w := newWorld(t, cardConn("a", 0, 100), cardConn("b", 0, 200), cardConn("c", 0, 300), cardConn("down", 0, 0))
	w.health.Set("down", Stats{Circuit: Open})
	w.addRule(t, Rule{ID: "eur-only", Priority: 1, Enabled: true, Match: Match{Currencies: []money.Currency{eur}}, Prefer: []string{"b"}})
	w.addRule(t, Rule{ID: "prefer-c", Priority: 5, Enabled: true, Match: Match{Methods: []Method{Card}, Schemes: []string{"visa"}}, Prefer: []string{"down", "c", "b"}})
	w.addRule(t, Rule{ID: "off", Priority: 0, Enabled: false, Prefer: []string{"a"}})

	d := w.route(t, cardRequest())
	if got := order(d); got != "c,b,a" || d.Chosen != "c" || d.Rule != "prefer-c" {
		t.Fatalf("order %s chosen %s rule %s, want c,b,a by prefer-c", got, d.Chosen, d.Rule)
	}
	if !strings.HasPrefix(d.Candidates[0].Reason, "preferred by rule prefer-c") {
		t.Fatalf("reason %q", d.Candidates[0].Reason)
	}

	req := cardRequest()
	req.Amount = money.Must(10000, "EUR")
	if d := w.route(t, req); d.Chosen != "b" || d.Rule != "eur-only" {
		t.Fatalf("EUR: chosen %s by %q, want b by eur-only", d.Chosen, d.Rule)
	}
	req = cardRequest()
	req.Scheme = "mastercard"
	if d := w.route(t, req); d.Chosen != "a" || d.Rule != "" {
		t.Fatalf("mastercard: chosen %s by %q, want a by cost", d.Chosen, d.Rule)
	}
}

func TestVolumeSplitIsDeterministicAndProportional(t *testing.T) {
	w := newWorld(t, cardConn("a", 0, 100), cardConn("b", 0, 200), cardConn("c", 0, 300))
	w.addRule(t, Rule{ID: "split", Enabled: true, Split: []Share{{"b", 70}, {"c", 30}}})

	counts := map[string]int{}
	const n = 2000
	for i := range n {
		req := cardRequest()
		req.PaymentID = fmt.Sprintf("pay_%06d", i)
		d := w.route(t, req)
		if again := w.route(t, req); again.Chosen != d.Chosen {
			t.Fatalf("%s routed to %s then %s", req.PaymentID, d.Chosen, again.Chosen)
		}
		if d.Rule != "split" || order(d) != d.Chosen+","+strings.Join(without([]string{"a", "b", "c"}, d.Chosen), ",") {
			t.Fatalf("%s: order %s rule %s", req.PaymentID, order(d), d.Rule)
		}
		counts[d.Chosen]++
	}
	// 70/30 of 2000 is 1400/600; allow ±5 points for the hash.
	if counts["a"] != 0 || counts["b"] < 1300 || counts["b"] > 1500 || counts["b"]+counts["c"] != n {
		t.Fatalf("split counts %v, want about 1400/600", counts)
	}

	// With c's circuit open, b takes everything; with both down, cost decides.
	w.health.Set("c", Stats{Circuit: Open})
	for i := range 50 {
		req := cardRequest()
		req.PaymentID = fmt.Sprintf("pay_%06d", i)
		if d := w.route(t, req); d.Chosen != "b" {
			t.Fatalf("c down: chose %s", d.Chosen)
		}
	}
	w.health.Set("b", Stats{Circuit: Open})
	if d := w.route(t, cardRequest()); d.Chosen != "a" || d.Rule != "" {
		t.Fatalf("b and c down: chose %s by %q", d.Chosen, d.Rule)
	}
}

// without returns names minus skip, in order.
func without(names []string, skip string) []string {
	var out []string
	for _, n := range names {
		if n != skip {
			out = append(out, n)
		}
	}
	return out
}

func TestNoEligibleConnector(t *testing.T) {
	w := newWorld(t, cardConn("a", 0, 0))
	req := cardRequest()
	req.Amount = money.Must(1000, "JPY")
	d, err := w.router.Route(context.Background(), req)
	if payments.ErrorCode(err) != payments.EINVALID || d.Chosen != "" || len(d.Candidates) != 1 || d.Candidates[0].Reason != "does not take JPY" {
		t.Fatalf("JPY: %+v, %v", d, err)
	}
	w.health.Set("a", Stats{Circuit: Open})
	if _, err := w.router.Route(context.Background(), cardRequest()); payments.ErrorCode(err) != payments.EUNAVAILABLE {
		t.Fatalf("circuit open: %v, want EUNAVAILABLE", err)
	}
}

func TestRouteRejectsMalformedRequests(t *testing.T) {
	w := newWorld(t, cardConn("a", 0, 0))
	cases := map[string]func(*Request){
		"method":   func(r *Request) { r.Method = "cash" },
		"currency": func(r *Request) { r.Amount = money.Amount{Minor: 1} },
		"amount":   func(r *Request) { r.Amount.Minor = 0 },
	}
	for field, edit := range cases {
		req := cardRequest()
		edit(&req)
		if _, err := w.router.Route(context.Background(), req); payments.ErrorField(err) != field {
			t.Errorf("%s: err %v", field, err)
		}
	}
}

func TestAvailableMethods(t *testing.T) {
	wallet := Connector{Name: "w", Methods: []Method{Wallet}, Currencies: []money.Currency{idr}, Countries: []string{"ID"}, Enabled: true}
	bank := Connector{Name: "bank", Methods: []Method{BankTransfer, DirectDebit}, Currencies: []money.Currency{idr, usd}, Limits: []Limit{{Currency: idr, Min: 10000, Max: 0}}, Enabled: true}
	w := newWorld(t, cardConn("card", 0, 0), wallet, bank)
	cases := []struct {
		amount  money.Amount
		country string
		want    string
	}{
		{money.Must(5_000_000_000, "IDR"), "ID", "wallet,bank_transfer,direct_debit"},
		{money.Must(5000, "IDR"), "ID", "wallet"},
		{money.Must(5000, "USD"), "ID", "card,bank_transfer,direct_debit"},
		{money.Must(5000, "IDR"), "SG", ""},
		// An unknown country is any country a connector serves.
		{money.Must(5000, "IDR"), "", "wallet"},
		{money.Must(5000, "USD"), "", "card,bank_transfer,direct_debit"},
	}
	for _, c := range cases {
		ms, err := w.router.AvailableMethods(context.Background(), c.amount, c.country)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, string(m))
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s from %s: %v, want %s", c.amount, c.country, got, c.want)
		}
	}
}

func TestValidateRule(t *testing.T) {
	cases := []struct {
		name  string
		rule  Rule
		field string
	}{
		{"prefer", Rule{ID: "r", Prefer: []string{"a"}}, ""},
		{"split", Rule{ID: "r", Split: []Share{{"a", 50}, {"b", 50}}}, ""},
		{"no id", Rule{Prefer: []string{"a"}}, "id"},
		{"neither", Rule{ID: "r"}, "prefer"},
		{"both", Rule{ID: "r", Prefer: []string{"a"}, Split: []Share{{"a", 100}}}, "prefer"},
		{"empty name", Rule{ID: "r", Prefer: []string{""}}, "prefer"},
		{"duplicate share", Rule{ID: "r", Split: []Share{{"a", 50}, {"a", 50}}}, "split"},
		{"zero share", Rule{ID: "r", Split: []Share{{"a", 100}, {"b", 0}}}, "split.percent"},
		{"sum 90", Rule{ID: "r", Split: []Share{{"a", 60}, {"b", 30}}}, "split.percent"},
	}
	for _, c := range cases {
		err := c.rule.Validate()
		if (c.field == "" && err != nil) || (c.field != "" && payments.ErrorField(err) != c.field) {
			t.Errorf("%s: Validate = %v, want field %q", c.name, err, c.field)
		}
	}
}
