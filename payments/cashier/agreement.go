package cashier

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/agreementstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/agreement"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// Agreements are direct-debit mandates: the buyer approves one at their bank
// (through the buyer URL), then the merchant charges it without a cashier.
//
//	PENDING ──(buyer approves: agreement event)──▶ ACTIVE ──terminate──▶ TERMINATED
//	   └────(buyer or bank rejects)──▶ FAILED

// AgreementInput asks for a direct-debit agreement.
type AgreementInput struct {
	// Connector names the bank connector; when empty, routing picks one that
	// takes direct debits in Currency.
	Connector  string
	CustomerID string
	Currency   money.Currency
	// MaxAmount caps each charge; nil is no cap.
	MaxAmount *money.Amount
	// Account is the buyer's bank account. It goes to the channel only; it
	// is not stored.
	Account        connectors.BankAccount
	ReturnURL      string
	IdempotencyKey string
}

// SignAgreement starts a direct-debit agreement and returns it PENDING with
// the URL where the buyer approves it (or ACTIVE, FAILED if the channel
// decides at once). A repeated request with the same key returns the same
// agreement. Returns EINVALID for a missing key, currency or account holder,
// or when no connector takes direct debits in the currency.
func (s *Service) SignAgreement(ctx context.Context, in AgreementInput) (*ent.Agreement, error) {
	v, _ := viewer.FromContext(ctx)
	var maxMinor int64
	if in.MaxAmount != nil {
		if in.MaxAmount.Currency != in.Currency || in.MaxAmount.Minor <= 0 || in.MaxAmount.Minor > MaxAmountMinor {
			return nil, payments.FieldErrorf("maxAmount", "the cap must be a positive amount in %s", in.Currency.Code())
		}
		maxMinor = in.MaxAmount.Minor
	}
	switch {
	case in.IdempotencyKey == "" || len(in.IdempotencyKey) > 128:
		return nil, payments.FieldErrorf("idempotencyKey", "an idempotency key of 1 to 128 characters is required")
	case in.Currency.IsZero():
		return nil, payments.FieldErrorf("currency", "currency is required")
	case in.Account.Holder == "" || in.Account.Number == "":
		return nil, payments.FieldErrorf("account", "the account holder and number are required")
	case v.MerchantID == "":
		return nil, payments.Errorf(payments.EFORBIDDEN, "agreements are signed for a merchant")
	}
	if prior, err := s.cfg.Client.Agreement.Query().Where(agreement.IdempotencyKey(in.IdempotencyKey)).Only(ctx); err == nil {
		return prior, nil
	}
	conn := in.Connector
	if conn == "" {
		probe := max(maxMinor, 1)
		route, err := s.cfg.Router.Route(viewer.SystemContext(ctx), routing.Request{PaymentID: in.IdempotencyKey,
			MerchantID: v.MerchantID, Method: routing.DirectDebit, Amount: money.Amount{Minor: probe, Currency: in.Currency}})
		if err != nil {
			return nil, err
		}
		conn = route.Chosen
	}
	c, err := s.connector(conn)
	if err != nil {
		return nil, err
	}
	create := s.cfg.Client.Agreement.Create().SetMerchantID(v.MerchantID).SetConnector(conn).
		SetCurrency(in.Currency.Code()).SetMaxAmount(maxMinor).SetReturnURL(in.ReturnURL).
		SetIdempotencyKey(in.IdempotencyKey)
	if in.CustomerID != "" {
		create.SetCustomerID(in.CustomerID)
	}
	a, err := create.Save(ctx)
	if ent.IsConstraintError(err) {
		return s.cfg.Client.Agreement.Query().Where(agreement.IdempotencyKey(in.IdempotencyKey)).Only(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("agreement: %w", err)
	}
	acct := in.Account
	if acct.Currency == "" {
		acct.Currency = in.Currency.Code()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	resp, err := c.SignAgreement(cctx, connectors.SignAgreementRequest{IdempotencyKey: a.ID, Reference: a.ID,
		Account: &acct, MaxAmount: contractMoney(maxMinor, in.Currency.Code()), ReturnURL: in.ReturnURL})
	cancel()
	upd := map[string]any{}
	if err == nil {
		if resp.NextAction != nil {
			upd["buyer_url"] = resp.NextAction.URL
		}
		upd["ref"] = resp.AgreementID
	}
	return s.applyAgreement(viewer.SystemContext(ctx), a.ID, agreementEvent(resp.Result, err), resp.Result.Code, upd, "")
}

// agreementEvent maps a channel answer about an agreement to the event it
// is; anything undecided (an error, pending) is none.
func agreementEvent(r connectors.Result, err error) agreementstatus.Event {
	switch {
	case err != nil:
		return ""
	case r.Outcome == connectors.OutcomeApproved:
		return agreementstatus.Activate
	case r.Outcome == connectors.OutcomeDeclined:
		return agreementstatus.Decline
	}
	return ""
}

// applyAgreement records an event (its move in the agreement machine, if
// allowed, and the channel's ids) in one transaction with its outbox event:
// the agreement locked, then planAgreement.
func (s *Service) applyAgreement(ctx context.Context, id string, ev agreementstatus.Event, code string, set map[string]any, eventID string) (*ent.Agreement, error) {
	var out *ent.Agreement
	err := s.apply(ctx, "agreement "+id, id, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		q := tx.Agreement.Query().Where(agreement.ID(id))
		if s.cfg.Dialect == dialect.MySQL {
			q = q.ForUpdate()
		}
		a, err := q.Only(ctx)
		if err != nil {
			return err
		}
		planAgreement(a, ev, code, set, eventID, w)
		out = a.Unwrap()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// planAgreement decides what an event about agreement a, read under its
// lock, writes: its move in the agreement machine (ev, when allowed; the
// channel's code on a failure), the channel's ids (set: "buyer_url",
// "ref"), the event id that deduplicates channel events, and the outbox
// event when the agreement moved or first learned its channel reference. A
// redelivered event writes nothing. It adds them to w and changes a in
// memory.
func planAgreement(a *ent.Agreement, ev agreementstatus.Event, code string, set map[string]any, eventID string, w *recordWrites) {
	if eventID != "" && a.LastEventID == eventID {
		return
	}
	upd := row{}
	if eventID != "" {
		a.LastEventID = eventID
		upd[agreement.FieldLastEventID] = eventID
	}
	if u, _ := set["buyer_url"].(string); u != "" {
		a.BuyerURL = clip(u, 2048)
		upd[agreement.FieldBuyerURL] = a.BuyerURL
	}
	hadRef := a.ConnectorReference != ""
	if r, _ := set["ref"].(string); r != "" && !hadRef {
		a.ConnectorReference = clip(r, 128)
		upd[agreement.FieldConnectorReference] = a.ConnectorReference
	}
	to, moved := agreementstatus.Next(a.Status, ev)
	if moved {
		a.Status = to
		upd[agreement.FieldStatus] = string(to)
		switch to {
		case agreementstatus.Failed:
			a.FailureCode = clip(code, 64)
			upd[agreement.FieldFailureCode] = a.FailureCode
		case agreementstatus.Terminated:
			at := w.now
			a.TerminatedAt = &at
			upd[agreement.FieldTerminatedAt] = at
		}
	}
	a.UpdatedAt = w.now
	w.agreements = append(w.agreements, store.RowUpdate{ID: a.ID, Set: upd})
	if !moved && hadRef {
		return
	}
	w.events = append(w.events, eventRow{merchantID: a.MerchantID, typ: "agreement." + a.Status.Name(), objectID: a.ID,
		data: map[string]any{"agreement_id": a.ID, "status": string(a.Status), "connector": a.Connector, "buyer_url": a.BuyerURL}})
}

// Agreement returns an agreement visible to the viewer. Returns ENOTFOUND
// otherwise.
func (s *Service) Agreement(ctx context.Context, id string) (*ent.Agreement, error) {
	a, err := s.cfg.Client.Agreement.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "agreement %q not found", truncate(id, 64))
	}
	return a, err
}

// TerminateAgreement ends an agreement at the channel and here. A terminated
// agreement is returned unchanged. Returns ECONFLICT for a failed agreement
// or when the channel refuses, EUNAVAILABLE when its answer is unknown
// (repeat the request).
func (s *Service) TerminateAgreement(ctx context.Context, id, reason string) (*ent.Agreement, error) {
	a, err := s.Agreement(ctx, id)
	if err != nil {
		return nil, err
	}
	switch a.Status {
	case agreementstatus.Terminated:
		return a, nil
	case agreementstatus.Failed:
		return nil, payments.Errorf(payments.ECONFLICT, "a failed agreement cannot be terminated")
	}
	if a.ConnectorReference != "" {
		c, err := s.connector(a.Connector)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
		resp, err := c.TerminateAgreement(cctx, connectors.TerminateAgreementRequest{IdempotencyKey: "terminate:" + a.ID,
			AgreementID: a.ConnectorReference, Reason: reason})
		cancel()
		if err := operationError("termination", resp.Result, err); err != nil {
			return nil, err
		}
	}
	return s.applyAgreement(viewer.SystemContext(ctx), a.ID, agreementstatus.Terminate, "", nil, "")
}

// ChargeAgreement makes a merchant-initiated payment on an active agreement,
// through the pipeline (risk, the attempt, the call, the record) at the
// agreement's own connector; a decline fails the payment, as there is no
// buyer to try again. A repeated request with the same key returns the same
// payment. Returns ECONFLICT for an agreement that is not active or a key
// used for another charge, EINVALID for an amount in another currency or
// above the agreement's cap.
//
// The payment is decided (planCharge) under the agreement's lock, with the
// payment the key made already if any, and inserted by the operation step:
// two charges of one key never make two payments.
func (s *Service) ChargeAgreement(ctx context.Context, id string, amt money.Amount, description, reference, key string) (*ent.Payment, error) {
	if key == "" || len(key) > 128 {
		return nil, payments.FieldErrorf("idempotencyKey", "an idempotency key of 1 to 128 characters is required")
	}
	a, err := s.Agreement(ctx, id)
	if err != nil {
		return nil, err
	}
	ask := chargeAsk{paymentID: pulid.New("pay"), amount: amt, description: description, reference: reference, key: key}
	var p *ent.Payment
	var replay bool
	charge := func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		rows, err := s.readForCharge(ctx, tx, a.ID, a.MerchantID, key)
		if err != nil {
			return err
		}
		p, replay, err = planCharge(rows.agreement, rows.prior, ask, w)
		return err
	}
	err = s.apply(ctx, "charge of "+a.ID, a.ID, charge)
	if ent.IsConstraintError(err) {
		// The key's payment was made meanwhile, by a charge of another
		// agreement (keys are the merchant's): the charge decides again,
		// with it.
		err = s.apply(ctx, "charge of "+a.ID, a.ID, charge)
	}
	if err != nil || replay {
		return p, err
	}
	return s.run(ctx, p, PaymentMethod{Type: routing.DirectDebit, AgreementID: a.ConnectorReference, Connector: a.Connector}, key)
}

// chargeAsk is a charge on an agreement as the merchant asked for it, and
// the id its payment gets.
type chargeAsk struct {
	paymentID              string
	amount                 money.Amount
	description, reference string
	key                    string
}

// chargeRows is what a charge reads under its agreement's lock: the
// agreement, and the payment its key made already (nil if none).
type chargeRows struct {
	agreement *ent.Agreement
	prior     *ent.Payment
}

// readForCharge reads, in tx and one round trip on MySQL, agreement id
// locked (FOR UPDATE on MySQL) and merchant's payment of idempotency key
// key.
func (s *Service) readForCharge(ctx context.Context, tx *ent.Tx, id, merchantID, key string) (chargeRows, error) {
	var out chargeRows
	err := store.ReadTogether(ctx, tx.Client(), s.cfg.Dialect,
		func(ctx context.Context, c *ent.Client) (err error) {
			q := c.Agreement.Query().Where(agreement.ID(id))
			if s.cfg.Dialect == dialect.MySQL {
				q = q.ForUpdate()
			}
			if out.agreement, err = q.Only(ctx); err != nil {
				return fmt.Errorf("agreement %s: %w", id, err)
			}
			return nil
		},
		func(ctx context.Context, c *ent.Client) (err error) {
			out.prior, err = c.Payment.Query().Where(payment.MerchantID(merchantID), payment.IdempotencyKey(key)).Only(ctx)
			if ent.IsNotFound(err) {
				out.prior, err = nil, nil
			}
			if err != nil {
				return fmt.Errorf("payment of key %q: %w", key, err)
			}
			return nil
		})
	return out, err
}

// planCharge decides a charge on agreement a, read under its lock, given
// prior, the payment the charge's key made already (nil if none): a prior
// payment of the same agreement and amount is the charge's answer (replay,
// nothing written); else the agreement must be active, the amount in its
// currency and within its cap, and the payment is inserted awaiting its
// payment method, for the pipeline to confirm. It adds the insert to w.
// Returns ECONFLICT for a key used for another charge or an agreement that
// is not active, EINVALID for a bad amount.
func planCharge(a *ent.Agreement, prior *ent.Payment, ask chargeAsk, w *recordWrites) (p *ent.Payment, replay bool, err error) {
	amt := ask.amount
	if prior != nil {
		if prior.AgreementID != a.ID || prior.Amount != amt.Minor || prior.Currency != amt.Currency.Code() {
			return nil, false, payments.Errorf(payments.ECONFLICT, "idempotency key %q was used for another charge", ask.key)
		}
		return prior, true, nil
	}
	if err := validateAmount("amount", amt); err != nil {
		return nil, false, err
	}
	switch {
	case a.Status != agreementstatus.Active:
		return nil, false, payments.Errorf(payments.ECONFLICT, "an agreement that is %s cannot be charged", a.Status)
	case amt.Currency.Code() != a.Currency:
		return nil, false, payments.FieldErrorf("amount", "the agreement is in %s", a.Currency)
	case a.MaxAmount > 0 && amt.Minor > a.MaxAmount:
		return nil, false, payments.FieldErrorf("amount", "amount %d is above the agreement's cap of %d", amt.Minor, a.MaxAmount)
	}
	key := ask.key
	p = &ent.Payment{ID: ask.paymentID, MerchantID: a.MerchantID, Amount: amt.Minor, Currency: amt.Currency.Code(),
		CaptureMethod: payment.CaptureMethodAUTOMATIC, Status: paymentstatus.RequiresPaymentMethod,
		CustomerID: a.CustomerID, AgreementID: a.ID, Description: ask.description, MerchantReference: ask.reference,
		IdempotencyKey: &key}
	w.newPayments = append(w.newPayments, p)
	return p, false, nil
}

// agreementEvent applies a channel's news about an agreement.
func (s *Service) agreementEvent(ctx context.Context, ev connectors.Event, eventID string) error {
	q := s.cfg.Client.Agreement.Query()
	switch {
	case strings.HasPrefix(ev.Reference, "agr_"):
		q.Where(agreement.ID(ev.Reference))
	case ev.ObjectID != "":
		q.Where(agreement.ConnectorReference(ev.ObjectID))
	default:
		return payments.Errorf(payments.EINVALID, "event %s names no agreement", ev.ID)
	}
	a, err := q.First(ctx)
	if ent.IsNotFound(err) {
		return payments.Errorf(payments.ENOTFOUND, "event %s: no agreement %q / %q", ev.ID, ev.Reference, ev.ObjectID)
	}
	if err != nil {
		return err
	}
	_, err = s.applyAgreement(ctx, a.ID, agreementEvent(ev.Result, nil), ev.Result.Code,
		map[string]any{"ref": ev.ObjectID}, eventID)
	return err
}
