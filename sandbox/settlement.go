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
}

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
