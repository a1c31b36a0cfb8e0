package checkout

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/checkoutsession"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/vaultcard"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/disputes"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/vault/entstore"
	"github.com/straitpay/strait/payments/viewer"
)

// ConfirmInput is how the buyer pays for a session.
type ConfirmInput struct {
	// Method is card, wallet or bank_transfer; it must be one the session
	// allows.
	Method routing.Method
	// CardToken is a token from TokenizeCard (or a saved card of the
	// session's customer), for Method card.
	CardToken string
	// WalletFlow is "redirect" (default) or "qr", for Method wallet.
	WalletFlow string
	// Email and BillingCountry feed the risk rules.
	Email          string
	BillingCountry string
	// DeviceID is the buyer's device id as the checkout knows it, if it
	// sends one: kept hashed on the payment, as dispute evidence.
	DeviceID string
	// IdempotencyKey seeds the channel idempotency keys: the same key never
	// makes a second attempt.
	IdempotencyKey string
	// Claim is the request's idempotency claim, which the confirm step
	// writes with the payment's first attempt, in the transaction that
	// writes it; a confirm whose key has a record already, or whose
	// transaction failed alone, claims it on its own and runs again
	// (idempotency.Deferred's rules). Nil when the request has no key, or
	// its key was claimed before the confirm started.
	Claim *idempotency.Deferred
}

// Confirm pays for the cashier's checkout session: it finds or creates the
// session's payment, takes the card from the vault, and runs the payment
// pipeline. It returns the payment as recorded: succeeded or requires_capture
// (the session is then complete), requires_action (see the payment's next
// action), processing, or requires_payment_method after a decline, when the
// buyer may confirm again with another card.
//
// Every confirm is decided and written by the confirm step (applyConfirms),
// under its session's lock, with concurrent confirms of other sessions, and
// its idempotency claim (in.Claim) goes with its writes; then the cashier
// calls the connector and records (cashier.Confirm).
//
// Returns EFORBIDDEN for a viewer that is not a cashier, ENOTFOUND for a
// session or card token the caller may not use, ECONFLICT for a session
// that is expired, complete, or whose payment is already in flight,
// EINVALID for a method the session does not allow or a missing card token,
// and the pipeline's errors.
func (s *Service) Confirm(ctx context.Context, sessionID string, in ConfirmInput) (*ent.Payment, error) {
	if s.payments == nil {
		return nil, payments.Errorf(payments.EUNAVAILABLE, "payments are not available")
	}
	v, err := cashierSession(ctx)
	if err != nil {
		return nil, err
	}
	if sessionID != "" && sessionID != v.SessionID {
		return nil, notFound(sessionID)
	}
	// The card the confirm takes from the vault, wiped once the call is
	// made.
	held := &heldCard{}
	defer held.wipe()
	req := s.confirmRequest(ctx, v, in, held)
	for {
		c, err := s.confirms.Do(ctx, req)
		if refusedAlone(err) {
			// Its transaction failed alone on the merits (a coupon used up
			// meanwhile): nothing of it was written, and its error is its
			// answer.
			c, err = confirmed{refused: err}, nil
		}
		switch {
		case store.OutcomeUnknown(err), err != nil && ctx.Err() != nil:
			// The payment may be written, its key claimed: writing it
			// again would be refused as a second payment of the session.
			// The confirm is answered as unknown; its retry finds the
			// payment (retryOf) or, if nothing was written, makes it.
			return nil, err
		case err != nil && req.claim == nil:
			return nil, err
		case err != nil, c.claimFirst:
			// Its transaction failed alone for no reason of its own
			// (nothing of it was written, its claim included: perhaps a
			// concurrent claim of its key), or its key has a record
			// already: the key is claimed on its own, which replays, waits
			// or refuses (idempotency.Deferred's rules), and the confirm
			// runs again.
			if err := req.claim.Claim(ctx); err != nil {
				return nil, err
			}
			req.claim = nil
			continue
		case c.refused != nil:
			return s.refusedConfirm(ctx, v.SessionID, in.IdempotencyKey, c.refused)
		case c.expired != nil:
			return s.refusedConfirm(ctx, v.SessionID, in.IdempotencyKey, s.expire(ctx, c.expired))
		}
		return s.payments.Confirm(viewer.SystemContext(ctx), c.prep)
	}
}

// confirmRequest is cashier v's confirm for the confirm step: its claim
// (nil when it was settled before), its card token parsed.
func (s *Service) confirmRequest(ctx context.Context, v viewer.Viewer, in ConfirmInput, held *heldCard) *confirmReq {
	req := &confirmReq{ctx: ctx, merchantID: v.MerchantID, sessionID: v.SessionID, in: in, held: held}
	if !in.Claim.Settled() {
		req.claim = in.Claim
	}
	if in.Method == routing.Card && s.vault != nil {
		if t, err := vault.ParseToken(in.CardToken); err == nil {
			req.token = t // a malformed token is refused by cardForSession
		}
	}
	return req
}

