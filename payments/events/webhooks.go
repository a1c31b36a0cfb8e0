package events

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/webhookdelivery"
	"github.com/straitpay/strait/ent/webhookendpoint"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// SecretOverlap is how long a rotated secret keeps signing beside the new
// one, so a merchant can deploy the new secret without missing a delivery.
const SecretOverlap = 24 * time.Hour

// maxEventTypes bounds an endpoint's event type list.
const maxEventTypes = 50

// WebhookConfig configures Webhooks; zero values get the defaults.
type WebhookConfig struct {
	Client *ent.Client
	// Dialect is the database's (ent's dialect name); MySQL locks rows.
	Dialect string
	Log     *slog.Logger
	Now     func() time.Time
	Policy  TargetPolicy
	// Keys is the vault's KEK ring (STRAIT_VAULT_KEYS): endpoint secrets
	// are sealed under it at rest. Without it endpoints cannot be created
	// or rotated (EUNAVAILABLE), and only secrets still in clear sign.
	Keys *vault.KeyRing
	// Schedule is the wait before each attempt after the first failure,
	// (default RetrySchedule); Jitter spreads each wait by up to ±this
	// fraction (default 0.1) so a receiver coming back is not hit by every
	// retry in the same second.
	Schedule []time.Duration
	Jitter   float64
	// PerEndpoint bounds the deliveries in flight to one endpoint on one
	// replica (default 4), so one slow receiver holds only its own slots;
	// Workers bounds them all (default 32).
	PerEndpoint int
	Workers     int
	// Timeout bounds one delivery (default 15 s); Lease is how long a
	// replica holds a delivery it sends (default 60 s, well past Timeout).
	Timeout time.Duration
	Lease   time.Duration
	// Poll is how often an idle sender looks for due deliveries (default 500 ms).
	Poll time.Duration
}

// RetrySchedule is when a delivery is attempted: at once, then after each
// failure 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later
// (about three days in all), then it fails for good.
var RetrySchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// Webhooks manages merchants' endpoints and sends their deliveries.
type Webhooks struct {
	cfg    WebhookConfig
	client *ent.Client
	http   *http.Client
	wake   schedule.Waker
	mu     sync.Mutex
	busy   map[string]int // deliveries in flight per endpoint, this replica
	rec    outcomeQueue
	// secrets holds endpoint secrets opened from their sealed form, keyed
	// by endpoint and sealed text: a rotation changes the text, so a stale
	// entry is never used.
	secrets secretCache
	// afterPost, when set (tests), runs after each POST; true drops the
	// outcome unwritten, as a crash there would.
	afterPost func(*ent.WebhookDelivery) bool
}

// NewWebhooks returns the webhook service; Run starts its sender.
func NewWebhooks(cfg WebhookConfig) *Webhooks {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Schedule == nil {
		cfg.Schedule = RetrySchedule
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.PerEndpoint == 0 {
		cfg.PerEndpoint = 4
	}
	if cfg.Workers == 0 {
		cfg.Workers = 32
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Lease == 0 {
		cfg.Lease = 60 * time.Second
	}
	if cfg.Poll == 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	hc := cfg.Policy.HTTPClient(cfg.Timeout)
	// Keep a connection for every delivery that may be in flight: receivers
	// often share a host, and a new connection per delivery costs more than
	// the delivery.
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = max(16, cfg.Workers)
	return &Webhooks{cfg: cfg, client: cfg.Client, http: hc,
		wake: schedule.NewWaker(), busy: map[string]int{}}
}

// EndpointInput describes a new endpoint.
type EndpointInput struct {
	URL         string
	Description string
	EventTypes  []string
}

func newSecret() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:]), nil
}

func checkTypes(types []string) error {
	if len(types) > maxEventTypes {
		return payments.FieldErrorf("eventTypes", "at most %d event types", maxEventTypes)
	}
	for _, t := range types {
		if t == "" || len(t) > 64 || strings.ContainsAny(t, " *") {
			return payments.FieldErrorf("eventTypes", "event types are exact types (payment.succeeded) or prefixes ending in a dot (payment.)")
		}
	}
	return nil
}

