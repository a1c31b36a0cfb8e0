package sandbox

import "strconv"

// Brands.
const (
	brandVisa       = "visa"
	brandMastercard = "mastercard"
	brandUnionPay   = "unionpay"
	brandJCB        = "jcb"
	brandAmex       = "amex"
)

// brandRule is one BIN range: PANs whose first `digits` digits, read as a
// number, fall in [lo, hi] belong to brand.
type brandRule struct {
	brand   string
	digits  int
	lo, hi  int
	lengths []int
	cvc     int
}

// brandRules is the BIN table of API.md, most specific first.
var brandRules = []brandRule{
	{brandAmex, 2, 34, 34, []int{15}, 4},
	{brandAmex, 2, 37, 37, []int{15}, 4},
	{brandJCB, 4, 3528, 3589, []int{16, 17, 18, 19}, 3},
	{brandMastercard, 2, 51, 55, []int{16}, 3},
	{brandMastercard, 4, 2221, 2720, []int{16}, 3},
	{brandUnionPay, 2, 62, 62, []int{16, 17, 18, 19}, 3},
	{brandVisa, 1, 4, 4, []int{13, 16, 19}, 3},
}

// ruleFor finds the brand rule for a PAN or BIN prefix, ignoring length.
func ruleFor(digits string) (brandRule, bool) {
	for _, r := range brandRules {
		if len(digits) < r.digits {
			continue
		}
		n, err := strconv.Atoi(digits[:r.digits])
		if err == nil && n >= r.lo && n <= r.hi {
			return r, true
		}
	}
	return brandRule{}, false
}

// luhnValid reports whether a digit string passes the Luhn check.
func luhnValid(pan string) bool {
	sum := 0
	for i := range len(pan) {
		d := int(pan[len(pan)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Scenarios: what a test card does beyond a plain decision.
const (
	scenarioApprove      = ""
	scenarioChallenge    = "challenge"
	scenarioFrictionless = "frictionless"
	scenarioTimeout      = "timeout"
	scenarioChargeback   = "chargeback"   // a fraud chargeback (10.4) after capture
	scenarioInquiry      = "inquiry"      // an inquiry (retrieval request) after capture
	scenarioNotReceived  = "not_received" // a merchandise-not-received chargeback (13.1)
	scenarioPreArb       = "pre_arbitration"
)

// testCard is one row of the test-card table in API.md.
type testCard struct {
	scenario    string
	declineType string
	declineCode string
}

// testCards maps magic PANs to their behaviour. Any other valid PAN is
// approved. The outcome is decided from the PAN at request time; the PAN
// itself is never stored.
var testCards = map[string]testCard{
	"4000000000000002": {declineType: declineHard, declineCode: "do_not_honor"},
	"4000000000000010": {declineType: declineHard, declineCode: "stolen_card"},
	"4000000000000028": {declineType: declineHard, declineCode: "invalid_card"},
	"4000000000000036": {declineType: declineHard, declineCode: "expired_card"},
	"4000000000000044": {declineType: declineSoft, declineCode: "insufficient_funds"},
	"4000000000000051": {declineType: declineSoft, declineCode: "try_again_later"},
	"4000000000000069": {scenario: scenarioChallenge},
	"4000000000000077": {scenario: scenarioFrictionless},
	"4000000000000085": {scenario: scenarioTimeout},
	"4000000000000093": {scenario: scenarioChargeback},
	"4000000000000101": {scenario: scenarioInquiry},
	"4000000000000119": {scenario: scenarioNotReceived},
	"4000000000000127": {scenario: scenarioPreArb},
}

var declineMessages = map[string]string{
	"do_not_honor":          "the issuer declined the authorization",
	"stolen_card":           "the card is reported stolen",
	"invalid_card":          "the card is not valid",
	"expired_card":          "the card has expired",
	"insufficient_funds":    "the account has insufficient funds",
	"try_again_later":       "the issuer is unavailable; try again later",
	"invalid_card_number":   "the card number fails the Luhn check",
	"unsupported_card":      "the card number belongs to no supported brand",
	"authentication_failed": "3-D Secure authentication failed",
	"canceled":              "the merchant canceled the payment before 3-D Secure was completed",
}
