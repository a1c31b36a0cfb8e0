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
