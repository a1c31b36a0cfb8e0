package channels_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/channels"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// fakeHost is a plugin host with fixed statuses and connectors.
type fakeHost struct {
	statuses []connectors.Status
	conns    map[string]connectors.Connector
}

func (h *fakeHost) List() []connectors.Status { return h.statuses }

func (h *fakeHost) Get(name string) (connectors.Connector, bool) {
	c, ok := h.conns[name]
	return c, ok
}

func (h *fakeHost) SetEnabled(name string, enabled bool) error {
	for i := range h.statuses {
		if h.statuses[i].Name == name {
			h.statuses[i].Enabled = enabled
			return nil
		}
	}
	return errors.New("not installed")
}

func newHost() *fakeHost {
	return &fakeHost{statuses: []connectors.Status{
		{Name: "bank", Kind: connectors.KindBank, Health: connectors.HealthRestarting, Circuit: connectors.CircuitClosed, Enabled: true,
			PaymentMethods: []string{"bank_transfer", "direct_debit"}, Currencies: []string{"EUR", "GBP"}},
		{Name: "cardnet", Kind: connectors.KindCardScheme, Health: connectors.HealthUp, Circuit: connectors.CircuitHalfOpen, Enabled: true,
			PaymentMethods: []string{"card"}, Currencies: []string{"USD", "JPY", "XXX"}, Countries: []string{"US"}},
		{Name: "fx", Kind: connectors.KindFX, Health: connectors.HealthUp, Circuit: connectors.CircuitClosed, Enabled: true,
			Capabilities: []connectors.Capability{connectors.CapRates}, Currencies: []string{"USD", "EUR", "JPY"}},
		{Name: "wallet", Kind: connectors.KindWallet, Health: connectors.HealthUp, Circuit: connectors.CircuitOpen, Enabled: true,
			PaymentMethods: []string{"wallet_redirect", "wallet_qr"}, Currencies: []string{"CNY"}},
	}}
}

var operator = viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.Operator, Subject: "op"})

func TestCatalogMergesDescriptorsWithSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHost()
		svc := channels.New(db.Client, h)
		max := int64(500000)
		if _, err := svc.UpdateSettings(operator, channels.SettingsInput{Name: "cardnet",
			Fees:   []channels.FeeInput{{Currency: "usd", FixedMinor: 30, BasisPoints: 290}},
			Limits: []channels.LimitInput{{Currency: "JPY", Min: 100, Max: &max}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetEnabled(operator, "wallet", false); err != nil {
			t.Fatal(err)
		}
		// Routing runs as a merchant, who may not read settings itself.
		asMerchant := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.APIKey, Subject: "key_1", MerchantID: "mer_1"})
		got, err := channels.NewCatalog(db.Client, h).Connectors(asMerchant)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]routing.Connector{}
		for _, c := range got {
			byName[c.Name] = c
		}
		card, bank, wallet := byName["cardnet"], byName["bank"], byName["wallet"]
		usd, jpy := money.MustCurrency("USD"), money.MustCurrency("JPY")
		if !card.Enabled || len(card.Methods) != 1 || card.Methods[0] != routing.Card || len(card.Currencies) != 2 ||
			card.Fees[0] != (routing.Fee{Currency: usd, FixedMinor: 30, BasisPoints: 290}) ||
			card.Limits[0] != (routing.Limit{Currency: jpy, Min: 100, Max: 500000}) {
			t.Fatalf("cardnet = %+v", card)
		}
		if len(bank.Methods) != 2 || bank.Methods[0] != routing.BankTransfer || bank.Methods[1] != routing.DirectDebit {
			t.Fatalf("bank = %+v", bank)
		}
		if wallet.Enabled || len(wallet.Methods) != 1 || wallet.Methods[0] != routing.Wallet {
			t.Fatalf("wallet = %+v", wallet)
		}
		if _, err := db.Client.ConnectorSetting.Query().All(asMerchant); err == nil {
			t.Fatal("a merchant read connector settings")
		}
		if _, err := svc.SetEnabled(asMerchant, "cardnet", false); err == nil {
			t.Fatal("a merchant disabled a connector")
		}
	})
}

func TestApplyStoredRestoresTheOperatorsChoice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHost()
		if _, err := channels.New(db.Client, h).SetEnabled(operator, "cardnet", false); err != nil {
			t.Fatal(err)
		}
		restarted := newHost() // a new process: the manifest says enabled
		if err := channels.New(db.Client, restarted).ApplyStored(context.Background()); err != nil {
			t.Fatal(err)
		}
		if restarted.statuses[1].Enabled || !restarted.statuses[0].Enabled {
			t.Fatalf("after restart: %+v", restarted.statuses)
		}
	})
}

