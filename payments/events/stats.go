package events

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// Stats are a merchant's payments created in a window.
type Stats struct {
	Payments, Succeeded, Failed int
	// GrossVolume is what succeeded, per currency, sorted by code.
	GrossVolume []money.Amount
	// latencySum is the summed time from creation to the last change of the
	// payments that finished (succeeded or failed).
	latencySum time.Duration
	At         time.Time
}

// SuccessRate is Succeeded / (Succeeded + Failed); 0 when none finished.
func (s Stats) SuccessRate() float64 {
	if s.Succeeded+s.Failed == 0 {
		return 0
	}
	return float64(s.Succeeded) / float64(s.Succeeded+s.Failed)
}

// AverageLatencyMs is the mean time from creation to the last change of
// the payments that finished, in milliseconds; 0 when none finished.
func (s Stats) AverageLatencyMs() float64 {
	if s.Succeeded+s.Failed == 0 {
		return 0
	}
	return float64(s.latencySum.Microseconds()) / 1000 / float64(s.Succeeded+s.Failed)
}

// statsRowCap bounds the rows one computation reads: a window with more
// payments than this is counted from its newest ones (a dashboard figure,
// not a report; merchantReport is the exact one).
const statsRowCap = 20000

// ComputeStats counts merchantID's payments created in (now-window, now].
func ComputeStats(ctx context.Context, client *ent.Client, merchantID string, window time.Duration, now time.Time) (Stats, error) {
	st := Stats{At: now}
	rows, err := client.Payment.Query().
		Where(payment.MerchantID(merchantID), payment.CreatedAtGT(now.Add(-window))).
		Order(ent.Desc(payment.FieldID)).Limit(statsRowCap).
		Select(payment.FieldStatus, payment.FieldCurrency, payment.FieldAmountCaptured, payment.FieldCreatedAt, payment.FieldUpdatedAt).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	volume := map[string]int64{}
	for _, p := range rows {
		st.Payments++
		switch p.Status {
		case paymentstatus.Succeeded:
			st.Succeeded++
			volume[p.Currency] += p.AmountCaptured
		case paymentstatus.Failed:
			st.Failed++
		default:
			continue
		}
		st.latencySum += p.UpdatedAt.Sub(p.CreatedAt)
	}
	for code, minor := range volume {
		a, err := money.New(minor, code)
		if err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		st.GrossVolume = append(st.GrossVolume, a)
	}
	sort.Slice(st.GrossVolume, func(i, j int) bool {
		return st.GrossVolume[i].Currency.Code() < st.GrossVolume[j].Currency.Code()
	})
	return st, nil
}
