package recon

import (
	"errors"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments/ledger"
)

func testLine(no int64, typ, pay, tx string, gross, fee, net int64, cur string) Line {
	return ReadLine(no, connectors.SettlementLine{Type: typ, PaymentID: pay, TransactionID: tx,
		Gross: connectors.NewMoney(gross, cur), Fee: connectors.NewMoney(fee, cur), Net: connectors.NewMoney(net, cur)})
}

// TestDecideWithNoDatabase: a page whose first line an earlier run
// recorded, built in memory. The recorded line is skipped (its key still
// counts for duplicates), the others are classified, and the matched ones
// post one entry per currency keyed by the first line this run decided.
func TestDecideWithNoDatabase(t *testing.T) {
	rows := Rows{
		ByPayment: map[string]Record{
			"cp_1": {Type: "capture", ID: "pay_1", Currency: "USD", Gross: 1000, Fee: 59},
			"cp_2": {Type: "capture", ID: "pay_2", Currency: "JPY", Gross: 5000, Fee: 125},
		},
		Refunds: map[string]Record{"rf_1": {Type: "refund", ID: "ref_1", Currency: "USD", Gross: -300}},
	}
	p := Page{RunID: "rcn_1", Connector: "cardnet", Day: "2026-03-02", Now: time.Unix(0, 0), Rows: rows,
		Recorded: map[int64]string{10: "capture:cap_1"}, Earlier: map[string]bool{},
		Lines: []Line{
			testLine(10, "capture", "cp_1", "cap_1", 1000, 59, 941, "USD"),
			testLine(11, "capture", "cp_1", "cap_1", 1000, 59, 941, "USD"),
			testLine(12, "refund", "cp_1", "rf_1", -300, 0, -300, "USD"),
			testLine(13, "payment", "cp_2", "cp_2", 5000, 125, 4875, "JPY"),
			testLine(14, "capture", "cp_9", "cap_9", 700, 0, 700, "USD"),
			testLine(15, "capture", "cp_2", "cap_2", 5000, 125, 4875, "XYZ"),
		}}
	w, err := decide(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Class{Duplicate, Matched, Matched, MissingOurs, Malformed}
	if len(w.Lines) != len(want) || w.Read != 6 {
		t.Fatalf("lines %+v", w.Lines)
	}
	for i, c := range want {
		if w.Lines[i].Class != c {
			t.Errorf("line %d: %s, want %s", w.Lines[i].No, w.Lines[i].Class, c)
		}
	}
	if w.Lines[1].OurID != "ref_1" || w.Lines[0].OurID != "" {
		t.Errorf("records: %+v", w.Lines)
	}
	if len(w.Discrepancies) != 3 || w.Discrepancies[0].Key != "line:11" {
		t.Errorf("discrepancies %+v", w.Discrepancies)
	}
	if len(w.Entries) != 2 {
		t.Fatalf("entries %+v", w.Entries)
	}
	usd := w.Entries[0]
	if usd.Source != (ledger.Source{Type: SourceRecon, ID: "rcn_1:11:USD"}) || len(usd.Postings) != 2 {
		t.Fatalf("USD entry %+v", usd)
	}
	// The refund alone: receivable −300, cash +300, no fee.
	if usd.Postings[0].Account != ledger.ChannelAccount("cardnet", usd.Postings[0].Amount.Currency) || usd.Postings[0].Amount.Minor != -300 ||
		usd.Postings[1].Account.Kind != ledger.KindCash || usd.Postings[1].Amount.Minor != 300 {
		t.Errorf("USD postings %+v", usd.Postings)
	}
	jpy := w.Entries[1]
	if jpy.Source.ID != "rcn_1:11:JPY" || len(jpy.Postings) != 3 || jpy.Postings[2].Amount.Minor != -125 {
		t.Errorf("JPY entry %+v", jpy)
	}

	// The channel rewrote line 10.
	p.Recorded[10] = "capture:cap_0"
	var changed *ErrReportChanged
	if _, err := decide(p); !errors.As(err, &changed) || changed.LineNo != 10 {
		t.Fatalf("a changed report: %v", err)
	}
}

// TestReadLineRefusesWhatCannotBeRead lists the malformed lines.
func TestReadLineRefusesWhatCannotBeRead(t *testing.T) {
	usd := func(m int64) connectors.Money { return connectors.NewMoney(m, "USD") }
	for name, l := range map[string]connectors.SettlementLine{
		"no type":        {PaymentID: "p", Gross: usd(1), Fee: usd(0), Net: usd(1)},
		"no id":          {Type: "capture", Gross: usd(1), Fee: usd(0), Net: usd(1)},
		"mixed":          {Type: "capture", PaymentID: "p", Gross: usd(1), Fee: connectors.NewMoney(0, "EUR"), Net: usd(1)},
		"unknown":        {Type: "capture", PaymentID: "p", Gross: connectors.NewMoney(1, "ZZZ"), Fee: connectors.NewMoney(0, "ZZZ"), Net: connectors.NewMoney(1, "ZZZ")},
		"net":            {Type: "capture", PaymentID: "p", Gross: usd(10), Fee: usd(1), Net: usd(8)},
		"inexact in IDR": {Type: "capture", PaymentID: "p", Gross: connectors.Money{Minor: 150, Currency: "IDR", Exponent: connectors.Exp(2)}, Fee: connectors.Money{Minor: 0, Currency: "IDR", Exponent: connectors.Exp(2)}, Net: connectors.Money{Minor: 150, Currency: "IDR", Exponent: connectors.Exp(2)}},
	} {
		if got := ReadLine(0, l); got.Bad == "" {
			t.Errorf("%s: read as good: %+v", name, got)
		}
	}
	ok := ReadLine(3, connectors.SettlementLine{Type: "capture", PaymentID: "p", Gross: connectors.Money{Minor: 500000, Currency: "IDR", Exponent: connectors.Exp(2)},
		Fee: connectors.Money{Minor: 0, Currency: "IDR", Exponent: connectors.Exp(2)}, Net: connectors.Money{Minor: 500000, Currency: "IDR", Exponent: connectors.Exp(2)}})
	if ok.Bad != "" || ok.Gross != 5000 {
		t.Errorf("5000 rupiah in hundredths: %+v", ok)
	}
}

func refLine(no int64, typ, pay, ref, tx string, gross, fee, net int64, cur string) Line {
	return ReadLine(no, connectors.SettlementLine{Type: typ, PaymentID: pay, Reference: ref, TransactionID: tx,
		Gross: connectors.NewMoney(gross, cur), Fee: connectors.NewMoney(fee, cur), Net: connectors.NewMoney(net, cur)})
}

// TestDecidePayoutsDepositsAndChargebacks, with no database: a bank's
// payout lines match payouts by the bank's id or Strait's, and a bank
// account's verification deposits by the account and the amount, whatever
// the bank's fee (Strait does not price it); a payout's return matches it
// as money back; amount and currency differences are classified as for
// captures; money out naming nothing is missing on ours. A card's
// chargeback matches its dispute by the network's id, fee included, and
// its reversal as money back with no fee. Matched payouts post receivable
// +gross, cash −net, fees −fee; a matched chargeback posts its net to the
// receivable and to cash, and nothing to fees.
func TestDecidePayoutsDepositsAndChargebacks(t *testing.T) {
	payout := Record{Type: "payout", ID: "po_1", Currency: "SGD", Gross: -50000, AnyFee: true}
	rows := Rows{
		Payouts:            map[string]Record{"bpo_1": payout},
		PayoutsByReference: map[string]Record{"po_2": {Type: "payout", ID: "po_2", Currency: "SGD", Gross: -1000, AnyFee: true}},
		Deposits: map[string][]Record{"bac_1": {
			{Type: "payout", ID: "bac_1-verify1", Currency: "SGD", Gross: -12, AnyFee: true},
			{Type: "payout", ID: "bac_1-verify2", Currency: "SGD", Gross: -34, AnyFee: true}}},
		Disputes: map[string]Record{"dp_1": {Type: "dispute", ID: "dsp_1", Currency: "SGD", Gross: -2000, Fee: 1500},
			"dp_2": {Type: "dispute", ID: "dsp_2", Currency: "SGD", Gross: -3000, Fee: 1500}},
	}
	p := Page{RunID: "rcn_2", Connector: "bank", Day: "2026-03-02", Now: time.Unix(0, 0), Rows: rows,
		Recorded: map[int64]string{}, Earlier: map[string]bool{},
		Lines: []Line{
			refLine(0, "payout", "bpo_1", "po_1", "bpo_1", -50000, 500, -50500, "SGD"),       // by the bank's id
			refLine(1, "payout", "bpo_2", "po_2", "bpo_2", -1000, 500, -1500, "SGD"),         // by Strait's id
			refLine(2, "payout", "bpo_3", "bac_1", "bpo_3", -34, 500, -534, "SGD"),           // deposit 2, by amount
			refLine(3, "payout", "bpo_4", "bac_1", "bpo_4", -112, 500, -612, "SGD"),          // neither deposit
			refLine(4, "payout", "bpo_5", "po_9", "bpo_5", -700, 500, -1200, "SGD"),          // nobody's
			refLine(5, "payout_return", "bpo_1", "po_1", "bpo_1", 50000, -500, 50500, "SGD"), // the payout back
			refLine(6, "payout", "bpo_2", "po_2", "bpo_2", -1000, 500, -1500, "EUR"),         // repeats line 1's key
			refLine(7, "chargeback", "cp_1", "pay_1", "dp_1", -2000, 1500, -3500, "SGD"),     // matched
			refLine(8, "chargeback", "cp_2", "pay_2", "dp_2", -3000, 1400, -4400, "SGD"),     // fee differs
			refLine(9, "chargeback_reversal", "cp_1", "pay_1", "dp_1", 2000, 0, 2000, "SGD"), // won back
			refLine(10, "chargeback", "cp_3", "pay_3", "dp_3", -100, 1500, -1600, "SGD"),     // no dispute
			refLine(11, "payout", "bpo_6", "bac_1", "bpo_6", -12, 500, -512, "USD"),          // deposit 1, in USD
		}}
	w, err := decide(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		class Class
		ours  string
	}{{Matched, "po_1"}, {Matched, "po_2"}, {Matched, "bac_1-verify2"}, {AmountMismatch, "bac_1-verify1"}, {MissingOurs, ""},
		{Matched, "po_1"}, {Duplicate, ""}, {Matched, "dsp_1"}, {FeeMismatch, "dsp_2"}, {Matched, "dsp_1"}, {MissingOurs, ""},
		{CurrencyMismatch, "bac_1-verify1"}}
	if len(w.Lines) != len(want) {
		t.Fatalf("lines %+v", w.Lines)
	}
	for i, x := range want {
		if l := w.Lines[i]; l.Class != x.class || l.OurID != x.ours {
			t.Errorf("line %d: %s %q, want %s %q", i, l.Class, l.OurID, x.class, x.ours)
		}
	}
	if len(w.Discrepancies) != 6 {
		t.Errorf("discrepancies %+v", w.Discrepancies)
	}
	if d := w.Discrepancies[0]; d.Kind != string(AmountMismatch) || d.ExpectedGross != -12 || d.ReportedGross != -112 || d.OurID != "bac_1-verify1" {
		t.Errorf("the deposit's amount mismatch %+v", d)
	}
	if len(w.Entries) != 1 {
		t.Fatalf("entries %+v", w.Entries)
	}
	// Matched, SGD: payouts −50000 (fee 500), −1000 (500), deposit −34
	// (500), the return +50000 (−500); the chargeback −2000 with fee 1500
	// (net −3500, all to the receivable) and its reversal +2000.
	// Receivable: −50000 − 1000 − 34 + 50000 − 3500 + 2000 = −2534.
	// Cash: −net = 50500 + 1500 + 534 − 50500 + 3500 − 2000 = 3534.
	// Fees: −(500 + 500 + 500 − 500) = −1000.
	got := map[ledger.Kind]int64{}
	for _, ps := range w.Entries[0].Postings {
		got[ps.Account.Kind] += ps.Amount.Minor
		if ps.Account.Kind == ledger.KindReceivable && ps.Account.OwnerID != "bank" {
			t.Errorf("posting to %+v", ps.Account)
		}
	}
	if got[ledger.KindReceivable] != -2534 || got[ledger.KindCash] != 3534 || got[ledger.KindFees] != -1000 || len(got) != 3 {
		t.Errorf("postings %v", got)
	}
}

// TestMissingDiscrepancyOfPayoutsAndChargebacks: what Strait expected of
// a payout, a deposit or a chargeback the report lacks.
func TestMissingDiscrepancyOfPayoutsAndChargebacks(t *testing.T) {
	for _, rec := range []Record{
		{Type: "payout", ID: "po_1", Currency: "SGD", Gross: -50000, AnyFee: true},
		{Type: "payout", ID: "bac_1-verify2", Currency: "SGD", Gross: -34, AnyFee: true},
		{Type: "dispute", ID: "dsp_1", Currency: "SGD", Gross: -2000, Fee: 1500},
	} {
		d := missingDiscrepancy(rec)
		if d.Kind != string(MissingTheirs) || d.Key != "ours:"+rec.Type+":"+rec.ID || d.OurID != rec.ID || d.ExpectedGross != rec.Gross || d.LineNo != nil {
			t.Errorf("%s: %+v", rec.ID, d)
		}
	}
}
