package cashier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"slices"
	"strings"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/merchant"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/disputes"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// PaymentInput creates a payment awaiting its payment method (a charge on
// an agreement is decided by planCharge instead).
type PaymentInput struct {
	// MerchantID is required for operators and the system; merchant
	// principals always create payments of their own merchant.
	MerchantID        string
	Amount            money.Amount
	CaptureMethod     payment.CaptureMethod // AUTOMATIC when empty
	CustomerID        string
	CheckoutSessionID string
	AgreementID       string
	MerchantReference string
	Description       string
	Metadata          map[string]string
}

// MaxAmountMinor bounds a single payment in minor units: 10^15 is a
// quadrillion yen or ten trillion dollars, far above any real payment yet
// well inside int64 (and above 2^31, which IDR payments need).
const MaxAmountMinor = 1_000_000_000_000_000

// validateAmount checks an amount given by a caller. Returns EINVALID naming
// field.
func validateAmount(field string, a money.Amount) error {
	switch {
	case a.Currency.IsZero():
		return payments.FieldErrorf(field, "currency is required")
	case a.Minor <= 0:
		return payments.FieldErrorf(field, "amount must be positive")
	case a.Minor > MaxAmountMinor:
		return payments.FieldErrorf(field, "amount is above the limit of %d minor units", int64(MaxAmountMinor))
	}
	return nil
}

// CreatePayment records a payment in requires_payment_method. Returns
// EINVALID for a bad amount or currency.
func (s *Service) CreatePayment(ctx context.Context, in PaymentInput) (*ent.Payment, error) {
	if err := validateAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	mid := in.MerchantID
	if v, ok := viewer.FromContext(ctx); ok && !v.IsPrivileged() {
		mid = v.MerchantID
	}
	if mid == "" {
		return nil, payments.FieldErrorf("merchantID", "merchant is required")
	}
	cm := in.CaptureMethod
	if cm == "" {
		cm = payment.CaptureMethodAUTOMATIC
	}
	c := s.cfg.Client.Payment.Create().SetMerchantID(mid).
		SetAmount(in.Amount.Minor).SetCurrency(in.Amount.Currency.Code()).SetCaptureMethod(cm).
		SetMerchantReference(in.MerchantReference).SetDescription(in.Description)
	if in.CustomerID != "" {
		c.SetCustomerID(in.CustomerID)
	}
	if in.CheckoutSessionID != "" {
		c.SetCheckoutSessionID(in.CheckoutSessionID)
	}
	if in.AgreementID != "" {
		c.SetAgreementID(in.AgreementID)
	}
	if in.Metadata != nil {
		c.SetMetadata(in.Metadata)
	}
	p, err := c.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("create payment: %w", err)
	}
	return p, nil
}

// PaymentMethod is how the buyer pays, and what risk and routing may know
// about them. Card holds the card in memory only, for the one connector call
// (from the vault); it is never stored or logged.
type PaymentMethod struct {
	Type routing.Method
	// Kind is the connector's method name when it differs from Type
	// ("wallet_qr", "wallet_redirect"); Type's name when empty.
	Kind            string
	Card            *connectors.Card
	CardFingerprint string
	BIN             string
	Scheme          string
	CardCountry     string
	AgreementID     string // the channel's agreement id, for direct debits
	// Connector fixes the connector (an agreement lives at one); routing
	// then neither chooses nor cascades.
	Connector string

	Email          string
	IP             string
	IPCountry      string
	BillingCountry string
	// Country is the buyer's country for routing (the card's, the billing
	// or the IP's country, whichever the caller trusts most).
	Country   string
	ReturnURL string
	// DeviceID is the device id the buyer's checkout sent, if any: the
	// payment keeps its hash, as dispute evidence (withBuyerFacts).
	DeviceID string
}

// withBuyerFacts sets on p what a dispute may later need to show of the
// buyer (Compelling Evidence 3.0, payments/disputes): the card's vault
// fingerprint, the buyer's IP, email (normalised) and device id (hashed).
// The shipping address's hash comes with the payment from its session.
func withBuyerFacts(p *ent.Payment, pm PaymentMethod) {
	p.CardFingerprint, p.BuyerIP = pm.CardFingerprint, disputes.NormalizeIP(pm.IP)
	p.BuyerEmail, p.DeviceIDHash = disputes.NormalizeEmail(pm.Email), disputes.HashDeviceID(pm.DeviceID)
}

