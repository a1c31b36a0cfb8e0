// Package recon reconciles each connector's daily settlement report against
// Strait's records (docs/settlement.md, "Reconciliation").
//
// A run streams the report of one connector and one business day (UTC) page
// by page, so its memory does not grow with the report. For each page it
// reads the records the page's lines name (attempts, refunds, disputes,
// payouts and bank accounts' verification deposits, by the channel's
// references), decides every line's class with a pure
// function (decide: lines and rows in, writes out) and applies the writes
// in one transaction (apply): the lines as classified, a discrepancy for
// each difference, and one ledger entry per currency moving the matched
// lines from the channel's receivable into the platform's cash. After the
// last page, the records of the day that no line named (what Strait booked
// on the channel's receivable, the payouts the bank took, the chargebacks
// held) become "missing on theirs" discrepancies.
//
// A run reports its progress as run events (payments/runs, kind
// reconciliation) under its own ID, followed with runUpdated.
//
// A run is unique per connector and day. Running a day again walks the
// report again into the same run: lines already recorded are not decided
// again, so nothing posts twice and the counts come out the same.
package recon

import (
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/ledger"
)

// Class is what reconciliation found of a report line, or of a record.
type Class string

// Classes. Every line gets exactly one; MissingTheirs is a record's.
const (
	// Matched: the line names a record, and its currency, gross and fee are
	// the record's.
	Matched Class = "matched"
	// MissingOurs: the line names nothing Strait has a record of.
	MissingOurs Class = "missing_ours"
	// MissingTheirs: a record of the day that no line of the report
	// names: a capture, refund or verification deposit Strait booked on the
	// channel's receivable that day, a payout the bank took that day, a
	// chargeback Strait held that day.
	MissingTheirs Class = "missing_theirs"
	// AmountMismatch: the line's gross differs from the record's.
	AmountMismatch Class = "amount_mismatch"
	// CurrencyMismatch: the line's currency differs from the record's.
	CurrencyMismatch Class = "currency_mismatch"
	// FeeMismatch: the line's fee differs from the channel fee Strait
	// expected (the payment's fee_amount, a dispute's fee, 0 on a refund).
	FeeMismatch Class = "fee_mismatch"
	// Duplicate: the line repeats a movement (type and channel id) that an
	// earlier line of the report already listed.
	Duplicate Class = "duplicate"
	// Malformed: the line cannot be read: no type, no id of any kind, an
	// unknown currency, amounts in mixed currencies or units, or a net that
	// is not gross − fee.
	Malformed Class = "malformed"
)

// Classes returns every class, in a stable order.
func Classes() []Class {
	return []Class{Matched, MissingOurs, MissingTheirs, AmountMismatch, CurrencyMismatch, FeeMismatch, Duplicate, Malformed}
}

// SourceRecon is the ledger source type of settlement received from a
// channel; SourceAdjustment that of a discrepancy's adjusting entry.
const (
	SourceRecon      = "recon"
	SourceAdjustment = "recon_adjustment"
)

// DefaultPageSize is how many report lines a run asks for, decides and
// writes at a time.
const DefaultPageSize = 1000

// DefaultLease is how long a replica holds a run between pages: a replica
// that dies mid-run leaves it to another once the lease is out.
const DefaultLease = 5 * time.Minute

// Connectors finds connectors by name and lists them (the plugin host's
// Manager, or fakes in tests).
type Connectors interface {
	Get(name string) (connectors.Connector, bool)
	List() []connectors.Status
}

// Config holds a Service's dependencies. Zero settings get the defaults.
type Config struct {
	Client     *ent.Client
	Ledger     *ledger.Ledger
	Connectors Connectors
	// PageSize is how many lines a page holds (DefaultPageSize).
	PageSize int
	// Lease bounds a run's hold between pages (DefaultLease).
	Lease time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Service runs reconciliations and resolves their discrepancies.
type Service struct {
	cfg Config
}

// NewService returns a Service.
func NewService(cfg Config) *Service {
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	cfg.PageSize = min(cfg.PageSize, connectors.MaxSettlementPageSize)
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Run is a reconciliation run as the API shows it.
type Run struct {
	ID           string
	Connector    string
	BusinessDate string
	Status       string // RUNNING, SUCCEEDED, FAILED
	// LinesRead is the progress: report lines reconciled so far.
	LinesRead  int64
	Counts     map[Class]int64
	Error      string
	StartedAt  time.Time
	FinishedAt *time.Time
}

func runOf(r *ent.ReconciliationRun) *Run {
	out := &Run{ID: r.ID, Connector: r.Connector, BusinessDate: r.BusinessDate, Status: string(r.Status),
		LinesRead: r.LinesRead, Error: r.Error, StartedAt: r.CreatedAt, FinishedAt: r.FinishedAt, Counts: map[Class]int64{}}
	for _, c := range Classes() {
		out.Counts[c] = r.Counts[string(c)]
	}
	return out
}
