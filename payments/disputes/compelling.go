package disputes

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// Compelling Evidence 3.0 is Visa's rule for fraud disputes (reason 10.4,
// card-absent fraud): the merchant wins by showing two earlier payments of
// the same card with it that the cardholder never disputed, 120 to 365 days
// older than the disputed one, each sharing with the disputed payment at
// least two of: the IP address, the device id, the shipping address, the
// customer account (id or email). This file is the pure part: the facts a
// payment keeps (normalised and hashed the same way everywhere) and the
// choice of the two prior payments.

// Element is a data element CE3.0 compares between payments.
type Element string

// The elements, in the order reasons list them.
const (
	ElementIPAddress       Element = "IP_ADDRESS"
	ElementDeviceID        Element = "DEVICE_ID"
	ElementShippingAddress Element = "SHIPPING_ADDRESS"
	ElementCustomerAccount Element = "CUSTOMER_ACCOUNT"
)

// CE3.0's window and counts.
const (
	CEMinAge      = 120 * 24 * time.Hour // a prior payment is at least this much older
	CEMaxAge      = 365 * 24 * time.Hour // and at most this much
	CEPriors      = 2                    // prior payments the evidence needs
	CEMinElements = 2                    // elements each must share
)

// NormalizeEmail is an email as payments keep it for evidence: the address
// part, trimmed and lower-cased; "" when it is not an address.
func NormalizeEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || len(a.Address) > 254 {
		return ""
	}
	return strings.ToLower(a.Address)
}

// NormalizeIP is an IP address in its canonical text form (an IPv4-mapped
// IPv6 address as IPv4, no zone); "" when s is not an address.
func NormalizeIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.Unmap().WithZone("").String()
}

// HashDeviceID is the SHA-256 (hex) of a device id the checkout sent, trimmed;
// "" for none. Evidence needs only to show that two payments came from one
// device, not the id itself.
func HashDeviceID(id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	return hashHex("device\x00" + id)
}

// ShippingAddressParts are the keys of a shipping address, in the order its
// hash reads them.
var ShippingAddressParts = []string{"line1", "line2", "city", "state", "postal_code", "country"}

// HashShippingAddress is the SHA-256 (hex) of a shipping address normalised:
// each part trimmed, inner spaces collapsed, upper-cased (so "1 Main  St"
// and "1 MAIN ST" agree), parts joined in ShippingAddressParts' order. ""
// when every part is empty.
func HashShippingAddress(addr map[string]string) string {
	parts := make([]string, len(ShippingAddressParts))
	empty := true
	for i, k := range ShippingAddressParts {
		parts[i] = strings.ToUpper(strings.Join(strings.Fields(addr[k]), " "))
		empty = empty && parts[i] == ""
	}
	if empty {
		return ""
	}
	return hashHex("shipping\x00" + strings.Join(parts, "\x00"))
}