func (pm PaymentMethod) validate() error {
	switch {
	case pm.Type == "":
		return payments.FieldErrorf("paymentMethod.type", "payment method type is required")
	case pm.Type == routing.Card && pm.Card == nil:
		return payments.FieldErrorf("paymentMethod.card", "a card payment needs a card")
	}
	return nil
}

// run confirms stored payment p: Prepare, then Confirm (which begins it in
// the operation step).
func (s *Service) run(ctx context.Context, p *ent.Payment, pm PaymentMethod, key string) (*ent.Payment, error) {
	prep, err := s.Prepare(ctx, p, pm, key)
	if err != nil {
		return nil, err
	}
	return s.Confirm(ctx, prep)
}

// decided is what risk and routing made of a payment before its first
// attempt: the risk decision and the counts its attempt records, and the
// connector chosen, or a refusal before any channel.
type decided struct {
	risked assessed
	route  routing.Decision
	// refusal, when set, declines the payment before any channel: its
	// attempt is written with the decision stored and no connector, and
	// recorded with this result, so the buyer may try another way.
	refusal *result
}

// decide runs risk and routing for a payment about to be attempted (steps 3
// and 4). Returns EUNAVAILABLE when risk is unavailable, and routing's
// errors (EINVALID when no connector takes the payment).
func (s *Service) decide(ctx context.Context, p *ent.Payment, pm PaymentMethod, amt money.Amount) (decided, error) {
	sys := viewer.SystemContext(ctx)
	mf, err := s.merchantFacts(sys, p.MerchantID)
	if err != nil {
		return decided{}, fmt.Errorf("confirm %s: merchant: %w", p.ID, err)
	}
	rp := risk.Payment{
		ID: p.ID, MerchantID: p.MerchantID, Tier: mf.tier, Amount: amt,
		CardFingerprint: pm.CardFingerprint, BIN: pm.BIN, CardCountry: pm.CardCountry, CustomerID: p.CustomerID,
		Email: pm.Email, IP: pm.IP, IPCountry: pm.IPCountry, BillingCountry: pm.BillingCountry,
	}
	decision, counts, err := s.cfg.Risk.Assess(sys, rp)
	if err != nil {
		s.log.ErrorContext(ctx, "risk unavailable", "payment", p.ID, "err", err)
		return decided{}, payments.Errorf(payments.EUNAVAILABLE, "risk checks are unavailable; try again")
	}
	d := decided{risked: assessed{decision: decision, counts: counts}}
	refuse := func(code, message string) (decided, error) {
		d.route = routing.Decision{PaymentID: p.ID, Attempted: []string{}}
		d.refusal = &result{outcome: attemptstatus.OutcomeDeclined, declineType: connectors.DeclineHard, code: code, message: message}
		return d, nil
	}
	if decision.Action == risk.Deny {
		// A review is not refused: it is authorized without capture and
		// held for a person to decide (review.go).
		return refuse("risk_deny", "refused by risk rules")
	}
	d.route = routing.Decision{PaymentID: p.ID, Chosen: pm.Connector, Attempted: []string{pm.Connector},
		Candidates: []routing.Candidate{{Connector: pm.Connector, Eligible: true, Reason: "fixed by the agreement"}}}
	if pm.Connector == "" {
		req := routing.Request{
			PaymentID: p.ID, MerchantID: p.MerchantID, Method: pm.Type, Scheme: pm.Scheme, Amount: amt, Country: pm.Country,
			AuthorizeOnly: p.CaptureMethod == payment.CaptureMethodMANUAL || decision.Action == risk.Review,
		}
		if d.route, err = s.cfg.Router.Route(sys, req); err != nil {
			if decision.Action == risk.Review && payments.ErrorCode(err) == payments.EINVALID {
				// The channels that take this payment only sell: none can
				// hold it for review, so it is refused, never charged
				// unreviewed.
				req.AuthorizeOnly = p.CaptureMethod == payment.CaptureMethodMANUAL
				if _, sells := s.cfg.Router.Route(sys, req); sells == nil {
					return refuse("risk_review", "held for review, which no channel of this payment method allows")
				}
			}
			return decided{}, err
		}
	}
	d.risked.volume = risk.VolumeKeys(rp)
	return d, nil
}

