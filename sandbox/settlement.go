package sandbox

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// settlementItem is one line of a daily settlement report. It is written
// when the money moves, so a report is a filter, not a computation.
type settlementItem struct {
	ID                string    `json:"id"`
	Type              string    `json:"type"`
	TransactionID     string    `json:"transaction_id"`
	PaymentID         string    `json:"payment_id"`
	MerchantReference string    `json:"merchant_reference"`
	Currency          string    `json:"currency"`
	Gross             int64     `json:"gross"`
	Fee               int64     `json:"fee"`
	Net               int64     `json:"net"`
	OccurredAt        time.Time `json:"occurred_at"`
}

// settlementRow is how an item is stored: the report line plus its channel,
// which the report does not repeat on every line.
type settlementRow struct {
	settlementItem
	Channel string `json:"channel"`
}

type settlementTotal struct {
	Currency string `json:"currency"`
	Count    int    `json:"count"`
	Gross    int64  `json:"gross"`
	Fee      int64  `json:"fee"`
	Net      int64  `json:"net"`
}

type settlementReport struct {
	Object  string            `json:"object"`
	Channel string            `json:"channel"`
	Date    string            `json:"date"`
	Items   []settlementItem  `json:"items"`
	Totals  []settlementTotal `json:"totals"`
	// HasMore is set on a page (limit) that is not the day's last; the next
	// page starts after the last item's id.
	HasMore bool `json:"has_more"`
}

// maxReportLimit bounds a page of a settlement report.
const maxReportLimit = 10000

// settle records a settlement item; net is gross − fee.
func (s *Server) settle(channel, typ, txID, paymentID, ref, currency string, gross, fee int64) error {
	it := &settlementRow{Channel: channel, settlementItem: settlementItem{
		ID: s.newID("stl"), Type: typ, TransactionID: txID, PaymentID: paymentID,
		MerchantReference: ref, Currency: currency, Gross: gross, Fee: fee, Net: gross - fee,
		OccurredAt: s.now(),
	}}
	s.st.settlements[it.ID] = it
	return s.j.put(kindSettlement, it.ID, it)
}

// report builds a channel's settlement report for one UTC day.
func (s *Server) report(channel string, day time.Time) settlementReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to := day, day.AddDate(0, 0, 1)
	rep := settlementReport{Object: "settlement_report", Channel: channel, Date: day.Format(time.DateOnly),
		Items: []settlementItem{}, Totals: []settlementTotal{}}
	for _, it := range s.st.settlements {
		if it.Channel == channel && !it.OccurredAt.Before(from) && it.OccurredAt.Before(to) {
			rep.Items = append(rep.Items, it.settlementItem)
		}
	}
	slices.SortFunc(rep.Items, func(a, b settlementItem) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	if s.reportFaults[channel+"/"+rep.Date] {
		rep.Items = injectFaults(rep.Items)
	}
	totals := map[string]*settlementTotal{}
	for _, it := range rep.Items {
		t, ok := totals[it.Currency]
		if !ok {
			t = &settlementTotal{Currency: it.Currency}
			totals[it.Currency] = t
		}
		t.Count++
		t.Gross += it.Gross
		t.Fee += it.Fee
		t.Net += it.Net
	}
	for _, t := range totals {
		rep.Totals = append(rep.Totals, *t)
	}
	slices.SortFunc(rep.Totals, func(a, b settlementTotal) int { return cmpString(a.Currency, b.Currency) })
	return rep
}

func (s *Server) handleSettlements(channel string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		day, err := time.Parse(time.DateOnly, r.URL.Query().Get("date"))
		if err != nil {
			s.writeError(w, r, invalid("date must be YYYY-MM-DD"))
			return
		}
		rep := s.report(channel, day)
		if err := page(&rep, r.URL.Query().Get("limit"), r.URL.Query().Get("starting_after")); err != nil {
			s.writeError(w, r, err)
			return
		}
		switch r.URL.Query().Get("format") {
		case "", "json":
			writeJSON(w, http.StatusOK, rep)
		case "csv":
			writeReportCSV(w, rep)
		default:
			s.writeError(w, r, invalid("format must be json or csv"))
		}
	}
}

func writeReportCSV(w http.ResponseWriter, rep settlementReport) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+rep.Channel+"-settlement-"+rep.Date+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "type", "transaction_id", "payment_id", "merchant_reference", "currency", "gross", "fee", "net", "occurred_at"})
	for _, it := range rep.Items {
		cw.Write([]string{it.ID, it.Type, it.TransactionID, it.PaymentID, it.MerchantReference, it.Currency,
			strconv.FormatInt(it.Gross, 10), strconv.FormatInt(it.Fee, 10), strconv.FormatInt(it.Net, 10),
			it.OccurredAt.Format(time.RFC3339Nano)})
	}
	cw.Flush()
}