// CreateEndpoint adds an endpoint for the caller's merchant and returns it
// with its secret, shown this once. Returns EINVALID for a URL the target
// policy refuses or bad event types.
func (w *Webhooks) CreateEndpoint(ctx context.Context, in EndpointInput) (*ent.WebhookEndpoint, string, error) {
	if len(in.Description) > 200 {
		return nil, "", payments.FieldErrorf("description", "description must be at most 200 characters")
	}
	if err := checkTypes(in.EventTypes); err != nil {
		return nil, "", err
	}
	if len(in.URL) > 2048 {
		return nil, "", payments.FieldErrorf("url", "url must be at most 2048 characters")
	}
	if err := w.cfg.Policy.CheckURL(ctx, in.URL); err != nil {
		return nil, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	// The id first: the sealed secret is bound to its endpoint.
	id := pulid.New("we")
	sealed, err := w.seal(id, secret)
	if err != nil {
		return nil, "", err
	}
	v, _ := viewer.FromContext(ctx)
	e, err := store.WithTx(ctx, w.client, func(tx *ent.Tx) (*ent.WebhookEndpoint, error) {
		e, err := tx.WebhookEndpoint.Create().SetID(id).SetMerchantID(v.MerchantID).SetURL(in.URL).
			SetDescription(in.Description).SetEventTypes(in.EventTypes).SetSecret(sealed).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("create webhook endpoint: %w", err)
		}
		return e, audit.Record(ctx, tx, audit.Entry{MerchantID: e.MerchantID, Action: "webhook_endpoint.create", TargetType: "webhook_endpoint", TargetID: e.ID})
	})
	return e, secret, err
}

// endpointTx runs change on the caller's endpoint id in a transaction,
// audited as action. Returns ENOTFOUND for an endpoint the caller cannot see.
func (w *Webhooks) endpointTx(ctx context.Context, id, action string, change func(tx *ent.Tx, e *ent.WebhookEndpoint) (*ent.WebhookEndpoint, error)) (*ent.WebhookEndpoint, error) {
	return store.WithTx(ctx, w.client, func(tx *ent.Tx) (*ent.WebhookEndpoint, error) {
		q := tx.WebhookEndpoint.Query().Where(webhookendpoint.ID(id))
		if w.cfg.Dialect == dialect.MySQL {
			q = q.ForUpdate() // two rotations at once must not lose a secret
		}
		e, err := q.Only(ctx)
		if ent.IsNotFound(err) {
			return nil, payments.Errorf(payments.ENOTFOUND, "webhook endpoint %q not found", clip(id, 64))
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", action, id, err)
		}
		if e, err = change(tx, e); err != nil {
			return nil, err
		}
		return e, audit.Record(ctx, tx, audit.Entry{MerchantID: e.MerchantID, Action: action, TargetType: "webhook_endpoint", TargetID: e.ID})
	})
}

// UpdateEndpoint changes an endpoint's description and, when types is not
// nil, its event types.
func (w *Webhooks) UpdateEndpoint(ctx context.Context, id string, description *string, types []string) (*ent.WebhookEndpoint, error) {
	if description != nil && len(*description) > 200 {
		return nil, payments.FieldErrorf("description", "description must be at most 200 characters")
	}
	if err := checkTypes(types); err != nil {
		return nil, err
	}
	return w.endpointTx(ctx, id, "webhook_endpoint.update", func(tx *ent.Tx, e *ent.WebhookEndpoint) (*ent.WebhookEndpoint, error) {
		u := e.Update().SetNillableDescription(description)
		if types != nil {
			u.SetEventTypes(types)
		}
		return u.Save(ctx)
	})
}

// never is when the deliveries of a disabled endpoint are due: not until
// it is enabled again, which makes them due at once.
var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// SetEnabled enables or disables an endpoint. A disabled endpoint keeps
// its pending deliveries; enabling it makes them due at once.
func (w *Webhooks) SetEnabled(ctx context.Context, id string, enabled bool) (*ent.WebhookEndpoint, error) {
	action := "webhook_endpoint.disable"
	if enabled {
		action = "webhook_endpoint.enable"
	}
	return w.endpointTx(ctx, id, action, func(tx *ent.Tx, e *ent.WebhookEndpoint) (*ent.WebhookEndpoint, error) {
		return w.setStatus(ctx, tx, e, enabled, "disabled by the merchant")
	})
}

func (w *Webhooks) setStatus(ctx context.Context, tx *ent.Tx, e *ent.WebhookEndpoint, enabled bool, reason string) (*ent.WebhookEndpoint, error) {
	due := never
	status, why := webhookendpoint.StatusDISABLED, reason
	if enabled {
		due, status, why = w.cfg.Now(), webhookendpoint.StatusENABLED, ""
	}
	if err := tx.WebhookDelivery.Update().
		Where(webhookdelivery.EndpointID(e.ID), webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING)).
		SetNextAttemptAt(due).Exec(viewer.SystemContext(ctx)); err != nil {
		return nil, fmt.Errorf("endpoint %s deliveries: %w", e.ID, err)
	}
	return tx.WebhookEndpoint.UpdateOne(e).SetStatus(status).SetDisabledReason(why).Save(viewer.SystemContext(ctx))
}

