package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/checkoutsession"
	"github.com/straitpay/strait/ent/customer"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/disputes"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/viewer"
)

// CreateInput describes a new checkout session.
type CreateInput struct {
	Amount            money.Input
	MerchantReference string
	CustomerID        string
	// CaptureMethod defaults to AUTOMATIC.
	CaptureMethod checkoutsession.CaptureMethod
	// AllowedMethods empty allows every method.
	AllowedMethods []routing.Method
	ReturnURL      string
	// ExpiresIn or ExpiresAt (not both); DefaultExpiry when neither.
	ExpiresIn     *time.Duration
	ExpiresAt     *time.Time
	Metadata      []MetadataEntry
	BuyerCountry  string
	BuyerCurrency string
	// ShippingAddress is where the goods go, by disputes.ShippingAddressParts
	// (line1, line2, city, state, postal_code, country); optional. Kept on
	// the session, and hashed on its payments, as dispute evidence.
	ShippingAddress map[string]string
	// IdempotencyKey makes creation happen once per key and merchant.
	IdempotencyKey string
}

// MetadataEntry is one merchant-defined key and value.
type MetadataEntry struct{ Key, Value string }

// Metadata limits, as merchants know them from Stripe: enough for order and
// cart references, too small to turn sessions into a document store.
const (
	maxMetadataKeys   = 50
	maxMetadataKey    = 40
	maxMetadataValue  = 500
	maxReference      = 128
	maxReturnURL      = 2048
	maxIdempotencyKey = 255
)

// Created is a new session with its cashier token.
type Created struct {
	Session *ent.CheckoutSession
	// CashierToken authenticates the buyer's checkout as the CASHIER of this
	// session only, until TokenExpiresAt.
	CashierToken   string
	TokenExpiresAt time.Time
	// Replayed is true when the idempotency key had created the session before.
	Replayed bool
}

// validated is a CreateInput after its checks.
type validated struct {
	amount        money.Amount
	capture       checkoutsession.CaptureMethod
	methods       []string
	returnURL     string
	expiresAt     time.Time
	metadata      map[string]string
	buyerCountry  string
	buyerCurrency string
	shipping      map[string]string
}

// Create opens a checkout session for the merchant of the viewer in ctx and
// mints its cashier token. Returns EINVALID with the field at fault (amount ≤
// 0, unknown currency, wrong exponent, bad return URL, expiry outside 1 minute
// to 24 hours, metadata over its limits, unknown country or currency),
// ENOTFOUND (field "customerID") for a customer that is not the merchant's,
// and ECONFLICT for an idempotency key reused with a different input.
func (s *Service) Create(ctx context.Context, merchantID string, in CreateInput) (Created, error) {
	now := s.now()
	v, err := s.validate(in, now)
	if err != nil {
		return Created{}, err
	}
	if in.CustomerID != "" {
		ok, err := s.client.Customer.Query().Where(customer.ID(in.CustomerID), customer.MerchantID(merchantID)).Exist(ctx)
		if err != nil {
			return Created{}, fmt.Errorf("find customer: %w", err)
		}
		if !ok {
			return Created{}, &payments.Error{Code: payments.ENOTFOUND, Field: "customerID", Message: "no such customer"}
		}
	}
	var hash string
	if in.IdempotencyKey != "" {
		if len(in.IdempotencyKey) > maxIdempotencyKey {
			return Created{}, payments.FieldErrorf("idempotencyKey", "idempotency key must be at most %d characters", maxIdempotencyKey)
		}
		hash = requestHash(in, v)
		if prior, err := s.replay(ctx, merchantID, in.IdempotencyKey, hash); err != nil || prior != nil {
			return s.created(ctx, prior, true, err)
		}
	}
	sess, err := s.insertSession(ctx, func(client *ent.Client) *ent.CheckoutSessionCreate {
		return s.sessionCreate(client, merchantID, in, v, hash)
	})
	if ent.IsConstraintError(err) && in.IdempotencyKey != "" {
		// A concurrent request with the same key won the insert.
		prior, err := s.replay(ctx, merchantID, in.IdempotencyKey, hash)
		return s.created(ctx, prior, true, err)
	}
	if err != nil {
		return Created{}, fmt.Errorf("create checkout session: %w", err)
	}
	// Lock the buyer's price now; if no rate is available it is retried on
	// the first read.
	if sess, err = s.lockQuote(ctx, sess); err != nil && payments.ErrorCode(err) != payments.EUNAVAILABLE {
		return Created{}, err
	}
	return s.created(ctx, sess, false, nil)
}