// FormatShippingAddress is a shipping address as one line of evidence text.
func FormatShippingAddress(addr map[string]string) string {
	var parts []string
	for _, k := range ShippingAddressParts {
		if v := strings.Join(strings.Fields(addr[k]), " "); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ", ")
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Compelling is what CE3.0 makes of a dispute: whether it qualifies, why
// (or why not), and the prior payments chosen.
type Compelling struct {
	Eligible bool
	Reasons  []string
	// Candidates are the chosen prior payments, CEPriors of them when
	// Eligible, none otherwise.
	Candidates []CECandidate
}

// CECandidate is a prior payment offered as evidence and the elements it
// shares with the disputed payment.
type CECandidate struct {
	Payment *ent.Payment
	Matched []Element
	// DaysBefore is how many whole days before the disputed payment it was
	// made.
	DaysBefore int
}

// DecideCompelling applies CE3.0 to a dispute d of payment disputed, given
// priors (the merchant's payments of the same card fingerprint, any state
// and date: the rule filters them) and disputedIDs (the payments among them
// that have a dispute of any kind).
//
// A prior payment qualifies when it succeeded, has no dispute, is not the
// disputed payment, was made 120 to 365 days before it (inclusive), and
// shares at least two elements with it. The two offered are those sharing
// the most elements; among equals the most recent (the issuer sees the
// closest history), then by id so that the choice is stable. A dispute that
// is not a fraud dispute, on a payment that is not a card's, or with fewer
// than two qualifying priors, is not eligible and is offered none.
func DecideCompelling(d *ent.Dispute, disputed *ent.Payment, priors []*ent.Payment, disputedIDs map[string]bool) Compelling {
	var out Compelling
	switch {
	case d.Reason != dispute.ReasonFRAUD:
		out.Reasons = append(out.Reasons, fmt.Sprintf("not a fraud dispute (%s): CE3.0 answers fraud disputes only", strings.ToLower(string(d.Reason))))
		return out
	case disputed.PaymentMethodType != "card" || disputed.CardFingerprint == "":
		out.Reasons = append(out.Reasons, "the disputed payment is not a card payment Strait fingerprinted: no card history to show")
		return out
	}
	from, to := disputed.CreatedAt.Add(-CEMaxAge), disputed.CreatedAt.Add(-CEMinAge)
	var qualifying []CECandidate
	inWindow, undisputed := 0, 0
	for _, p := range priors {
		if p.ID == disputed.ID || p.MerchantID != disputed.MerchantID || p.CardFingerprint != disputed.CardFingerprint ||
			p.Status != paymentstatus.Succeeded || p.CreatedAt.Before(from) || p.CreatedAt.After(to) {
			continue
		}
		inWindow++
		if disputedIDs[p.ID] {
			continue
		}
		undisputed++
		m := SharedElements(disputed, p)
		if len(m) < CEMinElements {
			continue
		}
		qualifying = append(qualifying, CECandidate{Payment: p, Matched: m, DaysBefore: int(disputed.CreatedAt.Sub(p.CreatedAt) / (24 * time.Hour))})
	}
	slices.SortFunc(qualifying, func(a, b CECandidate) int {
		return cmp.Or(cmp.Compare(len(b.Matched), len(a.Matched)),
			b.Payment.CreatedAt.Compare(a.Payment.CreatedAt), cmp.Compare(a.Payment.ID, b.Payment.ID))
	})
	out.Reasons = append(out.Reasons, fmt.Sprintf(
		"%d earlier succeeded payments of the same card 120 to 365 days before; %d of them undisputed; %d share at least %d of IP address, device id, shipping address, customer account",
		inWindow, undisputed, len(qualifying), CEMinElements))
	if len(qualifying) < CEPriors {
		out.Reasons = append(out.Reasons, fmt.Sprintf("CE3.0 needs %d qualifying prior payments: not eligible", CEPriors))
		return out
	}
	out.Eligible = true
	out.Candidates = qualifying[:CEPriors]
	for _, c := range out.Candidates {
		out.Reasons = append(out.Reasons, fmt.Sprintf("%s (%d days before) shares %s", c.Payment.ID, c.DaysBefore, elementNames(c.Matched)))
	}
	return out
}

// SharedElements are the CE3.0 elements payments a and b both carry with
// the same value: the IP address, the device id, the shipping address, and
// the customer account (the same customer id or the same email).
func SharedElements(a, b *ent.Payment) []Element {
	var m []Element
	same := func(x, y string) bool { return x != "" && x == y }
	if same(a.BuyerIP, b.BuyerIP) {
		m = append(m, ElementIPAddress)
	}
	if same(a.DeviceIDHash, b.DeviceIDHash) {
		m = append(m, ElementDeviceID)
	}
	if same(a.ShippingAddressHash, b.ShippingAddressHash) {
		m = append(m, ElementShippingAddress)
	}
	if same(a.CustomerID, b.CustomerID) || same(a.BuyerEmail, b.BuyerEmail) {
		m = append(m, ElementCustomerAccount)
	}
	return m
}

func elementNames(es []Element) string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = strings.ReplaceAll(strings.ToLower(string(e)), "_", " ")
	}
	return strings.Join(names, ", ")
}
