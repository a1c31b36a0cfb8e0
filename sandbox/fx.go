package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// usdRates is the fixed table: units of each currency that 1 USD buys. Cross
// rates are derived from it, so the table is consistent by construction.
var usdRates = map[string]string{
	"USD": "1", "EUR": "0.9215", "GBP": "0.7890", "JPY": "151.42", "CNY": "7.2345",
	"HKD": "7.8125", "SGD": "1.3475", "KWD": "0.30745", "BHD": "0.376", "JOD": "0.709",
	"AUD": "1.5320", "CAD": "1.3610", "CHF": "0.8845", "NZD": "1.6710", "KRW": "1372.50",
	"INR": "83.25", "MYR": "4.7150", "THB": "36.40", "AED": "3.6725", "SAR": "3.75",
	"TWD": "32.15", "SEK": "10.52", "NOK": "10.68", "DKK": "6.875", "PHP": "56.20",
	"IDR": "15850", "VND": "24850", "MXN": "17.05", "BRL": "5.05",
}

// rateDecimals is the precision of quoted rates: enough that 1 JPY in KWD
// (about 0.002) keeps six significant digits.
const rateDecimals = 10

// maxDriftBps bounds -fx-drift: ±0.20 %.
const maxDriftBps = 20

type ratesView struct {
	Object string            `json:"object"`
	Base   string            `json:"base"`
	Source string            `json:"source"`
	AsOf   time.Time         `json:"as_of"`
	Rates  map[string]string `json:"rates"`
}

// usdRate is the rate of one currency against USD, drifted when asked.
func usdRate(currency string, drift bool, minute time.Time) *big.Rat {
	r, ok := new(big.Rat).SetString(usdRates[currency])
	if !ok {
		panic("sandbox: bad FX table entry for " + currency)
	}
	if !drift || currency == "USD" {
		return r
	}
	h := sha256.Sum256([]byte(currency + minute.Format(time.RFC3339)))
	bps := int64(binary.BigEndian.Uint64(h[:8])%(2*maxDriftBps+1)) - maxDriftBps
	return r.Mul(r, big.NewRat(10000+bps, 10000))
}

// formatRate renders a rate with rateDecimals places, trailing zeros trimmed.
func formatRate(r *big.Rat) string {
	s := r.FloatString(rateDecimals)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func (s *Server) handleRates(w http.ResponseWriter, r *http.Request) {
	base := r.URL.Query().Get("base")
	if base == "" {
		base = "USD"
	}
	if _, ok := usdRates[base]; !ok {
		s.writeError(w, r, invalid("base %q is not supported", base))
		return
	}
	symbols := currencies()
	if v := r.URL.Query().Get("symbols"); v != "" {
		symbols = strings.Split(v, ",")
		for _, c := range symbols {
			if _, ok := usdRates[c]; !ok {
				s.writeError(w, r, invalid("symbol %q is not supported", c))
				return
			}
		}
	}
	now := s.now()
	minute := now.Truncate(time.Minute)
	asOf := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if s.cfg.FXDrift {
		asOf = minute
	}
	baseRate := usdRate(base, s.cfg.FXDrift, minute)
	out := ratesView{Object: "rates", Base: base, Source: "sandbox", AsOf: asOf, Rates: map[string]string{}}
	for _, c := range symbols {
		q := usdRate(c, s.cfg.FXDrift, minute)
		out.Rates[c] = formatRate(q.Quo(q, baseRate))
	}
	writeJSON(w, http.StatusOK, out)
}