// sessionCreate is the insert of a new session, on client.
func (s *Service) sessionCreate(client *ent.Client, merchantID string, in CreateInput, v validated, hash string) *ent.CheckoutSessionCreate {
	c := client.CheckoutSession.Create().
		SetMerchantID(merchantID).SetAmount(v.amount.Minor).SetCurrency(v.amount.Currency.Code()).
		SetMerchantReference(in.MerchantReference).SetCaptureMethod(v.capture).
		SetReturnURL(v.returnURL).SetExpiresAt(v.expiresAt).
		SetBuyerCountry(v.buyerCountry).SetBuyerCurrency(v.buyerCurrency).SetRequestHash(hash)
	if in.CustomerID != "" {
		c.SetCustomerID(in.CustomerID)
	}
	if len(v.methods) > 0 {
		c.SetAllowedMethods(v.methods)
	}
	if len(v.metadata) > 0 {
		c.SetMetadata(v.metadata)
	}
	if len(v.shipping) > 0 {
		c.SetShippingAddress(v.shipping)
	}
	if in.IdempotencyKey != "" {
		c.SetIdempotencyKey(in.IdempotencyKey)
	}
	return c
}

func (s *Service) created(ctx context.Context, sess *ent.CheckoutSession, replayed bool, err error) (Created, error) {
	if err != nil {
		return Created{}, err
	}
	tok, exp, err := s.mint(sess)
	if err != nil {
		return Created{}, err
	}
	return Created{Session: sess, CashierToken: tok, TokenExpiresAt: exp, Replayed: replayed}, nil
}

// replay returns the session an idempotency key created, nil if none, and
// ECONFLICT if it was created from a different input.
func (s *Service) replay(ctx context.Context, merchantID, key, hash string) (*ent.CheckoutSession, error) {
	prior, err := s.client.CheckoutSession.Query().
		Where(checkoutsession.MerchantID(merchantID), checkoutsession.IdempotencyKey(key)).
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("find idempotency key: %w", err)
	case prior.RequestHash != hash:
		return nil, &payments.Error{Code: payments.ECONFLICT, Field: "idempotencyKey", Message: "this idempotency key was used with a different request"}
	}
	return prior, nil
}