// finish is the pipeline after the attempt is written (steps 6 to 8): the
// connector call and the record, cascading once after a soft decline or a
// retryable error; or, for a payment refused before any channel, the record
// of its refusal.
func (s *Service) finish(ctx context.Context, att *ent.PaymentAttempt, pm PaymentMethod, d decided) (*ent.Payment, error) {
	sys := viewer.SystemContext(ctx)
	if d.refusal != nil {
		out, _, err := s.recordAttempt(sys, att, *d.refusal, nil)
		return out, err
	}
	route := d.route
	for {
		res := s.authorize(ctx, att, pm, d.risked.decision)
		out, next, err := s.recordAttempt(sys, att, res, &route)
		if err != nil || next == nil {
			return out, err
		}
		att, route = next.attempt, next.route
	}
}

// merchantTTL is how long a merchant's facts (merchantFacts) are
// remembered. Nothing in Strait changes a merchant's risk tier or country
// after the merchant is created; one changed in the database by hand applies
// within this time.
const merchantTTL = 30 * time.Second

// merchantFacts is what a confirm needs of its merchant: the risk tier
// (lower case) for risk, and the country for the fee facts (withFeeFacts).
type merchantFacts struct {
	tier, country string
	at            time.Time
}

// merchantFacts returns the merchant's risk tier and country, read together
// at most merchantTTL ago: a confirm reads its merchant at most once, and
// usually not at all.
func (s *Service) merchantFacts(ctx context.Context, merchantID string) (merchantFacts, error) {
	now := s.cfg.Now()
	if c, ok := s.merchants.Load(merchantID); ok && now.Sub(c.(merchantFacts).at) < merchantTTL {
		return c.(merchantFacts), nil
	}
	m, err := s.cfg.Client.Merchant.Query().Where(merchant.ID(merchantID)).
		Select(merchant.FieldRiskTier, merchant.FieldCountry).Only(viewer.SystemContext(ctx))
	if err != nil {
		return merchantFacts{}, err
	}
	f := merchantFacts{tier: strings.ToLower(string(m.RiskTier)), country: m.Country, at: now}
	s.merchants.Store(merchantID, f)
	return f, nil
}

// cascade carries what a cascade needs to call the next connector.
type cascade struct {
	attempt *ent.PaymentAttempt
	route   routing.Decision
}

