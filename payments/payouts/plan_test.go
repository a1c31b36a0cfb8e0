package payouts

import (
	"errors"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/vocab/payoutstatus"
)

func TestIBANAndABAChecks(t *testing.T) {
	for iban, ok := range map[string]bool{
		"DE89370400440532013000": true, "GB82WEST12345698765432": true, "NL91ABNA0417164300": true,
		"DE89370400440532013001": false, "GB82WEST1234569876543X": false, "": false,
	} {
		if IBANChecks(iban) != ok {
			t.Errorf("IBANChecks(%q) != %v", iban, ok)
		}
	}
	for r, ok := range map[string]bool{"011000015": true, "021000021": true, "123456789": false, "02100002": false} {
		if ABAChecks(r) != ok {
			t.Errorf("ABAChecks(%q) != %v", r, ok)
		}
	}
}

func TestValidateBankAccount(t *testing.T) {
	good := []NewBankAccount{
		{Country: "de", Currency: "EUR", HolderName: "A", IBAN: "de89 3704 0044 0532 0130 00"},
		{Country: "US", Currency: "USD", HolderName: "A", AccountNumber: "000123456789", RoutingNumber: "011000015"},
		{Country: "SG", Currency: "SGD", HolderName: "A", AccountNumber: "12345678", RoutingNumber: "7171"},
	}
	for _, n := range good {
		if _, err := n.validate(); err != nil {
			t.Errorf("%+v: %v", n, err)
		}
	}
	bad := map[string]NewBankAccount{
		"country":       {Country: "Germany", Currency: "EUR", HolderName: "A", IBAN: "DE89370400440532013000"},
		"currency":      {Country: "DE", Currency: "EURO", HolderName: "A", IBAN: "DE89370400440532013000"},
		"holderName":    {Country: "DE", Currency: "EUR", IBAN: "DE89370400440532013000"},
		"iban":          {Country: "FR", Currency: "EUR", HolderName: "A", IBAN: "DE89370400440532013000"},
		"accountNumber": {Country: "SG", Currency: "SGD", HolderName: "A", AccountNumber: "12", RoutingNumber: "7171"},
		"routingNumber": {Country: "US", Currency: "USD", HolderName: "A", AccountNumber: "1234567", RoutingNumber: "011000016"},
	}
	for field, n := range bad {
		_, err := n.validate()
		var pe *payments.Error
		if !errors.As(err, &pe) || pe.Field != field {
			t.Errorf("%s: %+v gave %v", field, n, err)
		}
	}
}

// TestPlan: each event's state, entry and outbox event, with no database;
// every entry balances, and a return is the request turned around.
func TestPlan(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	p := &ent.Payout{ID: "po_1", MerchantID: "m_1", Amount: 4500, Currency: "EUR", SourceAmount: 5000, SourceCurrency: "SGD",
		FxQuoteID: "fxq_1", Status: payoutstatus.Pending}
	req := requestEntry(p, now)
	if err := req.Validate(); err != nil || len(req.Postings) != 4 {
		t.Fatalf("request entry %+v: %v", req, err)
	}
	for _, c := range []struct {
		from  payoutstatus.Status
		ev    payoutstatus.Event
		to    payoutstatus.Status
		event string
		entry string
	}{
		{payoutstatus.Pending, payoutstatus.Accept, payoutstatus.InTransit, "payout.updated", ""},
		{payoutstatus.InTransit, payoutstatus.Pay, payoutstatus.Paid, "payout.paid", "po_1/paid"},
		{payoutstatus.InTransit, payoutstatus.Fail, payoutstatus.Failed, "payout.failed", "po_1/return"},
		{payoutstatus.Pending, payoutstatus.Cancel, payoutstatus.Canceled, "payout.canceled", "po_1/return"},
		{payoutstatus.Pending, payoutstatus.Pay, payoutstatus.Paid, "payout.paid", "po_1/paid"},
	} {
		q := *p
		q.Status = c.from
		w, ok := plan(&q, c.ev, "bank_po", "account_closed", "bank", now)
		if !ok || w.to != c.to || w.event != c.event {
			t.Fatalf("%s + %s: %+v %v", c.from, c.ev, w, ok)
		}
		if (w.entry == nil) != (c.entry == "") || (w.entry != nil && w.entry.Source.ID != c.entry) {
			t.Fatalf("%s + %s: entry %+v", c.from, c.ev, w.entry)
		}
		if w.entry != nil {
			if err := w.entry.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range []payoutstatus.Status{payoutstatus.Paid, payoutstatus.Failed, payoutstatus.Canceled} {
		q := *p
		q.Status = s
		if _, ok := plan(&q, payoutstatus.Fail, "", "", "bank", now); ok {
			t.Errorf("a %s payout moved", s)
		}
	}
	ret := returnEntry(p, now)
	net := map[ledger.AccountKey]int64{}
	for _, e := range []ledger.Entry{req, ret} {
		for _, ps := range e.Postings {
			net[ps.Account] += ps.Amount.Minor
		}
	}
	for k, v := range net {
		if v != 0 {
			t.Errorf("request then return leaves %s at %d", k, v)
		}
	}
	paid := paidEntry(p, "bank", now)
	if paid.Postings[0].Account.Kind != ledger.KindInTransit || paid.Postings[1].Account != ledger.ChannelAccount("bank", paid.Postings[1].Amount.Currency) {
		t.Errorf("paid entry %+v", paid)
	}
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		r    connectors.Result
		err  error
		want payoutstatus.Event
	}{
		{connectors.Result{Outcome: connectors.OutcomePending}, nil, payoutstatus.Accept},
		{connectors.Approved(), nil, payoutstatus.Accept},
		{connectors.Declined(connectors.DeclineSoft, "insufficient_funds", ""), nil, payoutstatus.Fail},
		{connectors.Result{Outcome: connectors.OutcomeUnknown}, nil, ""},
		{connectors.Result{}, connectors.ErrUnsupported, payoutstatus.Fail},
	} {
		if got := outcome(c.r, c.err); got != c.want {
			t.Errorf("outcome(%+v, %v) = %q, want %q", c.r, c.err, got, c.want)
		}
	}
}

func TestNextRun(t *testing.T) {
	now := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC) // a Wednesday
	if got := nextRun(Daily, 0, now); !got.Equal(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("daily %s", got)
	}
	if got := nextRun(Weekly, 1, now); !got.Equal(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("weekly on Monday %s", got)
	}
}