// requestHash fingerprints what a session was created from, so a reused key
// with a different request is told apart from a retry. The expiry is hashed as
// the caller gave it (a retry of "expiresIn: 600" is the same request later).
func requestHash(in CreateInput, v validated) string {
	b, _ := json.Marshal(struct {
		Amount                            money.Amount
		Ref, Customer, Capture, ReturnURL string
		Methods                           []string
		ExpiresIn                         *time.Duration
		ExpiresAt                         *time.Time
		Metadata                          map[string]string
		BuyerCountry, BuyerCurrency       string
		Shipping                          map[string]string `json:",omitempty"`
	}{v.amount, in.MerchantReference, in.CustomerID, string(v.capture), v.returnURL, v.methods, in.ExpiresIn, in.ExpiresAt, v.metadata, v.buyerCountry, v.buyerCurrency, v.shipping})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Service) validate(in CreateInput, now time.Time) (validated, error) {
	var v validated
	var err error
	if v.amount, err = in.Amount.Positive("amount"); err != nil {
		return v, err
	}
	// A session no payment could carry would only fail at confirm, after
	// the buyer has typed a card.
	if v.amount.Minor > cashier.MaxAmountMinor {
		return v, payments.FieldErrorf("amount.amount", "amount is above the limit of %d minor units", int64(cashier.MaxAmountMinor))
	}
	if utf8.RuneCountInString(in.MerchantReference) > maxReference {
		return v, payments.FieldErrorf("merchantReference", "merchantReference must be at most %d characters", maxReference)
	}
	switch v.capture = in.CaptureMethod; v.capture {
	case "":
		v.capture = checkoutsession.CaptureMethodAUTOMATIC
	case checkoutsession.CaptureMethodAUTOMATIC, checkoutsession.CaptureMethodMANUAL:
	default:
		return v, payments.FieldErrorf("captureMethod", "unknown capture method %q", in.CaptureMethod)
	}
	for _, m := range in.AllowedMethods {
		if !slices.Contains(routing.Methods, m) {
			return v, payments.FieldErrorf("allowedMethods", "unknown payment method %q", m)
		}
		if !slices.Contains(v.methods, string(m)) {
			v.methods = append(v.methods, string(m))
		}
	}
	if v.returnURL, err = s.checkReturnURL(in.ReturnURL); err != nil {
		return v, err
	}
	if v.expiresAt, err = expiry(in.ExpiresIn, in.ExpiresAt, now); err != nil {
		return v, err
	}
	if v.metadata, err = checkMetadata(in.Metadata); err != nil {
		return v, err
	}
	if in.BuyerCountry != "" {
		if v.buyerCountry, err = tenancy.ParseCountry(in.BuyerCountry); err != nil {
			return v, payments.FieldErrorf("buyerCountry", "unknown country %q", in.BuyerCountry)
		}
	}
	if in.BuyerCurrency != "" {
		c, err := money.ParseCurrency(in.BuyerCurrency)
		if err != nil {
			return v, payments.FieldErrorf("buyerCurrency", "unknown currency %q", in.BuyerCurrency)
		}
		v.buyerCurrency = c.Code()
	}
	if v.shipping, err = checkShipping(in.ShippingAddress); err != nil {
		return v, err
	}
	return v, nil
}

// maxShippingPart bounds each part of a shipping address, in characters.
const maxShippingPart = 200