func TestSettingsValidation(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	svc := channels.New(db.Client, newHost())
	zero, neg := int64(0), int64(-1)
	cases := []struct {
		in    channels.SettingsInput
		field string
	}{
		{channels.SettingsInput{Name: "cardnet", Fees: []channels.FeeInput{{Currency: "ZZZ"}}}, "fees[0].currency"},
		{channels.SettingsInput{Name: "cardnet", Fees: []channels.FeeInput{{Currency: "USD", BasisPoints: -1}}}, "fees[0].basisPoints"},
		{channels.SettingsInput{Name: "cardnet", Limits: []channels.LimitInput{{Currency: "USD", Max: &zero}}}, "limits[0].max"},
		{channels.SettingsInput{Name: "cardnet", Limits: []channels.LimitInput{{Currency: "USD", Max: &neg}}}, "limits[0].max"},
		{channels.SettingsInput{Name: "cardnet", Limits: []channels.LimitInput{{Currency: "USD"}, {Currency: "USD"}}}, "limits[1].currency"},
	}
	for _, c := range cases {
		_, err := svc.UpdateSettings(operator, c.in)
		if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != c.field {
			t.Errorf("%+v: %v (field %q), want field %s", c.in, err, payments.ErrorField(err), c.field)
		}
	}
	if _, err := svc.UpdateSettings(operator, channels.SettingsInput{Name: "nope"}); payments.ErrorCode(err) != payments.ENOTFOUND {
		t.Errorf("unknown connector: %v", err)
	}
	// Exactly 10000 bp and min = max are fine.
	max := int64(100)
	if _, err := svc.UpdateSettings(operator, channels.SettingsInput{Name: "cardnet",
		Fees:   []channels.FeeInput{{Currency: "USD", BasisPoints: 10000}},
		Limits: []channels.LimitInput{{Currency: "USD", Min: 100, Max: &max}}}); err != nil {
		t.Errorf("edge values: %v", err)
	}
}

func TestHealthReportsCircuitsAndDownConnectorsAsOpen(t *testing.T) {
	h := channels.NewHealth(newHost())
	want := map[string]routing.Circuit{
		"bank": routing.Open, "cardnet": routing.HalfOpen, "fx": routing.Closed, "wallet": routing.Open, "missing": routing.Open,
	}
	for name, circuit := range want {
		s, err := h.Stats(context.Background(), name)
		if err != nil || s.Circuit != circuit {
			t.Errorf("%s: %+v, %v; want %s", name, s, err, circuit)
		}
	}
}

// rates answers GetRates from a table, with one bad row.
type rates struct {
	connectors.Unimplemented
	calls []connectors.RatesRequest
}

func (r *rates) GetRates(_ context.Context, req connectors.RatesRequest) (connectors.RatesResponse, error) {
	r.calls = append(r.calls, req)
	asOf := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	out := connectors.RatesResponse{Result: connectors.Approved()}
	for _, q := range req.Quotes {
		out.Rates = append(out.Rates, connectors.Rate{Base: req.Base, Quote: q, Rate: "1.5", AsOf: asOf})
	}
	out.Rates = append(out.Rates, connectors.Rate{Base: req.Base, Quote: "GBP", Rate: "not a number", AsOf: asOf})
	return out, nil
}

func TestRateSourceAsksOncePerBase(t *testing.T) {
	h := newHost()
	src := &rates{}
	h.conns = map[string]connectors.Connector{"fx": src}
	st, ok := channels.FXConnector(h)
	if !ok || st.Name != "fx" {
		t.Fatalf("FXConnector = %+v, %v", st, ok)
	}
	pairs := channels.Pairs(st.Currencies)
	if len(pairs) != 3 || pairs[0].String() != "USD/EUR" || pairs[2].String() != "EUR/JPY" {
		t.Fatalf("pairs = %v", pairs)
	}
	got, err := channels.NewRateSource(h, "fx").GetRates(context.Background(), pairs)
	if err != nil {
		t.Fatal(err)
	}
	if len(src.calls) != 2 || len(got) != 3 || got[0].Source != "fx" || got[0].Rate.String() != "1.5" {
		t.Fatalf("calls %+v, rates %+v", src.calls, got)
	}
	var _ fx.RateSource = channels.NewRateSource(h, "fx")
	if _, err := channels.NewRateSource(h, "gone").GetRates(context.Background(), pairs); err == nil {
		t.Fatal("rates from a connector that is not installed")
	}
}

func TestSettingChangesWriteTheirOutboxEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := channels.New(db.Client, newHost())
		if _, err := svc.SetEnabled(operator, "wallet", false); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetEnabled(operator, "wallet", true); err != nil {
			t.Fatal(err)
		}
		evs, err := db.Client.Event.Query().Order(ent.Asc(event.FieldID)).All(viewer.SystemContext(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Type+":"+e.ObjectID)
		}
		if want := []string{"connector.disabled:wallet", "connector.enabled:wallet"}; !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
	})
}