// refusedConfirm answers a confirm refused with err. A conflict (a session
// complete, expired or paying) may be this confirm's own doing, its answer
// lost: the payment its key made is then its answer (retryOf).
func (s *Service) refusedConfirm(ctx context.Context, sessionID, key string, err error) (*ent.Payment, error) {
	if payments.ErrorCode(err) == payments.ECONFLICT {
		if p, rerr := s.retryOf(ctx, sessionID, key); p != nil || rerr != nil {
			return p, rerr
		}
	}
	return nil, err
}

// expire marks open session sess, past its expiry, expired, and returns the
// refusal of a confirm of it.
func (s *Service) expire(ctx context.Context, sess *ent.CheckoutSession) error {
	sess, err := s.expireIfDue(ctx, sess)
	if err != nil {
		return err
	}
	if err := checkOpen(sess); err != nil {
		return err
	}
	return fmt.Errorf("checkout session %s: past its expiry, yet open", sess.ID)
}

// refusedAlone reports whether err, a confirm step's error, is a refusal on
// the merits (EINVALID, ENOTFOUND, ECONFLICT), which running the confirm
// again would repeat.
func refusedAlone(err error) bool {
	switch payments.ErrorCode(err) {
	case payments.EINVALID, payments.ENOTFOUND, payments.ECONFLICT:
		return !store.OutcomeUnknown(err)
	}
	return false
}

// maxDeviceID bounds the device id a checkout sends, in bytes.
const maxDeviceID = 255

// paymentMethod builds what the pipeline needs to know of how the buyer
// pays. card is the card token's vault record when the caller read it
// already (nil: read it here); use says how the confirm uses a one-time
// token; held keeps the card for the confirm, which wipes it once the call
// is made (cardForSession).
func (s *Service) paymentMethod(ctx context.Context, sess *ent.CheckoutSession, in ConfirmInput, card *vault.Record, use tokenUse, held *heldCard) (cashier.PaymentMethod, error) {
	req := audit.RequestFrom(ctx)
	pm := cashier.PaymentMethod{
		Type: in.Method, Email: in.Email, IP: req.RemoteAddr, DeviceID: in.DeviceID,
		BillingCountry: strings.ToUpper(in.BillingCountry), Country: sess.BuyerCountry, ReturnURL: sess.ReturnURL,
	}
	if pm.Country == "" {
		pm.Country = pm.BillingCountry
	}
	if len(in.DeviceID) > maxDeviceID {
		return pm, payments.FieldErrorf("deviceID", "deviceID must be at most %d bytes", maxDeviceID)
	}
	switch in.Method {
	case routing.Card:
		if in.CardToken == "" {
			return pm, payments.FieldErrorf("cardToken", "a card payment needs a card token")
		}
		card, err := s.cardForSession(ctx, sess, in.CardToken, card, use, held)
		if err != nil {
			return pm, err
		}
		info := card.Info
		pm.Card = &connectors.Card{
			Number: card.PAN.Reveal(), CVC: card.CVC.Reveal(),
			ExpMonth: card.Expiry.Month, ExpYear: card.Expiry.Year, Holder: card.HolderName,
		}
		pm.Scheme, pm.BIN, pm.CardCountry, pm.CardFingerprint = string(info.Scheme), info.BIN, info.Country, info.Fingerprint
		if pm.Country == "" {
			pm.Country = info.Country
		}
		return pm, nil
	case routing.Wallet:
		pm.Kind = "wallet_redirect"
		if in.WalletFlow == "qr" {
			pm.Kind = "wallet_qr"
		}
	case routing.BankTransfer:
	default:
		return pm, payments.FieldErrorf("method", "%s cannot pay a checkout session", in.Method)
	}
	return pm, nil
}

// sessionPayment returns the session's payment that awaits a payment method,
// or, when the session has none yet (or only failed or canceled ones), a new
// payment for the pipeline to insert (fresh): the pipeline stores it in its
// attempt transaction, after Claim has locked the session, so a session
// never gets two payments in flight. latest is the session's latest payment
// (nil if none). Returns ECONFLICT when it is in flight or done.
func (s *Service) sessionPayment(sess *ent.CheckoutSession, latest *ent.Payment) (p *ent.Payment, fresh bool, err error) {
	if err := inFlight(sess.ID, latest); err != nil {
		return nil, false, err
	}
	if latest != nil && latest.Status == paymentstatus.RequiresPaymentMethod {
		return latest, false, nil
	}
	amt, err := money.New(sess.Amount, sess.Currency)
	if err != nil {
		return nil, false, err
	}
	return &ent.Payment{
		ID: pulid.New("pay"), MerchantID: sess.MerchantID, CheckoutSessionID: sess.ID,
		Amount: amt.Minor, Currency: amt.Currency.Code(), CaptureMethod: payment.CaptureMethod(sess.CaptureMethod),
		MerchantReference: sess.MerchantReference, CustomerID: sess.CustomerID, Metadata: sess.Metadata,
		ShippingAddressHash: disputes.HashShippingAddress(sess.ShippingAddress),
	}, true, nil
}

