package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/straitpay/strait/payments/positions"
	"github.com/straitpay/strait/payments/schedule"
)

// positionsInterval is how often one replica checks the channel positions
// (docs/settlement.md#channel-positions).
const positionsInterval = 5 * time.Minute

// closeInterval is how often one replica looks for days to close; a day
// closes within this of its midnight.
const closeInterval = 5 * time.Minute

// startClosing starts the channel position checks and, with
// STRAIT_CLOSE_TIMEZONE set, the scheduled day-end close.
func (a *App) startClosing(ctx context.Context) {
	a.goBackground(func() { a.Positions.RunScheduler(ctx, positionsInterval, a.Replica) })
	tz := a.Config.CloseTimezone
	if tz == "" {
		return
	}
	if _, err := time.LoadLocation(tz); err != nil {
		a.Log.Error("STRAIT_CLOSE_TIMEZONE is not a timezone: no scheduled close", "timezone", tz, "err", err)
		return
	}
	log := a.Log.With("component", "close")
	a.goBackground(func() {
		schedule.Every(ctx, a.DB.Client, "day_close", a.Replica, closeInterval, a.now, log, func(ctx context.Context) error {
			closed, err := a.Ledger.CloseDue(ctx, tz)
			for _, dc := range closed {
				log.Info("day closed", "day", dc.Day, "timezone", dc.Timezone, "entries", dc.Entries, "accounts", dc.Accounts)
			}
			return err
		})
	})
}

// positionsCollector exports the last recorded channel position check:
// each position's drift (minor units), whether it is alerting, and the
// alerts this process raised.
type positionsCollector struct {
	metrics                 func() []positions.Metric
	drift, alerting, alerts *prometheus.Desc
}

func newPositionsCollector(m func() []positions.Metric) *positionsCollector {
	labels := []string{"connector", "currency"}
	return &positionsCollector{metrics: m,
		drift:    prometheus.NewDesc("strait_channel_position_drift_minor", "A channel's reported balance plus the ledger's receivable, in minor units, at the last check.", labels, nil),
		alerting: prometheus.NewDesc("strait_channel_position_alerting", "1 while a channel position's drift is beyond its threshold.", labels, nil),
		alerts:   prometheus.NewDesc("strait_channel_position_alerts_total", "Drift alerts raised by this process.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *positionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.drift
	ch <- c.alerting
	ch <- c.alerts
}

// Collect implements prometheus.Collector.
func (c *positionsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics() {
		cur := m.Currency.Code()
		if m.Drift != nil {
			ch <- prometheus.MustNewConstMetric(c.drift, prometheus.GaugeValue, float64(m.Drift.Minor), m.Connector, cur)
		}
		alerting := 0.0
		if m.Alerting {
			alerting = 1
		}
		ch <- prometheus.MustNewConstMetric(c.alerting, prometheus.GaugeValue, alerting, m.Connector, cur)
		ch <- prometheus.MustNewConstMetric(c.alerts, prometheus.CounterValue, float64(m.Alerts), m.Connector, cur)
	}
}
