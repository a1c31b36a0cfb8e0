package positions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/channelposition"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/viewer"
)

// EventDrift is the platform event raised when a position's drift goes
// beyond its threshold.
const EventDrift = "channel.position_drift"

// DefaultTimeout bounds one connector's QueryBalance.
const DefaultTimeout = 5 * time.Second

// Host is what the service needs of the connector supervisor
// (connectors/host.Manager satisfies it).
type Host interface {
	List() []connectors.Status
	Get(name string) (connectors.Connector, bool)
}

// Config configures a Service.
type Config struct {
	// Timeout bounds each connector's QueryBalance (default DefaultTimeout).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives the alert lines (default slog.Default()).
	Log *slog.Logger
}

// Service reads channel positions and records the scheduled checks.
type Service struct {
	client *ent.Client
	host   Host
	cfg    Config

	mu     sync.Mutex
	last   []Position
	alerts map[Key]int64 // alerts raised by this process, for /metrics
}

// NewService returns a Service over client and the connectors of host.
func NewService(client *ent.Client, host Host, cfg Config) *Service {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Service{client: client, host: host, cfg: cfg, alerts: map[Key]int64{}}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Positions asks every connector for its balance and compares it with the
// ledger, writing nothing: the live view. A connector that fails or does
// not answer within the timeout shows its error; the others answer.
func (s *Service) Positions(ctx context.Context) ([]Position, error) {
	p, _, err := s.plan(ctx)
	return p.Positions, err
}

// Check is Positions recorded: each position's row is updated with what
// was seen, and each position whose drift has just gone beyond its
// threshold raises an alert: a log line, the alert count in the metrics
// and a channel.position_drift event written with the row.
func (s *Service) Check(ctx context.Context) ([]Position, error) {
	p, rows, err := s.plan(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, p, rows); err != nil {
		return nil, err
	}
	return p.Positions, nil
}

func (s *Service) plan(ctx context.Context) (Plan, map[Key]*ent.ChannelPosition, error) {
	sys := viewer.SystemContext(ctx)
	reports := s.query(ctx)
	accs, err := s.client.LedgerAccount.Query().
		Where(ledgeraccount.OwnerTypeEQ(ledgeraccount.OwnerTypeCHANNEL), ledgeraccount.KindEQ(ledgeraccount.KindRECEIVABLE)).All(sys)
	if err != nil {
		return Plan{}, nil, fmt.Errorf("positions: receivables: %w", err)
	}
	receivables := map[Key]int64{}
	for _, a := range accs {
		c, err := money.ParseCurrency(a.Currency)
		if err != nil {
			return Plan{}, nil, err
		}
		receivables[Key{a.OwnerID, c}] = a.Balance
	}
	rows, err := s.client.ChannelPosition.Query().All(sys)
	if err != nil {
		return Plan{}, nil, fmt.Errorf("positions: stored: %w", err)
	}
	stored := map[Key]Stored{}
	byKey := map[Key]*ent.ChannelPosition{}
	for _, r := range rows {
		c, err := money.ParseCurrency(r.Currency)
		if err != nil {
			return Plan{}, nil, err
		}
		k := Key{r.Connector, c}
		stored[k] = Stored{Threshold: r.Threshold, Alerting: r.Alerting}
		byKey[k] = r
	}
	return Compare(reports, receivables, stored, s.now()), byKey, nil
}

// query calls QueryBalance on every installed connector that reports
// balances, concurrently, each bounded by the timeout. A connector without
// the capability, or down, gets an error without being called.
func (s *Service) query(ctx context.Context) []Report {
	list := s.host.List()
	out := make([]Report, len(list))
	var wg sync.WaitGroup
	for i, st := range list {
		out[i].Connector = st.Name
		switch {
		case !hasBalance(st):
			out[i].Err = "the connector does not report balances"
			continue
		case st.Health == connectors.HealthDown:
			out[i].Err = "the connector is down"
			continue
		}
		c, ok := s.host.Get(st.Name)
		if !ok {
			out[i].Err = "connector is not installed"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.ask(ctx, st.Name, c)
		}()
	}
	wg.Wait()
	return out
}

func hasBalance(st connectors.Status) bool {
	for _, c := range st.Capabilities {
		if c == connectors.CapBalance {
			return true
		}
	}
	return false
}

// ask calls one connector. The call runs in its own goroutine so that a
// connector that ignores its deadline still cannot hold the view.
func (s *Service) ask(ctx context.Context, name string, c connectors.Connector) Report {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	type answer struct {
		resp connectors.BalanceResponse
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := c.QueryBalance(ctx, connectors.BalanceRequest{})
		done <- answer{resp, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		return Report{Connector: name, Err: "no answer within " + s.cfg.Timeout.String()}
	}
	if a.err != nil {
		msg := a.err.Error()
		if errors.Is(a.err, context.DeadlineExceeded) {
			msg = "no answer within " + s.cfg.Timeout.String()
		}
		return Report{Connector: name, Err: trim(msg)}
	}
	if a.resp.Result.Outcome != connectors.OutcomeApproved {
		return Report{Connector: name, Err: trim("the channel answered " + a.resp.Result.Outcome.String() + ": " + a.resp.Result.Message)}
	}
	r := Report{Connector: name, Balances: map[money.Currency]Balance{}}
	for _, b := range a.resp.Balances {
		c, err := money.ParseCurrency(b.Available.Currency)
		if err != nil {
			return Report{Connector: name, Err: trim("the channel reported " + err.Error())}
		}
		avail, err1 := inTable(b.Available)
		pend, err2 := inTable(b.Pending)
		if err := errors.Join(err1, err2); err != nil {
			return Report{Connector: name, Err: trim("the channel reported " + err.Error())}
		}
		r.Balances[c] = Balance{Available: avail, Pending: pend}
	}
	return r
}

// inTable returns m in Strait's minor units (docs/money.md); a zero
// amount with no currency is zero.
func inTable(m connectors.Money) (int64, error) {
	if m.Minor == 0 {
		return 0, nil
	}
	e, ok := connectors.TableExponent(m.Currency)
	if !ok {
		return 0, fmt.Errorf("unknown currency %q", m.Currency)
	}
	return m.In(e)
}

func trim(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}

// record writes the check into the positions' rows and raises its alerts.
// Each position's row and its alert event commit together.
func (s *Service) record(ctx context.Context, p Plan, rows map[Key]*ent.ChannelPosition) error {
	sys := viewer.SystemContext(ctx)
	alert := map[Key]bool{}
	for _, a := range p.Alerts {
		alert[a.Key] = true
	}
	for _, pos := range p.Positions {
		tx, err := s.client.Tx(sys)
		if err != nil {
			return err
		}
		if err := s.recordOne(sys, tx, pos, rows[pos.Key], alert[pos.Key]); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("positions: record %s %s: %w", pos.Connector, pos.Currency.Code(), err)
		}
		if alert[pos.Key] {
			s.raised(pos)
		}
	}
	s.mu.Lock()
	s.last = p.Positions
	s.mu.Unlock()
	return nil
}

func (s *Service) recordOne(ctx context.Context, tx *ent.Tx, pos Position, row *ent.ChannelPosition, alert bool) error {
	var reported, drift int64
	if pos.Reported != nil {
		reported, drift = pos.Reported.Minor, pos.Drift.Minor
	}
	var err error
	if row == nil {
		err = tx.ChannelPosition.Create().SetConnector(pos.Connector).SetCurrency(pos.Currency.Code()).
			SetReported(reported).SetLedger(pos.Ledger.Minor).SetDrift(drift).SetError(pos.Error).
			SetAlerting(pos.Alerting).SetCheckedAt(pos.CheckedAt).Exec(ctx)
	} else {
		err = tx.ChannelPosition.UpdateOneID(row.ID).SetReported(reported).SetLedger(pos.Ledger.Minor).SetDrift(drift).
			SetError(pos.Error).SetAlerting(pos.Alerting).SetCheckedAt(pos.CheckedAt).Exec(ctx)
	}
	if ent.IsConstraintError(err) {
		return nil // another replica's check recorded it first
	}
	if err != nil {
		return fmt.Errorf("positions: record %s %s: %w", pos.Connector, pos.Currency.Code(), err)
	}
	if !alert {
		return nil
	}
	err = tx.Event.Create().SetType(EventDrift).SetObjectID(pos.Connector).SetData(map[string]any{
		"connector": pos.Connector, "currency": pos.Currency.Code(),
		"reported": pos.Reported.Minor, "ledger": pos.Ledger.Minor, "drift": pos.Drift.Minor,
		"threshold": pos.Threshold.Minor, "checked_at": pos.CheckedAt,
	}).SetCreatedAt(pos.CheckedAt).Exec(ctx)
	if err != nil {
		return fmt.Errorf("positions: drift event: %w", err)
	}
	return nil
}

func (s *Service) raised(pos Position) {
	s.mu.Lock()
	s.alerts[pos.Key]++
	s.mu.Unlock()
	s.cfg.Log.Warn("channel position drift beyond its threshold", "connector", pos.Connector, "currency", pos.Currency.Code(),
		"reported", pos.Reported.Decimal(), "ledger", pos.Ledger.Decimal(), "drift", pos.Drift.Decimal(), "threshold", pos.Threshold.Decimal())
}

// Metric is one position as /metrics shows it: from this process's last
// recorded check, and the alerts it raised.
type Metric struct {
	Key
	Drift    *money.Amount
	Alerting bool
	Alerts   int64
}

// Metrics returns the last recorded check's positions and the alert
// counts of this process.
func (s *Service) Metrics() []Metric {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Metric, 0, len(s.last))
	for _, p := range s.last {
		out = append(out, Metric{Key: p.Key, Drift: p.Drift, Alerting: p.Alerting, Alerts: s.alerts[p.Key]})
	}
	return out
}

