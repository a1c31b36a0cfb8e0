package risk

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

var usd = money.MustCurrency("USD")

type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// ruleList is a RuleSource over fixed rules. (rulebook.Mem serves other
// packages' tests; it imports this one.)
type ruleList []Rule

func (l ruleList) Rules(context.Context) ([]Rule, error) { return l, nil }

func newEngine(t *testing.T, rules ...Rule) (*Engine, *clock) {
	t.Helper()
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			t.Fatalf("rule %s: %v", r.ID, err)
		}
	}
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	return NewEngine(ruleList(rules), NewMemCounters(c.Now), c.Now), c
}

func evaluate(t *testing.T, e *Engine, p Payment) Decision {
	t.Helper()
	d, err := e.Evaluate(context.Background(), p)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return d
}

func basePayment() Payment {
	return Payment{
		ID: "pay_1", MerchantID: "mer_a", Tier: "standard", Amount: money.Must(5000, "USD"),
		CardFingerprint: "fp_x", BIN: "424242", CardCountry: "US", CustomerID: "cus_1",
		Email: "ada@example.com", IP: "203.0.113.7", IPCountry: "US", BillingCountry: "US",
	}
}

func rule(id string, kind Kind, action Action, p Params) Rule {
	return Rule{ID: id, Kind: kind, Action: action, Enabled: true, Score: 10, Params: p}
}

func TestEachRuleKindFires(t *testing.T) {
	cases := []struct {
		name  string
		rule  Rule
		edit  func(*Payment)
		fires bool
		text  string
	}{
		{"amount above limit", rule("r", AmountLimit, Deny, Params{Currency: usd, MaxMinor: 4999}), nil, true, "50.00 USD is above the per-payment limit of 49.99 USD"},
		{"amount at limit", rule("r", AmountLimit, Deny, Params{Currency: usd, MaxMinor: 5000}), nil, false, ""},
		{"amount limit in another currency", rule("r", AmountLimit, Deny, Params{Currency: money.MustCurrency("EUR"), MaxMinor: 1}), nil, false, ""},
		{"AML at threshold", rule("r", AMLThreshold, Review, Params{Currency: usd, MaxMinor: 5000}), nil, true, "reaches the AML threshold of 50.00 USD"},
		{"AML below threshold", rule("r", AMLThreshold, Review, Params{Currency: usd, MaxMinor: 5001}), nil, false, ""},
		{"blocked card country", rule("r", CountryBlocklist, Deny, Params{Countries: []string{"KP", "US"}}), nil, true, "card issuing country US is blocked"},
		{"blocked IP country", rule("r", CountryBlocklist, Deny, Params{Countries: []string{"RU"}}), func(p *Payment) { p.IPCountry = "ru" }, true, "IP country RU is blocked"},
		{"blocked billing country", rule("r", CountryBlocklist, Deny, Params{Countries: []string{"IR"}}), func(p *Payment) { p.BillingCountry = "IR" }, true, "billing country IR"},
		{"no blocked country", rule("r", CountryBlocklist, Deny, Params{Countries: []string{"KP"}}), nil, false, ""},
		{"blocked BIN prefix", rule("r", BINBlocklist, Deny, Params{BINs: []string{"4242"}}), nil, true, "BIN 424242 is blocked (prefix 4242)"},
		{"other BIN", rule("r", BINBlocklist, Deny, Params{BINs: []string{"5555"}}), nil, false, ""},
		{"unknown BIN", rule("r", BINBlocklist, Deny, Params{BINs: []string{"4"}}), func(p *Payment) { p.BIN = "" }, false, ""},
		{"geo mismatch", rule("r", GeoMismatch, Challenge, Params{}), func(p *Payment) { p.IPCountry = "FR" }, true, "billing country US differs from IP country FR"},
		{"geo match ignoring case", rule("r", GeoMismatch, Challenge, Params{}), func(p *Payment) { p.IPCountry = "us" }, false, ""},
		{"geo unknown IP country", rule("r", GeoMismatch, Challenge, Params{}), func(p *Payment) { p.IPCountry = "" }, false, ""},
		{"velocity first payment", rule("r", Velocity, Deny, Params{Dimension: ByCard, Window: time.Hour, MaxCount: 1}), nil, false, ""},
		{"daily limit exceeded by one payment", rule("r", DailyLimit, Review, Params{Currency: usd, MaxMinor: 4999}), nil, true, "today's volume per merchant would reach 50.00 USD"},
		{"daily limit by unknown customer", rule("r", DailyLimit, Review, Params{Currency: usd, MaxMinor: 1, Dimension: ByCustomer}), func(p *Payment) { p.CustomerID = "" }, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := newEngine(t, c.rule)
			p := basePayment()
			if c.edit != nil {
				c.edit(&p)
			}
			d := evaluate(t, e, p)
			if fired := len(d.Reasons) == 1; fired != c.fires {
				t.Fatalf("fired = %v, want %v (%+v)", fired, c.fires, d)
			}
			if !c.fires {
				if d.Action != Allow || d.Score != 0 {
					t.Fatalf("decision %+v, want a clean allow", d)
				}
				return
			}
			r := d.Reasons[0]
			if d.Action != c.rule.Action || r.RuleID != "r" || r.Kind != c.rule.Kind || !strings.Contains(r.Text, c.text) {
				t.Fatalf("decision %+v, want %s with %q", d, c.rule.Action, c.text)
			}
		})
	}
}

