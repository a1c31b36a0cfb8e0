package cashier_test

import (
	"github.com/straitpay/strait/vocab/agreementstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// An agreement with the real bank plugin: signed PENDING with a buyer URL,
// approved by the buyer on the bank's page (an agreement event makes it
// ACTIVE), charged without a cashier, then terminated.
func TestAgreementSignChargeTerminate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second, "bank=bank")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		eur := money.MustCurrency("EUR")
		catalog := routing.NewMemCatalog(routing.Connector{Name: "bank", Methods: []routing.Method{routing.DirectDebit, routing.BankTransfer},
			Currencies: []money.Currency{eur}, Enabled: true})
		w.svc = cashier.New(cashier.Config{Client: db.Client, Dialect: db.Dialect, Ledger: w.led,
			Risk:   risk.NewEngine(w.rules.RiskRules(), risk.NewMemCounters(nil), nil),
			Router: routing.NewRouter(catalog, routing.NewMemHealth(), w.rules.RoutingRules()), Catalog: catalog,
			Connectors: n.Host, Now: w.clock.Now, CallTimeout: 5 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})

		cap := money.Amount{Minor: 50_000, Currency: eur}
		in := cashier.AgreementInput{Currency: eur, MaxAmount: &cap, IdempotencyKey: "sub-1",
			Account: connectors.BankAccount{Holder: "Grace Hopper", Number: "DE89370400440532013000"}}
		a, err := w.svc.SignAgreement(w.ctx, in)
		if err != nil || a.Status != agreementstatus.Pending || a.BuyerURL == "" || a.Connector != "bank" {
			t.Fatalf("sign: %+v %v", a, err)
		}
		if again, err := w.svc.SignAgreement(w.ctx, in); err != nil || again.ID != a.ID {
			t.Fatalf("repeated sign: %v", err)
		}
		if _, err := w.svc.ChargeAgreement(w.ctx, a.ID, money.Amount{Minor: 100, Currency: eur}, "", "", "early"); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("charge before approval: %v", err)
		}
		resp, err := http.PostForm(a.BuyerURL, url.Values{"action": {"approve"}})
		if err != nil || resp.StatusCode >= 400 {
			t.Fatalf("signing page: %v %v", resp, err)
		}
		resp.Body.Close()
		w.deliver(n, "bank", a.ID)
		if a, _ = w.svc.Agreement(w.ctx, a.ID); a.Status != agreementstatus.Active {
			t.Fatalf("after approval: %s", a.Status)
		}

		if _, err := w.svc.ChargeAgreement(w.ctx, a.ID, money.Amount{Minor: 50_001, Currency: eur}, "", "", "big"); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("charge above the cap: %v", err)
		}
		p, err := w.svc.ChargeAgreement(w.ctx, a.ID, money.Amount{Minor: 1_999, Currency: eur}, "January", "inv-1", "inv-1")
		if err != nil || p.Status != paymentstatus.Succeeded || p.AgreementID != a.ID {
			t.Fatalf("charge: %+v %v", p, err)
		}
		if again, err := w.svc.ChargeAgreement(w.ctx, a.ID, money.Amount{Minor: 1_999, Currency: eur}, "January", "inv-1", "inv-1"); err != nil || again.ID != p.ID {
			t.Fatalf("repeated charge: %v", err)
		}
		if got := w.balance(ledger.MerchantAccount(w.merchant.ID, ledger.KindPending, eur)); got != 1_999 {
			t.Fatalf("pending %d", got)
		}
		if a, err = w.svc.TerminateAgreement(w.ctx, a.ID, "canceled subscription"); err != nil || a.Status != agreementstatus.Terminated {
			t.Fatalf("terminate: %v %v", a, err)
		}
		if _, err := w.svc.ChargeAgreement(w.ctx, a.ID, money.Amount{Minor: 100, Currency: eur}, "", "", "late"); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("charge after termination: %v", err)
		}
		w.balanced()
	})
}
