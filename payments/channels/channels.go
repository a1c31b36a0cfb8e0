// Package channels is the payment core's view of its connectors: what the
// plugin host reports of each (health, circuit, latency) merged with the
// operator's settings (enabled, fees, limits). It keeps those settings, feeds
// routing (Catalog, Health) and FX (RateSource), and knows nothing of HTTP or
// GraphQL.
package channels

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/connectorsetting"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/readcache"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/connectorterms"
)

// Host is what this package needs of the plugin host, in the contract's
// terms (connectors.Status): the payment core never imports connectors/host.
// connectors/host.Manager satisfies it; server/app wires the two.
type Host interface {
	// List returns every installed connector's status, sorted by name.
	List() []connectors.Status
	// Get returns the connector called name.
	Get(name string) (connectors.Connector, bool)
	// SetEnabled turns calls to a connector on or off.
	SetEnabled(name string, enabled bool) error
}

// Connector is what operators see of an installed connector.
type Connector struct {
	Name           string
	Kind           string
	Version        string
	Capabilities   []string
	PaymentMethods []string
	Currencies     []string
	Countries      []string
	Health         connectors.Health
	Circuit        connectors.CircuitState
	Enabled        bool
	Restarts       int
	LastError      string
	// Since is when Health last changed.
	Since time.Time
	// Calls, P50, P99 and ErrorRate describe the latest calls.
	Calls     int
	P50, P99  time.Duration
	ErrorRate float64
	Fees      []connectorterms.Fee
	Limits    []connectorterms.Limit
	// Setting is the operator's stored settings; nil until one was saved.
	Setting *ent.ConnectorSetting
}

// Service reads and changes connector settings.
type Service struct {
	client *ent.Client
	host   Host
	// routed is the settings as routing reads them, on every payment.
	routed *readcache.Value[map[string]*ent.ConnectorSetting]
}

// SettingsTTL is how long the settings read for routing and fees serve
// payments. A change made through this Service applies to the next payment;
// one made through another replica applies here within SettingsTTL.
const SettingsTTL = time.Second

// New returns a Service over the settings in client and the connectors of h.
func New(client *ent.Client, h Host) *Service {
	s := &Service{client: client, host: h}
	s.routed = readcache.New(SettingsTTL, nil, func(ctx context.Context) (map[string]*ent.ConnectorSetting, error) {
		return s.settings(viewer.SystemContext(ctx))
	})
	return s
}

// Catalog returns the routing catalog over this Service's settings, so that
// a change made through the Service reaches routing at once.
func (s *Service) Catalog() *Catalog { return &Catalog{s: s} }

// Connectors returns every installed connector with its settings, sorted by
// name. The viewer in ctx must be an operator or Strait itself.
func (s *Service) Connectors(ctx context.Context) ([]Connector, error) {
	settings, err := s.settings(ctx)
	if err != nil {
		return nil, err
	}
	list := s.host.List()
	out := make([]Connector, 0, len(list))
	for _, st := range list {
		out = append(out, view(st, settings[st.Name]))
	}
	return out, nil
}

// Connector returns the installed connector called name. Returns ENOTFOUND if
// it is not installed.
func (s *Service) Connector(ctx context.Context, name string) (Connector, error) {
	st, err := s.status(name)
	if err != nil {
		return Connector{}, err
	}
	row, err := s.client.ConnectorSetting.Query().Where(connectorsetting.Name(name)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return Connector{}, fmt.Errorf("connector %s settings: %w", name, err)
	}
	return view(st, row), nil
}

// SetEnabled turns routing to an installed connector on or off, stores the
// choice so it survives restarts, and records it in the audit log. A disabled
// connector keeps running: its webhooks and events still arrive. Returns
// ENOTFOUND if the connector is not installed.
func (s *Service) SetEnabled(ctx context.Context, name string, enabled bool) (Connector, error) {
	if _, err := s.status(name); err != nil {
		return Connector{}, err
	}
	action := "connector.disable"
	if enabled {
		action = "connector.enable"
	}
	err := s.save(ctx, name, action, map[string]string{"enabled": strconv.FormatBool(enabled)},
		func(m *ent.ConnectorSettingMutation) { m.SetEnabled(enabled) })
	if err != nil {
		return Connector{}, err
	}
	if err := s.host.SetEnabled(name, enabled); err != nil {
		return Connector{}, fmt.Errorf("connector %s: %w", name, err)
	}
	return s.Connector(ctx, name)
}

// SettingsInput changes a connector's fees and limits. A nil list leaves that
// part unchanged; an empty one clears it.
type SettingsInput struct {
	Name   string
	Fees   []FeeInput
	Limits []LimitInput
}

// FeeInput prices payments in one currency: FixedMinor minor units plus
// BasisPoints (1/100 of a percent) of the amount.
type FeeInput struct {
	Currency    string
	FixedMinor  int64
	BasisPoints int64
}

// LimitInput bounds payment amounts in one currency, in minor units; a nil
// Max means no maximum.
type LimitInput struct {
	Currency string
	Min      int64
	Max      *int64
}

