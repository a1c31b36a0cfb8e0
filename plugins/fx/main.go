// Command fx is the reference connector for an FX rate agency: the
// sandbox's /fx API. It shows the smallest useful connector: one
// capability, rates kept as decimal strings end to end.
package main

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/sdk"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "1.0.0"

// quoteTTL is how long Strait may use a rate before asking again. The
// agency publishes at most once a minute, so a minute is the honest life
// of a quote.
const quoteTTL = time.Minute

// currencies are the currencies the agency quotes.
var currencies = []string{"USD", "EUR", "GBP", "JPY", "CNY", "HKD", "SGD", "KWD", "BHD", "JOD",
	"AUD", "CAD", "CHF", "NZD", "KRW", "INR", "MYR", "THB", "AED", "SAR", "TWD", "SEK", "NOK", "DKK",
	"PHP", "IDR", "VND", "MXN", "BRL"}

func main() {
	sdk.Serve(&fx{})
}

type fx struct {
	connectors.Unimplemented
	api *sdk.Channel
}

func (f *fx) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{
		Name: "fx", Version: version, Kind: connectors.KindFX,
		Currencies: currencies, Capabilities: []connectors.Capability{connectors.CapRates},
	}, nil
}

// Configure takes base_url and api_key.
func (f *fx) Configure(_ context.Context, cfg connectors.Config) error {
	base, key := cfg["base_url"], cfg["api_key"]
	if _, err := url.ParseRequestURI(base); err != nil || key == "" {
		return connectors.Errorf(connectors.EINVALID, "base_url (a URL) and api_key are required")
	}
	f.api = &sdk.Channel{BaseURL: base, Header: http.Header{"Authorization": {"Bearer " + key}}}
	return nil
}

// GetRates returns one rate per quoted currency, sorted by code. The
// agency's strings are passed through untouched: parsing them into floats
// would lose digits.
func (f *fx) GetRates(ctx context.Context, r connectors.RatesRequest) (connectors.RatesResponse, error) {
	q := url.Values{"base": {r.Base}}
	if len(r.Quotes) > 0 {
		q.Set("symbols", strings.Join(r.Quotes, ","))
	}
	var ans struct {
		Base  string            `json:"base"`
		AsOf  time.Time         `json:"as_of"`
		Rates map[string]string `json:"rates"`
	}
	if err := f.api.Call(ctx, http.MethodGet, "/fx/rates?"+q.Encode(), nil, &ans); err != nil {
		return connectors.RatesResponse{}, err
	}
	out := connectors.RatesResponse{Result: connectors.Approved()}
	for quote, rate := range ans.Rates {
		if quote == ans.Base {
			continue
		}
		out.Rates = append(out.Rates, connectors.Rate{Base: ans.Base, Quote: quote, Rate: rate,
			AsOf: ans.AsOf, ExpiresAt: ans.AsOf.Add(quoteTTL)})
	}
	sort.Slice(out.Rates, func(i, j int) bool { return out.Rates[i].Quote < out.Rates[j].Quote })
	return out, nil
}