// checkShipping checks a shipping address: known parts only, each at most
// maxShippingPart characters, a known country; empty parts dropped.
func checkShipping(in map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, val := range in {
		val = strings.TrimSpace(val)
		switch {
		case !slices.Contains(disputes.ShippingAddressParts, k):
			return nil, payments.FieldErrorf("shippingAddress", "unknown shipping address part %q", k)
		case utf8.RuneCountInString(val) > maxShippingPart:
			return nil, payments.FieldErrorf("shippingAddress."+k, "%s must be at most %d characters", k, maxShippingPart)
		case val == "":
		case k == "country":
			c, err := tenancy.ParseCountry(val)
			if err != nil {
				return nil, payments.FieldErrorf("shippingAddress.country", "unknown country %q", val)
			}
			out[k] = c
		default:
			out[k] = val
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// checkReturnURL allows absolute https URLs without credentials, and http on
// localhost in dev mode (a merchant's dev server).
func (s *Service) checkReturnURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	bad := func(why string) error { return payments.FieldErrorf("returnURL", "returnURL %s", why) }
	if len(raw) > maxReturnURL {
		return "", bad(fmt.Sprintf("must be at most %d characters", maxReturnURL))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return "", bad("must be an absolute URL")
	case u.User != nil:
		return "", bad("must not carry credentials")
	case u.Scheme == "https":
		return u.String(), nil
	case u.Scheme == "http" && s.dev && isLocalhost(u.Hostname()):
		return u.String(), nil
	case u.Scheme == "http":
		return "", bad("must use https (http only on localhost in dev mode)")
	}
	return "", bad("must use https")
}

func isLocalhost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func expiry(in *time.Duration, at *time.Time, now time.Time) (time.Time, error) {
	var d time.Duration
	switch {
	case in != nil && at != nil:
		return time.Time{}, payments.FieldErrorf("expiresAt", "give expiresIn or expiresAt, not both")
	case in != nil:
		d = *in
		if d < MinExpiry || d > MaxExpiry {
			return time.Time{}, payments.FieldErrorf("expiresIn", "expiresIn must be %d to %d seconds", int(MinExpiry.Seconds()), int(MaxExpiry.Seconds()))
		}
	case at != nil:
		d = at.Sub(now)
		if d < MinExpiry || d > MaxExpiry {
			return time.Time{}, payments.FieldErrorf("expiresAt", "expiresAt must be 1 minute to 24 hours from now")
		}
	default:
		d = DefaultExpiry
	}
	return now.Add(d).Truncate(time.Microsecond), nil
}

func checkMetadata(entries []MetadataEntry) (map[string]string, error) {
	if len(entries) > maxMetadataKeys {
		return nil, payments.FieldErrorf("metadata", "metadata may have at most %d keys", maxMetadataKeys)
	}
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		if e.Key == "" || utf8.RuneCountInString(e.Key) > maxMetadataKey {
			return nil, payments.FieldErrorf("metadata", "metadata keys must be 1 to %d characters", maxMetadataKey)
		}
		if utf8.RuneCountInString(e.Value) > maxMetadataValue {
			return nil, payments.FieldErrorf("metadata", "metadata value of %q is longer than %d characters", truncate(e.Key, 40), maxMetadataValue)
		}
		if _, dup := m[e.Key]; dup {
			return nil, payments.FieldErrorf("metadata", "metadata key %q appears twice", truncate(e.Key, 40))
		}
		m[e.Key] = e.Value
	}
	return m, nil
}

// mint returns a cashier token for sess, valid until MaxCashierTokenTTL or the
// session's expiry, whichever comes first.
func (s *Service) mint(sess *ent.CheckoutSession) (string, time.Time, error) {
	now := s.now()
	ttl := min(MaxCashierTokenTTL, sess.ExpiresAt.Sub(now))
	if ttl <= 0 || sess.Status != sessionstatus.Open {
		return "", time.Time{}, payments.Errorf(payments.ECONFLICT, "checkout session %s is no longer open", sess.ID)
	}
	// JWT times have second precision: round down so the token never outlives
	// the session.
	ttl = ttl.Truncate(time.Second)
	if ttl <= 0 {
		return "", time.Time{}, payments.Errorf(payments.ECONFLICT, "checkout session %s is no longer open", sess.ID)
	}
	tok, err := s.tokens.Mint(viewer.Viewer{Kind: viewer.Cashier, Subject: sess.ID, MerchantID: sess.MerchantID, SessionID: sess.ID}, ttl)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("mint cashier token: %w", err)
	}
	return tok, now.Add(ttl), nil
}

// NewCashierToken mints a fresh cashier token for an open session of the
// merchant in ctx. Returns ENOTFOUND for a session the viewer cannot see and
// ECONFLICT for one that is not open.
func (s *Service) NewCashierToken(ctx context.Context, sessionID string) (string, time.Time, error) {
	sess, err := s.Confirmable(ctx, sessionID)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.mint(sess)
}

// Session returns a session as the viewer in ctx may see it: a cashier its own
// (id may be empty), others by id. An open session past its expiry is marked
// EXPIRED on the way. Returns ENOTFOUND for a session the viewer cannot see.
func (s *Service) Session(ctx context.Context, id string) (*ent.CheckoutSession, error) {
	if v, _ := viewer.FromContext(ctx); v.Kind == viewer.Cashier {
		if id != "" && id != v.SessionID {
			return nil, notFound(id)
		}
		id = v.SessionID
	}
	if id == "" {
		return nil, payments.FieldErrorf("id", "id is required")
	}
	sess, err := s.client.CheckoutSession.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("checkout session %s: %w", id, err)
	}
	return s.expireIfDue(ctx, sess)
}