// SetThreshold sets the drift beyond which connector's position in
// currency raises an alert (nil: never). It returns EINVALID for an
// unknown currency or a negative threshold, ENOTFOUND for a connector that
// is not installed.
func (s *Service) SetThreshold(ctx context.Context, connector, currency string, threshold *money.Amount) (*money.Amount, error) {
	c, err := money.ParseCurrency(currency)
	if err != nil {
		return nil, payments.FieldErrorf("currency", "unknown currency %q", currency)
	}
	if _, ok := s.host.Get(connector); !ok {
		return nil, payments.Errorf(payments.ENOTFOUND, "connector %q is not installed", connector)
	}
	var minor *int64
	if threshold != nil {
		if threshold.Currency != c {
			return nil, payments.FieldErrorf("threshold", "the threshold is in %s, the position in %s", threshold.Currency, c)
		}
		if threshold.Minor < 0 {
			return nil, payments.FieldErrorf("threshold", "the threshold must not be negative")
		}
		minor = &threshold.Minor
	}
	sys := viewer.SystemContext(ctx)
	err = s.client.ChannelPosition.Create().SetConnector(connector).SetCurrency(c.Code()).SetNillableThreshold(minor).
		OnConflictColumns(channelposition.FieldConnector, channelposition.FieldCurrency).
		Update(func(u *ent.ChannelPositionUpsert) {
			if minor == nil {
				u.ClearThreshold()
			} else {
				u.SetThreshold(*minor)
			}
			u.UpdateUpdatedAt()
		}).Exec(sys)
	if err != nil {
		return nil, fmt.Errorf("positions: set threshold: %w", err)
	}
	return threshold, nil
}

// RunScheduler checks the positions every interval until ctx ends, on the
// replica that claims the interval (holder names this one).
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration, holder string) {
	schedule.Every(ctx, s.client, "channel_positions", holder, interval, s.cfg.Now, s.cfg.Log, func(ctx context.Context) error {
		_, err := s.Check(ctx)
		return err
	})
}
