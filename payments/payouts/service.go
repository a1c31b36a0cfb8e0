package payouts

import (
	"log/slog"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
)

// Connectors finds a connector by name.
type Connectors interface {
	Get(name string) (connectors.Connector, bool)
}

// Config holds a Service's dependencies and settings; zero settings get
// the defaults documented on each.
type Config struct {
	Client     *ent.Client
	Dialect    string
	Ledger     *ledger.Ledger
	FX         *fx.Service
	Connectors Connectors
	// Connector is the bank connector payouts go through; "bank" if empty.
	Connector string
	// CallTimeout bounds one bank call; 30 s if zero.
	CallTimeout time.Duration
	// Retry is how long a payout whose call's outcome is unknown waits
	// before the same call is made again with the same key; 30 s if zero.
	Retry time.Duration
	Log   *slog.Logger
	Now   func() time.Time
}

// Service keeps bank accounts, payouts and payout schedules.
type Service struct {
	cfg    Config
	client *ent.Client
	ledger *ledger.Ledger
}

// New returns a payout service.
func New(cfg Config) *Service {
	if cfg.Connector == "" {
		cfg.Connector = "bank"
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.Retry == 0 {
		cfg.Retry = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, client: cfg.Client, ledger: cfg.Ledger}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) connector() (connectors.Connector, error) {
	if s.cfg.Connectors != nil {
		if c, ok := s.cfg.Connectors.Get(s.cfg.Connector); ok {
			return c, nil
		}
	}
	return nil, payments.Errorf(payments.EUNAVAILABLE, "the bank connector %s is not available", s.cfg.Connector)
}