// expireIfDue marks an open session past its expiry EXPIRED, so nobody acts on
// it while the janitor has not come by yet.
func (s *Service) expireIfDue(ctx context.Context, sess *ent.CheckoutSession) (*ent.CheckoutSession, error) {
	if sess.Status != sessionstatus.Open || s.now().Before(sess.ExpiresAt) {
		return sess, nil
	}
	return s.expireOne(ctx, sess)
}

// Confirmable returns the session for a confirm (or any change): it must be
// visible to the viewer in ctx, open and not past its expiry. Returns
// ENOTFOUND for a session the viewer cannot see, and ECONFLICT for an
// expired, completed or canceled one.
func (s *Service) Confirmable(ctx context.Context, id string) (*ent.CheckoutSession, error) {
	sess, err := s.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	return sess, checkOpen(sess)
}

func checkOpen(sess *ent.CheckoutSession) error {
	switch sess.Status {
	case sessionstatus.Open:
		return nil
	case sessionstatus.Expired:
		return payments.Errorf(payments.ECONFLICT, "checkout session %s has expired", sess.ID)
	case sessionstatus.Complete:
		return payments.Errorf(payments.ECONFLICT, "checkout session %s is already complete", sess.ID)
	}
	return payments.Errorf(payments.ECONFLICT, "checkout session %s is %s", sess.ID, sess.Status.Name())
}

// ExpireSessions marks every open session past its expiry EXPIRED, each
// with its checkout_session.expired event, and returns how many it marked.
func (s *Service) ExpireSessions(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.expireDue(ctx)
		total += n
		if err != nil {
			return total, fmt.Errorf("expire checkout sessions: %w", err)
		}
		if n < expireBatch {
			return total, nil
		}
	}
}

// RunExpirer calls ExpireSessions every interval until ctx ends, passing each
// failure to onError (which may be nil).
func (s *Service) RunExpirer(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.ExpireSessions(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Metadata returns a session's metadata sorted by key.
func Metadata(sess *ent.CheckoutSession) []MetadataEntry {
	out := make([]MetadataEntry, 0, len(sess.Metadata))
	for k, v := range sess.Metadata {
		out = append(out, MetadataEntry{k, v})
	}
	slices.SortFunc(out, func(a, b MetadataEntry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// AllowedMethods returns the methods the merchant allows on sess (all when it
// set none).
func AllowedMethods(sess *ent.CheckoutSession) []routing.Method {
	if len(sess.AllowedMethods) == 0 {
		return routing.Methods
	}
	out := make([]routing.Method, len(sess.AllowedMethods))
	for i, m := range sess.AllowedMethods {
		out[i] = routing.Method(m)
	}
	return out
}

// MerchantName returns the name the buyer should see for the session's
// merchant (read as Strait itself: a cashier cannot read merchants).
func (s *Service) MerchantName(ctx context.Context, sess *ent.CheckoutSession) (string, error) {
	m, err := s.client.Merchant.Get(viewer.SystemContext(ctx), sess.MerchantID)
	if err != nil {
		return "", fmt.Errorf("merchant of %s: %w", sess.ID, err)
	}
	return m.LegalName, nil
}

// Amounts returns a session's amount due, discount and subtotal.
func Amounts(sess *ent.CheckoutSession) (due, discount, subtotal money.Amount, err error) {
	cur, err := money.ParseCurrency(sess.Currency)
	if err != nil {
		return due, discount, subtotal, fmt.Errorf("checkout session %s: %w", sess.ID, err)
	}
	due = money.Amount{Minor: sess.Amount, Currency: cur}
	discount = money.Amount{Minor: sess.AmountDiscount, Currency: cur}
	subtotal, err = due.Add(discount)
	return due, discount, subtotal, err
}
