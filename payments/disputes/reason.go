package disputes

import (
	"strings"

	"github.com/straitpay/strait/ent/dispute"
)

// Reason is the category of a dispute's reason; the scheme's own code is
// kept beside it.
type Reason = dispute.Reason

// reasonCodes maps the schemes' reason codes to categories: Visa's (10.x
// fraud, 11.x authorization, 12.x processing errors, 13.x consumer
// disputes), Mastercard's four-digit codes and the retrieval requests.
// A code not listed is OTHER.
var reasonCodes = map[string]Reason{
	// Visa
	"10.1": dispute.ReasonFRAUD, "10.2": dispute.ReasonFRAUD, "10.3": dispute.ReasonFRAUD,
	"10.4": dispute.ReasonFRAUD, "10.5": dispute.ReasonFRAUD,
	"12.6.1": dispute.ReasonDUPLICATE, "12.6.2": dispute.ReasonDUPLICATE,
	"13.1": dispute.ReasonNOT_RECEIVED, "13.2": dispute.ReasonSUBSCRIPTION_CANCELED,
	"13.3": dispute.ReasonNOT_AS_DESCRIBED, "13.4": dispute.ReasonNOT_AS_DESCRIBED,
	"13.5": dispute.ReasonNOT_AS_DESCRIBED, "13.6": dispute.ReasonCREDIT_NOT_PROCESSED,
	"13.7": dispute.ReasonCREDIT_NOT_PROCESSED,
	// Mastercard
	"4837": dispute.ReasonFRAUD, "4840": dispute.ReasonFRAUD, "4863": dispute.ReasonFRAUD,
	"4870": dispute.ReasonFRAUD, "4871": dispute.ReasonFRAUD,
	"4834": dispute.ReasonDUPLICATE, "4855": dispute.ReasonNOT_RECEIVED,
	"4841": dispute.ReasonSUBSCRIPTION_CANCELED, "4853": dispute.ReasonNOT_AS_DESCRIBED,
	"4860": dispute.ReasonCREDIT_NOT_PROCESSED,
}

// reasonOf returns the category of a scheme's reason code; the channel's
// own word for it decides when the code is unknown.
func reasonOf(code, words string) Reason {
	if r, ok := reasonCodes[strings.TrimSpace(code)]; ok {
		return r
	}
	w := strings.ToLower(words)
	switch {
	case strings.Contains(w, "fraud"):
		return dispute.ReasonFRAUD
	case strings.Contains(w, "not_received") || strings.Contains(w, "not received"):
		return dispute.ReasonNOT_RECEIVED
	case strings.Contains(w, "duplicate"):
		return dispute.ReasonDUPLICATE
	}
	return dispute.ReasonOTHER
}