// RotateSecret gives an endpoint a new secret, returned this once; the old
// one keeps signing beside it for SecretOverlap.
func (w *Webhooks) RotateSecret(ctx context.Context, id string) (*ent.WebhookEndpoint, string, error) {
	secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	sealed, err := w.seal(id, secret)
	if err != nil {
		return nil, "", err
	}
	e, err := w.endpointTx(ctx, id, "webhook_endpoint.rotate_secret", func(tx *ent.Tx, e *ent.WebhookEndpoint) (*ent.WebhookEndpoint, error) {
		// The old secret signs on for the overlap, sealed like the new one
		// (a secret stored before sealing existed is sealed now).
		prev := e.Secret
		if !vault.IsSealed(prev) {
			if prev, err = w.seal(e.ID, prev); err != nil {
				return nil, err
			}
		}
		return e.Update().SetPreviousSecret(prev).SetPreviousSecretExpiresAt(w.cfg.Now().Add(SecretOverlap)).
			SetSecret(sealed).Save(ctx)
	})
	if err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// Redeliver makes a delivery due now, whatever its state (a merchant
// replaying one after fixing its receiver); its attempts restart.
// Returns ENOTFOUND for a delivery the caller cannot see.
func (w *Webhooks) Redeliver(ctx context.Context, id string) (*ent.WebhookDelivery, error) {
	d, err := w.client.WebhookDelivery.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "webhook delivery %q not found", clip(id, 64))
	}
	if err != nil {
		return nil, err
	}
	d, err = d.Update().SetStatus(webhookdelivery.StatusPENDING).SetAttempts(0).
		SetNextAttemptAt(w.cfg.Now()).ClearLeasedUntil().ClearDeliveredAt().Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("redeliver %s: %w", id, err)
	}
	w.Wake()
	return d, nil
}

// Enqueue writes, in tx, one delivery per event and enabled endpoint that
// wants it. It is the relay's OnAssign: deliveries exist exactly when their
// events are numbered, and the unique (endpoint, event) index keeps a
// second write from making a second delivery.
func (w *Webhooks) Enqueue(ctx context.Context, tx *ent.Tx, evs []*ent.Event) error {
	var merchants []string
	for _, e := range evs {
		if e.MerchantID != "" && !slices.Contains(merchants, e.MerchantID) {
			merchants = append(merchants, e.MerchantID)
		}
	}
	if len(merchants) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	eps, err := tx.WebhookEndpoint.Query().
		Where(webhookendpoint.MerchantIDIn(merchants...), webhookendpoint.StatusEQ(webhookendpoint.StatusENABLED)).All(sys)
	if err != nil || len(eps) == 0 {
		return err
	}
	now := w.cfg.Now()
	var rows []*ent.WebhookDeliveryCreate
	for _, e := range evs {
		for _, ep := range eps {
			if ep.MerchantID == e.MerchantID && (Filter{Types: ep.EventTypes}).match(Message{Type: e.Type}) {
				rows = append(rows, tx.WebhookDelivery.Create().SetMerchantID(e.MerchantID).SetEndpointID(ep.ID).
					SetEventID(e.ID).SetEventType(e.Type).SetNextAttemptAt(now))
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	// In chunks: SQLite bounds the variables of one statement (a batch of
	// 500 events to 20 endpoints is 80,000).
	for len(rows) > 0 {
		n := min(len(rows), insertChunk)
		err = tx.WebhookDelivery.CreateBulk(rows[:n]...).OnConflict(sql.ConflictColumns(webhookdelivery.FieldEndpointID, webhookdelivery.FieldEventID)).
			DoNothing().Exec(sys)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("webhook deliveries: %w", err)
		}
		rows = rows[n:]
	}
	w.Wake()
	return nil
}

// insertChunk is how many deliveries one INSERT writes (10 columns each).
const insertChunk = 200

// isNoRows: a bulk insert whose every row conflicted inserted nothing,
// which ent's DoNothing reports as an error on some dialects.
func isNoRows(err error) bool { return strings.Contains(err.Error(), "no rows") }

// clip cuts s to n bytes for an error message.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