// TestPrecedence is the precedence table: the strictest fired action wins.
func TestPrecedence(t *testing.T) {
	cases := []struct {
		fired []Action
		want  Action
	}{
		{nil, Allow},
		{[]Action{Allow}, Allow},
		{[]Action{Challenge}, Challenge},
		{[]Action{Challenge, Allow}, Challenge},
		{[]Action{Review, Challenge}, Review},
		{[]Action{Challenge, Review, Allow}, Review},
		{[]Action{Deny, Review, Challenge}, Deny},
		{[]Action{Allow, Challenge, Review, Deny}, Deny},
		{[]Action{Deny, Allow}, Deny},
	}
	for _, c := range cases {
		var rules []Rule
		for i, a := range c.fired {
			// Every rule fires: a BIN blocklist on the payment's own BIN.
			r := rule(string(rune('a'+i)), BINBlocklist, a, Params{BINs: []string{"4"}})
			r.Score = 40
			rules = append(rules, r)
		}
		e, _ := newEngine(t, rules...)
		d := evaluate(t, e, basePayment())
		if d.Action != c.want || len(d.Reasons) != len(c.fired) {
			t.Errorf("fired %v: decision %s with %d reasons, want %s", c.fired, d.Action, len(d.Reasons), c.want)
		}
		if want := min(100, 40*len(c.fired)); d.Score != want {
			t.Errorf("fired %v: score %d, want %d (capped at 100)", c.fired, d.Score, want)
		}
	}
}

func TestTierAndDisabledRulesAreSkipped(t *testing.T) {
	blockAll := Params{BINs: []string{"4"}}
	global := rule("global", BINBlocklist, Challenge, blockAll)
	high := rule("high", BINBlocklist, Deny, blockAll)
	high.Tier = "high"
	off := rule("off", BINBlocklist, Deny, blockAll)
	off.Enabled = false
	e, _ := newEngine(t, high, off, global)

	p := basePayment()
	if d := evaluate(t, e, p); d.Action != Challenge || len(d.Reasons) != 1 || d.Reasons[0].RuleID != "global" {
		t.Fatalf("standard tier: %+v", d)
	}
	p.Tier = "high"
	d := evaluate(t, e, p)
	if d.Action != Deny || len(d.Reasons) != 2 || d.Reasons[0].RuleID != "global" || d.Reasons[1].RuleID != "high" {
		t.Fatalf("high tier: %+v, want global then high", d)
	}
}

func TestVelocityWindowSlides(t *testing.T) {
	e, c := newEngine(t, rule("v", Velocity, Deny, Params{Dimension: ByCard, Window: time.Hour, MaxCount: 3}))
	p := basePayment()
	steps := []struct {
		after time.Duration // clock advance before this attempt
		want  Action
	}{
		{0, Allow},                // 1st attempt in the window
		{10 * time.Minute, Allow}, // 2nd
		{10 * time.Minute, Allow}, // 3rd
		{10 * time.Minute, Deny},  // 4th within the hour: over the limit (and it still counts)
		{30 * time.Minute, Deny},  // t=60m: the first attempt is exactly one window old, still inside
		{time.Second, Deny},       // t=60m1s: first one out; 2nd..5th remain = 4 before this one
		{20 * time.Minute, Deny},  // t=80m: 3rd..6th remain
		{time.Hour, Allow},        // t=140m: only the 7th (t=80m) is not older than an hour
	}
	for i, s := range steps {
		c.Advance(s.after)
		if d := evaluate(t, e, p); d.Action != s.want {
			t.Fatalf("attempt %d at %s: %s (%v), want %s", i+1, c.t.Format("15:04:05"), d.Action, d.Reasons, s.want)
		}
	}
	// Another card is counted on its own.
	p.CardFingerprint = "fp_other"
	if d := evaluate(t, e, p); d.Action != Allow {
		t.Fatalf("other card: %s", d.Action)
	}
}

func TestVelocityByEachDimension(t *testing.T) {
	for _, dim := range []Dimension{ByCard, ByCustomer, ByIP, ByEmail} {
		t.Run(string(dim), func(t *testing.T) {
			e, _ := newEngine(t, rule("v", Velocity, Review, Params{Dimension: dim, Window: time.Hour, MaxCount: 1}))
			p := basePayment()
			evaluate(t, e, p)
			// Change every other dimension: only dim links the two payments.
			q := Payment{MerchantID: "mer_b", Amount: p.Amount, CardFingerprint: "fp_y", CustomerID: "cus_2", IP: "198.51.100.1", Email: "bob@example.com"}
			switch dim {
			case ByCard:
				q.CardFingerprint = p.CardFingerprint
			case ByCustomer:
				q.CustomerID = p.CustomerID
			case ByIP:
				q.IP = p.IP
			case ByEmail:
				q.Email = " ADA@example.com"
			}
			if d := evaluate(t, e, q); d.Action != Review {
				t.Fatalf("second payment sharing %s: %s", dim, d.Action)
			}
		})
	}
}