// channelKey derives the channel idempotency key of attempt n of a payment:
// from the caller's key when there is one, so that a retried request sends
// the channel the very same key, and from a fresh id otherwise.
func channelKey(p *ent.Payment, seed string, n int) string {
	if seed == "" {
		return pulid.New("ck")
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d", p.MerchantID, p.ID, seed, n)))
	return "ck_" + hex.EncodeToString(sum[:20])
}

// planBegin decides attempt n of stored payment p, read under its lock, paid
// by pm: the payment processing at the chosen connector (its last failure
// and next action cleared, the buyer's facts kept for disputes:
// withBuyerFacts), the attempt pending, the risk counts, and the
// session's coupon redeemed. It adds them to w, changes p in memory, and
// returns the attempt. Returns ECONFLICT when the payment cannot be
// confirmed in its state.
func (s *Service) planBegin(p *ent.Payment, route routing.Decision, riskDecision map[string]any, counts []risk.Count,
	pm PaymentMethod, seed string, n int, w *recordWrites) (*ent.PaymentAttempt, error) {
	to, err := nextPayment(p.Status, paymentstatus.Confirm)
	if err != nil {
		return nil, err
	}
	att, err := s.newAttempt(p, route, riskDecision, seed, n)
	if err != nil {
		return nil, err
	}
	p.Status, p.Connector, p.PaymentMethodType = to, route.Chosen, string(pm.Type)
	p.FailureCode, p.FailureMessage, p.NextAction = "", "", nil
	withBuyerFacts(p, pm)
	w.payment(p.ID, row{payment.FieldStatus: string(to), payment.FieldConnector: route.Chosen,
		payment.FieldPaymentMethodType: string(pm.Type), payment.FieldFailureCode: "", payment.FieldFailureMessage: "",
		payment.FieldNextAction: nil, payment.FieldCardFingerprint: p.CardFingerprint, payment.FieldBuyerIP: p.BuyerIP,
		payment.FieldBuyerEmail: p.BuyerEmail, payment.FieldDeviceIDHash: p.DeviceIDHash,
		payment.FieldCardScheme: p.CardScheme, payment.FieldRegion: p.Region})
	w.created = append(w.created, attemptRow{att, p.CheckoutSessionID})
	w.counts = append(w.counts, counts...)
	if p.CheckoutSessionID != "" {
		w.reserve = append(w.reserve, Reservation{SessionID: p.CheckoutSessionID, PaymentID: p.ID})
	}
	return att, nil
}

// assessed is what risk made of a payment: the decision, the counts that
// record its attempt (written with the attempt), and the daily-volume keys
// its authorization adds to (kept on the attempt for the record step).
type assessed struct {
	decision risk.Decision
	counts   []risk.Count
	volume   []string
}

// riskData is the risk decision as its attempt stores it, with the
// daily-volume keys.
func riskData(risked assessed) (map[string]any, error) {
	dd, err := jsonMap(risked.decision)
	if err != nil {
		return nil, err
	}
	if len(risked.volume) > 0 {
		dd[volumeKeysField] = risked.volume
	}
	return dd, nil
}

// volumeKeysField is where an attempt's risk decision keeps the daily-volume
// counter keys its authorization adds to (risk.VolumeKeys).
const volumeKeysField = "volume_keys"

// writeNew writes, in tx, prepared new payments of distinct checkout
// sessions the transaction has claimed, already processing, with their
// first attempts and risk counts, and redeems the coupons of the sessions
// withCoupon: the payments in one statement, the attempts in one. With
// deferWrites the inserts go to MySQL with the next statement or the
// commit.
func (s *Service) writeNew(ctx context.Context, tx *ent.Tx, preps []*Prepared, withCoupon []string, deferWrites bool) ([]*ent.PaymentAttempt, error) {
	to, err := nextPayment(paymentstatus.RequiresPaymentMethod, paymentstatus.Confirm)
	if err != nil {
		return nil, err
	}
	atts := make([]*ent.PaymentAttempt, len(preps))
	rows := make([]attemptRow, len(preps))
	wr := store.NewWrites(tx, s.cfg.Dialect, deferWrites)
	creates := make([]*ent.PaymentCreate, len(preps))
	var reservations []Reservation
	var counts []risk.Count
	for i, r := range preps {
		dd, err := riskData(r.d.risked)
		if err != nil {
			return nil, err
		}
		counts = append(counts, r.d.risked.counts...)
		p := r.payment
		if p.CaptureMethod == "" {
			p.CaptureMethod = payment.CaptureMethodAUTOMATIC
		}
		p.Status, p.Connector, p.PaymentMethodType = to, r.d.route.Chosen, string(r.pm.Type)
		creates[i] = paymentCreate(wr.Client(), p)
		if atts[i], err = s.newAttempt(p, r.d.route, dd, r.seed, 1); err != nil {
			return nil, err
		}
		rows[i] = attemptRow{atts[i], p.CheckoutSessionID}
		if slices.Contains(withCoupon, p.CheckoutSessionID) {
			reservations = append(reservations, Reservation{SessionID: p.CheckoutSessionID, PaymentID: p.ID})
		}
	}
	if err := wr.Client().Payment.CreateBulk(creates...).Exec(ctx); err != nil {
		return nil, fmt.Errorf("create payments: %w", err)
	}
	if err := s.insertAttempts(ctx, wr.Client(), rows); err != nil {
		return nil, err
	}
	if err := s.cfg.Risk.RecordTx(ctx, wr.Client(), counts); err != nil {
		return nil, err
	}
	// A coupon's redemption names its payment: the payments go first.
	if err := wr.Flush(ctx); err != nil {
		return nil, err
	}
	if len(reservations) > 0 {
		if err := s.reserveCoupons(ctx, tx, reservations); err != nil {
			return nil, err
		}
	}
	return atts, nil
}

// paymentCreate is the insert of p as it is.
func paymentCreate(client *ent.Client, p *ent.Payment) *ent.PaymentCreate {
	c := client.Payment.Create().SetID(p.ID).SetMerchantID(p.MerchantID).
		SetAmount(p.Amount).SetCurrency(p.Currency).SetCaptureMethod(p.CaptureMethod).
		SetMerchantReference(p.MerchantReference).SetDescription(p.Description).
		SetStatus(p.Status).SetConnector(p.Connector).SetPaymentMethodType(p.PaymentMethodType).
		SetCardFingerprint(p.CardFingerprint).SetBuyerIP(p.BuyerIP).SetBuyerEmail(p.BuyerEmail).
		SetDeviceIDHash(p.DeviceIDHash).SetShippingAddressHash(p.ShippingAddressHash).
		SetCardScheme(p.CardScheme).SetRegion(p.Region)
	if p.CustomerID != "" {
		c.SetCustomerID(p.CustomerID)
	}
	if p.CheckoutSessionID != "" {
		c.SetCheckoutSessionID(p.CheckoutSessionID)
	}
	if p.AgreementID != "" {
		c.SetAgreementID(p.AgreementID)
	}
	if len(p.Metadata) > 0 {
		c.SetMetadata(p.Metadata)
	}
	if p.IdempotencyKey != nil {
		c.SetIdempotencyKey(*p.IdempotencyKey)
	}
	return c
}

// authorize is step 6: the connector call, with no transaction open and a
// deadline. A risk challenge asks the channel for a 3-D Secure challenge.
func (s *Service) authorize(ctx context.Context, att *ent.PaymentAttempt, pm PaymentMethod, decision risk.Decision) result {
	c, err := s.connector(att.Connector)
	if err != nil {
		return result{outcome: attemptstatus.OutcomeError, retryable: true, code: "connector_unavailable", message: err.Error()}
	}
	kind := pm.Kind
	if kind == "" {
		kind = string(pm.Type)
	}
	req := connectors.AuthorizeRequest{
		IdempotencyKey: att.ChannelIdempotencyKey, Reference: att.ID,
		Amount:  contractMoney(att.Amount, att.Currency),
		Capture: att.Capture, PaymentMethod: kind, Card: pm.Card, ReturnURL: pm.ReturnURL,
		AgreementID: pm.AgreementID,
	}
	if pm.Email != "" || pm.IP != "" || pm.Country != "" {
		req.Customer = &connectors.Customer{Email: pm.Email, IP: pm.IP, Country: pm.Country}
	}
	if req.ThreeDS = threeDSFor(decision); req.ThreeDS == connectors.ThreeDSChallenge {
		// For connectors built before the ThreeDS field.
		req.Metadata = map[string]string{"three_ds": "required"}
	}
	// The call outlives a caller who hangs up: its answer must be recorded.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	defer cancel()
	resp, err := c.Authorize(cctx, req)
	if errors.Is(cctx.Err(), context.DeadlineExceeded) && err != nil {
		return result{outcome: attemptstatus.OutcomeUnknown, code: "timeout", message: "the connector did not answer in time", channelID: resp.PaymentID}
	}
	return authorizeResult(resp, err, att.Capture)
}

func jsonMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func amountOf(minor int64, currency string) (money.Amount, error) {
	c, err := money.ParseCurrency(currency)
	if err != nil {
		return money.Amount{}, fmt.Errorf("stored currency %q: %w", currency, err)
	}
	return money.Amount{Minor: minor, Currency: c}, nil
}

// nextCheck is when an attempt checked n times is next due.
func (s *Service) nextCheck(n int) time.Time { return s.now().Add(s.backoff(n)) }