// UpdateSettings validates and stores a connector's fees and limits, and
// records the change in the audit log. Returns ENOTFOUND if the connector is
// not installed, and EINVALID (with the field) for an unknown or repeated
// currency, a negative amount, more than 10000 basis points, or a minimum
// above the maximum.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsInput) (Connector, error) {
	if _, err := s.status(in.Name); err != nil {
		return Connector{}, err
	}
	fees, err := validateFees(in.Fees)
	if err != nil {
		return Connector{}, err
	}
	limits, err := validateLimits(in.Limits)
	if err != nil {
		return Connector{}, err
	}
	details := map[string]string{}
	if in.Fees != nil {
		details["fees"] = describeFees(fees)
	}
	if in.Limits != nil {
		details["limits"] = describeLimits(limits)
	}
	err = s.save(ctx, in.Name, "connector.settings.update", details, func(m *ent.ConnectorSettingMutation) {
		if in.Fees != nil {
			m.SetFees(fees)
		}
		if in.Limits != nil {
			m.SetLimits(limits)
		}
	})
	if err != nil {
		return Connector{}, err
	}
	return s.Connector(ctx, in.Name)
}

// ApplyStored pushes every stored enabled flag to the host, so an operator's
// choice outlives restarts. Strait calls it once the host has started; a
// setting for a connector that is no longer installed is skipped.
func (s *Service) ApplyStored(ctx context.Context) error {
	settings, err := s.settings(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	for _, st := range s.host.List() {
		if row, ok := settings[st.Name]; ok && row.Enabled != st.Enabled {
			if err := s.host.SetEnabled(st.Name, row.Enabled); err != nil {
				return fmt.Errorf("apply settings of %s: %w", st.Name, err)
			}
		}
	}
	return nil
}

// settingEvents are the outbox event types of the settings' audit actions.
var settingEvents = map[string]string{
	"connector.enable":          "connector.enabled",
	"connector.disable":         "connector.disabled",
	"connector.settings.update": "connector.settings_updated",
}

// save creates or updates the settings row of name with change, and audits
// action, in one transaction.
func (s *Service) save(ctx context.Context, name, action string, details map[string]string, change func(*ent.ConnectorSettingMutation)) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("connector %s: begin: %w", name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var id string
	row, err := tx.ConnectorSetting.Query().Where(connectorsetting.Name(name)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		c := tx.ConnectorSetting.Create().SetName(name)
		change(c.Mutation())
		row, err = c.Save(ctx)
		if ent.IsConstraintError(err) {
			return payments.Errorf(payments.ECONFLICT, "the settings of %s changed concurrently; try again", name)
		}
		if err != nil {
			return fmt.Errorf("connector %s: create settings: %w", name, err)
		}
		id = row.ID
	case err != nil:
		return fmt.Errorf("connector %s: read settings: %w", name, err)
	default:
		u := tx.ConnectorSetting.UpdateOne(row)
		change(u.Mutation())
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("connector %s: update settings: %w", name, err)
		}
		id = row.ID
	}
	details["connector"] = name
	// The outbox event tells operators' subscriptions and the events query,
	// in the transaction that makes the change.
	if err := tx.Event.Create().SetType(settingEvents[action]).SetObjectID(name).
		SetData(map[string]any{"connector": name}).Exec(ctx); err != nil {
		return fmt.Errorf("connector %s: outbox: %w", name, err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: action, TargetType: "connector_setting", TargetID: id, Details: details}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("connector %s: commit: %w", name, err)
	}
	s.routed.Invalidate()
	return nil
}

// snapshot is the host's list of connectors without latency figures when it
// can give one (host.Manager.Snapshot), which routing reads per payment.
func snapshot(h Host) []connectors.Status {
	if sh, ok := h.(interface{ Snapshot() []connectors.Status }); ok {
		return sh.Snapshot()
	}
	return h.List()
}

func (s *Service) status(name string) (connectors.Status, error) {
	for _, st := range s.host.List() {
		if st.Name == name {
			return st, nil
		}
	}
	return connectors.Status{}, payments.Errorf(payments.ENOTFOUND, "connector %q is not installed", truncate(name, 64))
}

// settings returns every stored setting by connector name.
func (s *Service) settings(ctx context.Context) (map[string]*ent.ConnectorSetting, error) {
	rows, err := s.client.ConnectorSetting.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("connector settings: %w", err)
	}
	out := make(map[string]*ent.ConnectorSetting, len(rows))
	for _, r := range rows {
		out[r.Name] = r
	}
	return out, nil
}

func view(st connectors.Status, row *ent.ConnectorSetting) Connector {
	c := Connector{
		Name: st.Name, Kind: string(st.Kind), Version: st.Version,
		Capabilities:   make([]string, len(st.Capabilities)),
		PaymentMethods: nonNil(st.PaymentMethods), Currencies: nonNil(st.Currencies), Countries: nonNil(st.Countries),
		Health: st.Health, Circuit: st.Circuit, Enabled: st.Enabled, Restarts: st.Restarts, LastError: st.LastError,
		Since: st.Since, Calls: st.Calls, P50: st.P50, P99: st.P99, ErrorRate: st.ErrorRate,
		Fees: []connectorterms.Fee{}, Limits: []connectorterms.Limit{}, Setting: row,
	}
	for i, cp := range st.Capabilities {
		c.Capabilities[i] = string(cp)
	}
	if row != nil {
		c.Fees = append(c.Fees, row.Fees...)
		c.Limits = append(c.Limits, row.Limits...)
	}
	return c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
