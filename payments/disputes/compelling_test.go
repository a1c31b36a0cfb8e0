package disputes

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

func TestDecideCompelling(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ship := HashShippingAddress(map[string]string{"line1": "1 Main St", "city": "Singapore", "country": "SG"})
	dev := HashDeviceID("device-1")
	disputed := &ent.Payment{ID: "pay_disputed", MerchantID: "mer_a", CardFingerprint: "fp1", PaymentMethodType: "card",
		Status: paymentstatus.Succeeded, CreatedAt: now, BuyerIP: "203.0.113.7", DeviceIDHash: dev,
		ShippingAddressHash: ship, CustomerID: "cus_1", BuyerEmail: "ann@example.com"}
	prior := func(id string, age time.Duration, change func(p *ent.Payment)) *ent.Payment {
		p := *disputed
		p.ID, p.CreatedAt = id, now.Add(-age)
		if change != nil {
			change(&p)
		}
		return &p
	}
	onlyIP := func(p *ent.Payment) {
		p.DeviceIDHash, p.ShippingAddressHash, p.CustomerID, p.BuyerEmail = "", "", "", ""
	}
	ipAndEmail := func(p *ent.Payment) { p.DeviceIDHash, p.ShippingAddressHash, p.CustomerID = "", "", "cus_other" }
	priors := []*ent.Payment{
		prior("pay_all4_old", 300*day, nil),        // 4 elements
		prior("pay_all4_new", 150*day, nil),        // 4 elements, more recent: first
		prior("pay_two", 130*day, ipAndEmail),      // IP + customer account (by email)
		prior("pay_one", 200*day, onlyIP),          // one element: never
		prior("pay_young", 119*day, nil),           // too recent
		prior("pay_old", 366*day, nil),             // too old
		prior("pay_disputed_before", 140*day, nil), // disputed itself
		prior("pay_failed", 140*day, func(p *ent.Payment) { p.Status = paymentstatus.Failed }),
		prior("pay_other_card", 140*day, func(p *ent.Payment) { p.CardFingerprint = "fp2" }),
		prior("pay_other_merchant", 140*day, func(p *ent.Payment) { p.MerchantID = "mer_b" }),
	}
	fraud := &ent.Dispute{ID: "dsp_1", Reason: dispute.ReasonFRAUD}
	got := DecideCompelling(fraud, disputed, priors, map[string]bool{"pay_disputed_before": true})
	if !got.Eligible || len(got.Candidates) != 2 {
		t.Fatalf("got %+v", got)
	}
	all := []Element{ElementIPAddress, ElementDeviceID, ElementShippingAddress, ElementCustomerAccount}
	if c := got.Candidates[0]; c.Payment.ID != "pay_all4_new" || !slices.Equal(c.Matched, all) || c.DaysBefore != 150 {
		t.Fatalf("first candidate %s %v %d", c.Payment.ID, c.Matched, c.DaysBefore)
	}
	if c := got.Candidates[1]; c.Payment.ID != "pay_all4_old" || !slices.Equal(c.Matched, all) {
		t.Fatalf("second candidate %s %v", c.Payment.ID, c.Matched)
	}
	if r := strings.Join(got.Reasons, "\n"); !strings.Contains(r, "pay_all4_new (150 days before) shares ip address, device id, shipping address, customer account") ||
		!strings.Contains(r, "5 earlier succeeded payments") || !strings.Contains(r, "4 of them undisputed") || !strings.Contains(r, "3 share") {
		t.Fatalf("reasons:\n%s", r)
	}

	// Without the two best, the two-element one comes in, matched by email.
	got = DecideCompelling(fraud, disputed, []*ent.Payment{priors[1], priors[2], priors[3]}, nil)
	if !got.Eligible || got.Candidates[1].Payment.ID != "pay_two" ||
		!slices.Equal(got.Candidates[1].Matched, []Element{ElementIPAddress, ElementCustomerAccount}) {
		t.Fatalf("got %+v", got)
	}
	// One qualifying prior is not enough: none offered.
	got = DecideCompelling(fraud, disputed, []*ent.Payment{priors[1], priors[3], priors[4], priors[5]}, nil)
	if got.Eligible || len(got.Candidates) != 0 || !strings.Contains(strings.Join(got.Reasons, " "), "needs 2") {
		t.Fatalf("got %+v", got)
	}
	// Not fraud; not a card.
	if got := DecideCompelling(&ent.Dispute{Reason: dispute.ReasonNOT_RECEIVED}, disputed, priors, nil); got.Eligible || len(got.Candidates) != 0 {
		t.Fatalf("not received: %+v", got)
	}
	wallet := *disputed
	wallet.PaymentMethodType, wallet.CardFingerprint = "wallet", ""
	if got := DecideCompelling(fraud, &wallet, priors, nil); got.Eligible {
		t.Fatalf("wallet: %+v", got)
	}
}

func TestEvidenceFactsNormalised(t *testing.T) {
	a := HashShippingAddress(map[string]string{"line1": " 1 Main  St ", "city": "singapore", "country": "SG"})
	b := HashShippingAddress(map[string]string{"line1": "1 MAIN ST", "city": "Singapore", "country": "sg"})
	if a == "" || a != b || len(a) != 64 {
		t.Fatalf("%q != %q", a, b)
	}
	if HashShippingAddress(map[string]string{"line1": "2 Main St", "city": "Singapore", "country": "SG"}) == a {
		t.Fatal("another address hashes the same")
	}
	if HashShippingAddress(nil) != "" || HashDeviceID("  ") != "" || NormalizeEmail("not an email") != "" {
		t.Fatal("empty facts must stay empty")
	}
	if got := NormalizeEmail(" Ann <Ann@Example.COM> "); got != "ann@example.com" {
		t.Fatalf("email %q", got)
	}
	if got := NormalizeIP("::ffff:203.0.113.7"); got != "203.0.113.7" {
		t.Fatalf("ip %q", got)
	}
	if NormalizeIP("pipe") != "" {
		t.Fatal("not an IP")
	}
}
