package settlement

import "strings"

// Regions a fee plan line may match on (FeePlan.Region), from the countries
// of the payment and of the merchant.
const (
	// RegionDomestic: the card was issued (or, for other methods, the
	// buyer is) in the merchant's country.
	RegionDomestic = "domestic"
	// RegionIntraRegional: another country of the merchant's region
	// (regionOf), such as a French card at a German merchant (both EEA).
	RegionIntraRegional = "intra_regional"
	// RegionInternational: any other country.
	RegionInternational = "international"
)

// regions maps ISO 3166-1 alpha-2 country codes to the fee region they
// belong to. The one region is the European Economic Area, in which the
// EU's Interchange Fee Regulation (2015/751) caps consumer card fees alike
// for cross-border payments: the 27 EU member states plus Iceland,
// Liechtenstein and Norway (the EEA Agreement's parties as of 2020; the
// United Kingdom left on 2020-01-31). A country not listed is in no region,
// so its cross-border payments are international. Add a region by adding
// its countries here (and to docs/settlement.md's table).
var regions = map[string]string{}

func init() {
	for _, c := range strings.Fields(`AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK
		IS LI NO`) {
		regions[c] = "EEA"
	}
}

// regionOf is the fee region of an ISO country code ("" when none).
func regionOf(country string) string { return regions[strings.ToUpper(country)] }

// Facts is what a payment records for its fee plan to match on (the
// payment's card_scheme and region), from how it is paid and the
// merchant's country (ISO 3166-1 alpha-2):
//
//   - the scheme is the vault card's, lower case (visa, mastercard, ...),
//     and empty for a payment that is not by card;
//   - the region compares the card's issuing country (or, when the vault
//     does not know it, and for other methods, the buyer's country) with
//     the merchant's: the same country is domestic, two countries of one
//     region (regions) intra_regional, any other pair international; it is
//     empty when either country is unknown.
func Facts(method, scheme, cardCountry, buyerCountry, merchantCountry string) (cardScheme, region string) {
	country := buyerCountry
	if method == "card" {
		cardScheme = strings.ToLower(strings.TrimSpace(scheme))
		if cardCountry != "" {
			country = cardCountry
		}
	}
	return cardScheme, Region(country, merchantCountry)
}

// Region is the fee region of a payment from country to a merchant in
// merchantCountry (see Facts); "" when either is unknown.
func Region(country, merchantCountry string) string {
	c, m := strings.ToUpper(strings.TrimSpace(country)), strings.ToUpper(strings.TrimSpace(merchantCountry))
	switch {
	case c == "" || m == "":
		return ""
	case c == m:
		return RegionDomestic
	case regionOf(c) != "" && regionOf(c) == regionOf(m):
		return RegionIntraRegional
	}
	return RegionInternational
}
