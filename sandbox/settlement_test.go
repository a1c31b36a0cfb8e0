package sandbox

import (
	"testing"
	"time"
)

// TestInjectedFaultsOnMoneyOut: of the money going out, the first payout
// (a verification deposit here) is lowered by 100, the last payout is left
// out, and so is the first chargeback; the second chargeback, the middle
// payout and the refund stay as they were.
func TestInjectedFaultsOnMoneyOut(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	items := []settlementItem{
		{ID: "stl_1", Type: "payout", TransactionID: "po_d1", MerchantReference: "bac_1", Currency: "SGD", Gross: -12, Fee: 500, Net: -512, OccurredAt: at},
		{ID: "stl_2", Type: "payout", TransactionID: "po_d2", MerchantReference: "bac_1", Currency: "SGD", Gross: -34, Fee: 500, Net: -534, OccurredAt: at},
		{ID: "stl_3", Type: "chargeback", TransactionID: "dp_1", Currency: "SGD", Gross: -7000, Fee: 1500, Net: -8500, OccurredAt: at},
		{ID: "stl_4", Type: "refund", TransactionID: "crf_1", Currency: "SGD", Gross: -300, Fee: 0, Net: -300, OccurredAt: at},
		{ID: "stl_5", Type: "chargeback", TransactionID: "dp_2", Currency: "SGD", Gross: -8000, Fee: 1500, Net: -9500, OccurredAt: at},
		{ID: "stl_6", Type: "payout", TransactionID: "po_1", MerchantReference: "po_s1", Currency: "SGD", Gross: -10000, Fee: 500, Net: -10500, OccurredAt: at},
	}
	out := injectFaults(items)
	byID := map[string]settlementItem{}
	for _, it := range out {
		byID[it.ID] = it
	}
	if len(out) != 4+2 { // 6 − 2 left out + the two made-up items
		t.Fatalf("items %+v", out)
	}
	if d := byID["stl_1"]; d.Gross != -112 || d.Net != -612 || d.Fee != 500 {
		t.Errorf("the first payout %+v", d)
	}
	if _, ok := byID["stl_6"]; ok {
		t.Error("the last payout is listed")
	}
	if _, ok := byID["stl_3"]; ok {
		t.Error("the first chargeback is listed")
	}
	for _, id := range []string{"stl_2", "stl_4", "stl_5"} {
		if byID[id] != items[map[string]int{"stl_2": 1, "stl_4": 3, "stl_5": 4}[id]] {
			t.Errorf("%s changed: %+v", id, byID[id])
		}
	}
	// One payout alone is altered, not left out.
	if one := injectFaults(items[5:]); len(one) != 3 || one[0].Gross != -10100 {
		t.Errorf("a single payout %+v", one)
	}
}