// sessionRead is a checkout session (nil if none), its latest payment (nil
// if none; as read by readSessions, its id, session and status only) and the
// vault record of the card token asked for (nil if none was asked; the zero
// Record if the token has no card).
type sessionRead struct {
	sess   *ent.CheckoutSession
	latest *ent.Payment
	card   *vault.Record
}

// readForConfirm reads, on client and in one round trip on MySQL, the
// sessions ids (locked FOR UPDATE on MySQL when lock is set, in id order),
// their payments by state only, and the vault records of the card tokens,
// as the vault's own store reads them (entstore). It returns the sessions
// found, each with its latest payment (nil if none; its id, session and
// status only: a payment awaiting a payment method is read whole when it is
// confirmed again), and the cards found.
func (s *Service) readForConfirm(ctx context.Context, client *ent.Client, ids, tokens []string, lock bool, more ...store.Read) (
	map[string]*sessionRead, map[vault.Token]vault.Record, error) {
	var sessions []*ent.CheckoutSession
	var ps []*ent.Payment
	cards := map[vault.Token]vault.Record{}
	reads := []store.Read{
		func(ctx context.Context, c *ent.Client) (err error) {
			q := c.CheckoutSession.Query().Where(checkoutsession.IDIn(ids...))
			if lock {
				q = q.Order(checkoutsession.ByID())
				if s.dialect == dialect.MySQL {
					q = q.ForUpdate()
				}
			}
			if sessions, err = q.All(ctx); err != nil {
				return fmt.Errorf("checkout sessions: %w", err)
			}
			return nil
		},
		readPaymentStates(ids, &ps),
	}
	if len(tokens) > 0 {
		reads = append(reads, func(ctx context.Context, c *ent.Client) error {
			rows, err := c.VaultCard.Query().Where(vaultcard.IDIn(tokens...)).All(ctx)
			if err != nil {
				return fmt.Errorf("vault records: %w", err)
			}
			for _, r := range rows {
				cards[vault.Token(r.ID)] = entstore.Record(r)
			}
			return nil
		})
	}
	reads = append(reads, more...)
	if err := store.ReadTogether(ctx, client, s.dialect, reads...); err != nil {
		return nil, nil, err
	}
	byID := make(map[string]*sessionRead, len(sessions))
	for _, sess := range sessions {
		byID[sess.ID] = &sessionRead{sess: sess}
	}
	for _, p := range ps {
		if r := byID[p.CheckoutSessionID]; r != nil && (r.latest == nil || p.ID > r.latest.ID) {
			r.latest = p
		}
	}
	return byID, cards, nil
}

// readPaymentStates is the read of the sessions' payments, by state only
// (id, session, status), into ps.
func readPaymentStates(sessionIDs []string, ps *[]*ent.Payment) store.Read {
	return func(ctx context.Context, c *ent.Client) (err error) {
		*ps, err = c.Payment.Query().Where(payment.CheckoutSessionIDIn(sessionIDs...)).
			Select(payment.FieldID, payment.FieldCheckoutSessionID, payment.FieldStatus).All(ctx)
		if err != nil {
			return fmt.Errorf("sessions' payments: %w", err)
		}
		return nil
	}
}

// retryOf returns the latest payment of the session when a confirm with
// idempotency key key made it (its first attempt carries the channel key
// the pipeline derives from key): this confirm is a retry of that one,
// whose answer was lost (a commit whose outcome was unknown, a crash), and
// the payment as it is now is its answer, not the CONFLICT (a payment in
// flight, the session complete or expired) a confirm of another key gets.
// sessionID is the session the caller was let see ("" for a cashier's
// own). It returns nil otherwise.
func (s *Service) retryOf(ctx context.Context, sessionID, key string) (*ent.Payment, error) {
	if v, _ := viewer.FromContext(ctx); v.Kind == viewer.Cashier {
		sessionID = v.SessionID
	}
	if key == "" || sessionID == "" {
		return nil, nil
	}
	sys := viewer.SystemContext(ctx)
	p, err := s.client.Payment.Query().Where(payment.CheckoutSessionID(sessionID)).
		Order(ent.Desc(payment.FieldID)).First(sys)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session %s payment: %w", sessionID, err)
	}
	made, err := s.payments.MadeWithKey(sys, p, key)
	if err != nil || !made {
		return nil, err
	}
	return p, nil
}

// inFlight refuses, with ECONFLICT, a session whose latest payment is in
// flight or done; none, one awaiting a payment method, and a failed or
// canceled one are not.
func inFlight(sessionID string, latest *ent.Payment) error {
	if latest == nil {
		return nil
	}
	switch latest.Status {
	case paymentstatus.RequiresPaymentMethod, paymentstatus.Failed, paymentstatus.Canceled:
		return nil
	}
	return payments.Errorf(payments.ECONFLICT, "checkout session %s already has a payment that is %s",
		sessionID, latest.Status.Name())
}