func TestDailyLimitCountsAuthorizedVolumeAndResetsAtUTCMidnight(t *testing.T) {
	e, c := newEngine(t, rule("d", DailyLimit, Deny, Params{Currency: usd, MaxMinor: 12000}))
	ctx := context.Background()
	p := basePayment() // 50.00 USD
	for i, want := range []Action{Allow, Allow, Deny} {
		d := evaluate(t, e, p)
		if d.Action != want {
			t.Fatalf("payment %d: %s, want %s", i+1, d.Action, want)
		}
		if d.Action == Allow {
			if err := e.RecordVolume(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Another merchant has its own total; another currency is not limited.
	q := p
	q.MerchantID = "mer_b"
	if d := evaluate(t, e, q); d.Action != Allow {
		t.Fatalf("other merchant: %s", d.Action)
	}
	q = p
	q.Amount = money.Must(5000, "EUR")
	if d := evaluate(t, e, q); d.Action != Allow {
		t.Fatalf("other currency: %s", d.Action)
	}
	c.Advance(12 * time.Hour) // 2026-11-24 00:00 UTC
	if d := evaluate(t, e, p); d.Action != Allow {
		t.Fatalf("next day: %s", d.Action)
	}
	if err := e.RecordVolume(ctx, Payment{MerchantID: "mer_a"}); payments.ErrorCode(err) != payments.EINVALID {
		t.Fatalf("RecordVolume of nothing = %v", err)
	}
}

func TestValidateRule(t *testing.T) {
	cases := []struct {
		name  string
		rule  Rule
		field string
	}{
		{"ok amount", rule("r", AmountLimit, Deny, Params{Currency: usd, MaxMinor: 1}), ""},
		{"ok velocity", rule("r", Velocity, Deny, Params{Dimension: ByIP, Window: time.Minute, MaxCount: 5}), ""},
		{"no id", rule("", GeoMismatch, Deny, Params{}), "id"},
		{"unknown kind", rule("r", "magic", Deny, Params{}), "kind"},
		{"unknown action", rule("r", GeoMismatch, "block", Params{}), "action"},
		{"score above 100", Rule{ID: "r", Kind: GeoMismatch, Action: Deny, Score: 101}, "score"},
		{"amount without currency", rule("r", AmountLimit, Deny, Params{MaxMinor: 1}), "params.currency"},
		{"amount zero", rule("r", AMLThreshold, Review, Params{Currency: usd}), "params.max_minor"},
		{"daily bad dimension", rule("r", DailyLimit, Deny, Params{Currency: usd, MaxMinor: 1, Dimension: "planet"}), "params.dimension"},
		{"velocity by merchant", rule("r", Velocity, Deny, Params{Dimension: ByMerchant, Window: time.Minute, MaxCount: 1}), "params.dimension"},
		{"velocity window too long", rule("r", Velocity, Deny, Params{Dimension: ByCard, Window: 8 * 24 * time.Hour, MaxCount: 1}), "params.window"},
		{"velocity zero count", rule("r", Velocity, Deny, Params{Dimension: ByCard, Window: time.Minute}), "params.max_count"},
		{"country lower case", rule("r", CountryBlocklist, Deny, Params{Countries: []string{"us"}}), "params.countries"},
		{"empty country list", rule("r", CountryBlocklist, Deny, Params{}), "params.countries"},
		{"BIN too long", rule("r", BINBlocklist, Deny, Params{BINs: []string{"4242424"}}), "params.bins"},
		{"BIN not digits", rule("r", BINBlocklist, Deny, Params{BINs: []string{"42x"}}), "params.bins"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.rule.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != c.field {
				t.Fatalf("Validate = %v, want EINVALID on %s", err, c.field)
			}
		})
	}
}

type failingCounters struct{}

func (failingCounters) Add(context.Context, string, time.Time, int64) error {
	return errors.New("down")
}
func (failingCounters) Sum(context.Context, string, time.Time) (int64, int64, error) {
	return 0, 0, errors.New("down")
}

func TestEvaluateFailsWhenCountersFail(t *testing.T) {
	e := NewEngine(ruleList{rule("v", Velocity, Deny, Params{Dimension: ByCard, Window: time.Minute, MaxCount: 1})}, failingCounters{}, nil)
	if _, err := e.Evaluate(context.Background(), basePayment()); err == nil {
		t.Fatal("Evaluate guessed a decision without counters")
	}
}