// page cuts rep down to at most limit items after the item startingAfter
// (both optional; no limit is the whole day). Totals stay the whole day's.
func page(rep *settlementReport, limit, startingAfter string) error {
	if startingAfter != "" {
		i := slices.IndexFunc(rep.Items, func(it settlementItem) bool { return it.ID == startingAfter })
		if i < 0 {
			return invalid("starting_after %q is not an item of this report", startingAfter)
		}
		rep.Items = rep.Items[i+1:]
	}
	if limit == "" {
		return nil
	}
	n, err := strconv.Atoi(limit)
	if err != nil || n < 1 || n > maxReportLimit {
		return invalid("limit must be 1 to %d", maxReportLimit)
	}
	if len(rep.Items) > n {
		rep.Items, rep.HasMore = rep.Items[:n], true
	}
	return nil
}

// handleReportFaults turns the injected faults of a channel's report for one
// day on (POST) or off (DELETE): see API.md, "Injected report faults".
func (s *Server) handleReportFaults(channel string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		day, err := time.Parse(time.DateOnly, r.URL.Query().Get("date"))
		if err != nil {
			s.writeError(w, r, invalid("date must be YYYY-MM-DD"))
			return
		}
		key := channel + "/" + day.Format(time.DateOnly)
		s.mu.Lock()
		if r.Method == http.MethodDelete {
			delete(s.reportFaults, key)
		} else {
			s.reportFaults[key] = true
		}
		on := s.reportFaults[key]
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"object": "report_faults", "channel": channel,
			"date": day.Format(time.DateOnly), "enabled": on})
	}
}

// Injected item ids: stable, so that a report with faults reads the same
// each time it is fetched.
const (
	faultUnknownID   = "stl_fault_unknown"
	faultMalformedID = "stl_fault_malformed"
)

// injectFaults returns a day's items with one of each reconciliation fault,
// deterministically: of the positive items (money in) in report order, the
// first has its gross and net raised by 100 (amount mismatch), the second
// another currency (currency mismatch), the third its fee raised by 1 and
// net lowered by 1 (fee mismatch), the fourth appears twice (duplicate), the
// fifth is left out (missing on the channel's side); then an item for a
// payment the merchant never made (missing on the merchant's side) and one
// whose net is not gross − fee and that names no payment (malformed). With
// fewer than five positive items, the faults that need one are skipped.
// Of the money going out: the first payout (a verification deposit is
// one) has its gross and net lowered by 100 (amount mismatch), the last
// payout, when there are two or more, is left out, and so is the first
// chargeback (both missing on the channel's side).
func injectFaults(items []settlementItem) []settlementItem {
	out := make([]settlementItem, 0, len(items)+3)
	firstPayout, lastPayout, firstChargeback := -1, -1, -1
	for i, it := range items {
		switch {
		case it.Type == "payout" && firstPayout < 0:
			firstPayout, lastPayout = i, i
		case it.Type == "payout":
			lastPayout = i
		case it.Type == "chargeback" && firstChargeback < 0:
			firstChargeback = i
		}
	}
	nth, cur := 0, "USD"
	for i, it := range items {
		switch i {
		case firstPayout:
			it.Gross, it.Net = it.Gross-100, it.Net-100
		case lastPayout, firstChargeback:
			continue
		}
		if it.Gross <= 0 || nth >= 5 {
			out = append(out, it)
			continue
		}
		if nth == 0 {
			cur = it.Currency
		}
		switch nth {
		case 0:
			it.Gross, it.Net = it.Gross+100, it.Net+100
		case 1:
			it.Currency = map[bool]string{true: "USD", false: "EUR"}[it.Currency == "EUR"]
		case 2:
			it.Fee, it.Net = it.Fee+1, it.Net-1
		case 3:
			// The same movement listed twice, under a line id of its own.
			dup := it
			dup.ID += "_dup"
			out = append(out, dup)
		}
		nth++
		if nth == 5 {
			continue
		}
		out = append(out, it)
	}
	var at time.Time
	if len(items) > 0 {
		at = items[len(items)-1].OccurredAt
	}
	return append(out,
		settlementItem{ID: faultUnknownID, Type: "capture", TransactionID: "cap_fault_unknown", PaymentID: "cpay_fault_unknown",
			MerchantReference: "att_fault_unknown", Currency: cur, Gross: 1000, Fee: 0, Net: 1000, OccurredAt: at},
		settlementItem{ID: faultMalformedID, Type: "capture", Currency: cur, Gross: 500, Fee: 10, Net: 400, OccurredAt: at})
}
