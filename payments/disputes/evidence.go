package disputes

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// EvidenceFields are the typed evidence fields a merchant may stage, by the
// names the channel receives. Each holds text; together they are at most
// MaxEvidenceText bytes.
var EvidenceFields = []string{
	"product_description", "customer_communication", "receipt", "customer_name", "customer_email_address",
	"customer_purchase_ip", "billing_address", "shipping_carrier", "shipping_tracking_number", "shipping_date",
	"shipping_address", "refund_policy", "cancellation_policy", "duplicate_charge_id", "service_date",
	"uncategorized_text",
}

// MaxEvidenceText bounds the staged evidence text in all, in bytes: card
// networks take a few pages of text (the contract allows 150 000 bytes, with
// room for the field names).
const MaxEvidenceText = 100_000

// UpdateEvidence stages evidence fields without sending them: each field in
// fields replaces the staged one, and an empty value removes it. Returns
// EINVALID (field "evidence") for an unknown field name or text over
// MaxEvidenceText in all, ENOTFOUND for a dispute the caller cannot see,
// ECONFLICT for one that takes no answer (closed, answered, past due).
func (s *Service) UpdateEvidence(ctx context.Context, id string, fields map[string]string) (*ent.Dispute, error) {
	for k := range fields {
		if !slices.Contains(EvidenceFields, k) {
			return nil, payments.FieldErrorf("evidence", "unknown evidence field %q", clip(k, 64))
		}
	}
	d, err := s.Dispute(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.answerable(d); err != nil {
		return nil, err
	}
	staged := maps.Clone(d.Evidence)
	if staged == nil {
		staged = map[string]string{}
	}
	for k, v := range fields {
		if v = strings.TrimSpace(v); v == "" {
			delete(staged, k)
		} else {
			staged[k] = v
		}
	}
	if err := checkEvidenceSize(staged, "evidence text", ""); err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(fields))
	sys := viewer.SystemContext(ctx)
	err = s.tx(sys, func(tx *ent.Tx) error {
		if err := tx.Dispute.UpdateOneID(d.ID).SetEvidence(staged).Exec(sys); err != nil {
			return err
		}
		return tx.DisputeEvent.Create().SetMerchantID(d.MerchantID).SetDisputeID(d.ID).SetKind(LineEvidenceStaged).
			SetFromState(string(d.State)).SetToState(string(d.State)).SetNote(clip("staged: "+strings.Join(names, ", "), 512)).Exec(sys)
	})
	if err != nil {
		return nil, fmt.Errorf("dispute %s: stage evidence: %w", d.ID, err)
	}
	return s.Dispute(ctx, d.ID)
}

// SubmitEvidence sends the staged evidence (and files) to the channel, once
// per stage, before the due date. With useCompelling, the Compelling
// Evidence 3.0 bundle (CompellingEvidence, compellingFields) is staged with
// it first: the merchant's staged fields win over the disputed payment's
// facts, and the bundle's summary is added to uncategorized_text. Returns
// EINVALID (field "evidence") when nothing is staged, or (field
// "useCompellingEvidence") when the dispute does not qualify for CE3.0,
// with the reasons; ENOTFOUND for a dispute the caller cannot see,
// ECONFLICT for one that takes no answer (closed, already answered, past
// due) or that the channel refuses, EUNAVAILABLE when the channel cannot be
// reached.
func (s *Service) SubmitEvidence(ctx context.Context, id string, useCompelling bool) (*ent.Dispute, error) {
	d, err := s.Dispute(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.answerable(d); err != nil {
		return nil, err
	}
	if useCompelling {
		if d, err = s.stageCompelling(ctx, d); err != nil {
			return nil, err
		}
	}
	files, err := s.evidenceFiles(ctx, d)
	if err != nil {
		return nil, err
	}
	if len(d.Evidence) == 0 && len(files) == 0 {
		return nil, payments.FieldErrorf("evidence", "dispute %s has no evidence staged", d.ID)
	}
	c, err := s.connector(d)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	defer cancel()
	resp, err := c.SubmitDisputeEvidence(cctx, connectors.SubmitDisputeEvidenceRequest{
		IdempotencyKey: channelKey(d, "evidence"), DisputeID: d.NetworkDisputeID, Evidence: d.Evidence, Files: files})
	if err := answerError(d, resp.Result, err); err != nil {
		return nil, err
	}
	return s.recordAnswer(ctx, d, resp.Dispute, LineEvidenceSubmitted,
		fmt.Sprintf("evidence submitted: %d fields, %d files", len(d.Evidence), len(files)), true)
}

// CompellingEvidence applies Visa's Compelling Evidence 3.0 to a dispute
// (DecideCompelling): it reads the disputed payment and the merchant's
// payments of the same card from 365 to 120 days before it (the index on
// merchant, card fingerprint and date), and which of those were disputed.
// Returns ENOTFOUND for a dispute the caller cannot see.
func (s *Service) CompellingEvidence(ctx context.Context, id string) (Compelling, *ent.Dispute, error) {
	d, err := s.Dispute(ctx, id)
	if err != nil {
		return Compelling{}, nil, err
	}
	sys := viewer.SystemContext(ctx) // the dispute is the caller's: so are its payment and the payments read below
	p, err := s.cfg.Client.Payment.Get(sys, d.PaymentID)
	if err != nil {
		return Compelling{}, nil, fmt.Errorf("dispute %s: payment: %w", d.ID, err)
	}
	var priors []*ent.Payment
	disputed := map[string]bool{}
	if p.CardFingerprint != "" {
		priors, err = s.cfg.Client.Payment.Query().Where(payment.MerchantID(p.MerchantID), payment.CardFingerprint(p.CardFingerprint),
			payment.CreatedAtGTE(p.CreatedAt.Add(-CEMaxAge)), payment.CreatedAtLTE(p.CreatedAt.Add(-CEMinAge)),
			payment.StatusEQ(paymentstatus.Succeeded)).
			Order(ent.Desc(payment.FieldCreatedAt)).Limit(maxCEPriors).All(sys)
		if err != nil {
			return Compelling{}, nil, fmt.Errorf("dispute %s: card history: %w", d.ID, err)
		}
		ids := make([]string, len(priors))
		for i, q := range priors {
			ids[i] = q.ID
		}
		if len(ids) > 0 {
			got, err := s.cfg.Client.Dispute.Query().Where(dispute.PaymentIDIn(ids...)).Select(dispute.FieldPaymentID).Strings(sys)
			if err != nil {
				return Compelling{}, nil, fmt.Errorf("dispute %s: disputes of the card history: %w", d.ID, err)
			}
			for _, id := range got {
				disputed[id] = true
			}
		}
	}
	return DecideCompelling(d, p, priors, disputed), d, nil
}

// maxCEPriors bounds the card history read for one dispute: the most recent
// in the window, far more than a card pays one merchant in eight months.
const maxCEPriors = 500

// Evidence field names of the CE3.0 bundle (compellingFields): the disputed
// payment's elements and the prior payments', as JSON, which the channel
// compares itself (the sandbox's convention: sandbox/API.md).
const (
	FieldCEDisputed = "ce3_disputed_transaction"
	FieldCEPriors   = "ce3_prior_transactions"
)

// ceTransaction is a payment as the CE3.0 bundle shows it.
type ceTransaction struct {
	ID                  string    `json:"id"`
	ChannelReference    string    `json:"channel_reference,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	IPAddress           string    `json:"ip_address,omitempty"`
	DeviceIDHash        string    `json:"device_id_hash,omitempty"`
	ShippingAddressHash string    `json:"shipping_address_hash,omitempty"`
	CustomerID          string    `json:"customer_id,omitempty"`
	CustomerEmail       string    `json:"customer_email,omitempty"`
	Matched             []Element `json:"matched,omitempty"`
}

// compellingFields is the CE3.0 bundle as evidence fields: the two priors
// and the disputed payment's elements, and, where the merchant staged none,
// the buyer's IP, email and shipping address of the disputed payment.
func (s *Service) compellingFields(ctx context.Context, d *ent.Dispute, ce Compelling) (map[string]string, error) {
	sys := viewer.SystemContext(ctx)
	p, err := s.cfg.Client.Payment.Get(sys, d.PaymentID)
	if err != nil {
		return nil, fmt.Errorf("dispute %s: payment: %w", d.ID, err)
	}
	tx := func(p *ent.Payment, matched []Element) (ceTransaction, error) {
		ref, err := s.cfg.Client.PaymentAttempt.Query().Where(paymentattempt.PaymentID(p.ID), paymentattempt.ConnectorReferenceNEQ("")).
			Order(ent.Desc(paymentattempt.FieldCreatedAt)).Select(paymentattempt.FieldConnectorReference).Strings(sys)
		if err != nil {
			return ceTransaction{}, fmt.Errorf("payment %s: attempts: %w", p.ID, err)
		}
		t := ceTransaction{ID: p.ID, CreatedAt: p.CreatedAt.UTC(), IPAddress: p.BuyerIP, DeviceIDHash: p.DeviceIDHash,
			ShippingAddressHash: p.ShippingAddressHash, CustomerID: p.CustomerID, CustomerEmail: p.BuyerEmail, Matched: matched}
		if len(ref) > 0 {
			t.ChannelReference = ref[0]
		}
		return t, nil
	}
	cur, err := tx(p, nil)
	if err != nil {
		return nil, err
	}
	var priors []ceTransaction
	for _, c := range ce.Candidates {
		t, err := tx(c.Payment, c.Matched)
		if err != nil {
			return nil, err
		}
		priors = append(priors, t)
	}
	a, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(priors)
	if err != nil {
		return nil, err
	}
	out := map[string]string{FieldCEDisputed: string(a), FieldCEPriors: string(b)}
	if p.BuyerIP != "" {
		out["customer_purchase_ip"] = p.BuyerIP
	}
	if p.BuyerEmail != "" {
		out["customer_email_address"] = p.BuyerEmail
	}
	if p.CheckoutSessionID != "" {
		sess, err := s.cfg.Client.CheckoutSession.Get(sys, p.CheckoutSessionID)
		if err != nil {
			return nil, fmt.Errorf("payment %s: session: %w", p.ID, err)
		}
		if a := FormatShippingAddress(sess.ShippingAddress); a != "" {
			out["shipping_address"] = a
		}
	}
	var lines []string
	for _, c := range ce.Candidates {
		lines = append(lines, fmt.Sprintf("%s, %d days before, shares %s", c.Payment.ID, c.DaysBefore, elementNames(c.Matched)))
	}
	out["uncategorized_text"] = "Visa Compelling Evidence 3.0: prior undisputed transactions of the same card: " + strings.Join(lines, "; ")
	return out, nil
}

// stageCompelling stages the CE3.0 bundle of d with its staged evidence.
func (s *Service) stageCompelling(ctx context.Context, d *ent.Dispute) (*ent.Dispute, error) {
	ce, _, err := s.CompellingEvidence(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	if !ce.Eligible {
		return nil, payments.FieldErrorf("useCompellingEvidence", "dispute %s does not qualify for Compelling Evidence 3.0: %s", d.ID, strings.Join(ce.Reasons, "; "))
	}
	bundle, err := s.compellingFields(ctx, d, ce)
	if err != nil {
		return nil, err
	}
	staged := maps.Clone(d.Evidence)
	if staged == nil {
		staged = map[string]string{}
	}
	for k, v := range bundle {
		switch {
		case k == "uncategorized_text" && staged[k] != "":
			staged[k] += "\n\n" + v
		case strings.HasPrefix(k, "ce3_") || staged[k] == "":
			staged[k] = v
		}
	}
	if err := checkEvidenceSize(staged, "evidence text with the Compelling Evidence 3.0 bundle", ": stage less"); err != nil {
		return nil, err
	}
	ids := make([]string, len(ce.Candidates))
	for i, c := range ce.Candidates {
		ids[i] = c.Payment.ID
	}
	sys := viewer.SystemContext(ctx)
	err = s.tx(sys, func(tx *ent.Tx) error {
		if err := tx.Dispute.UpdateOneID(d.ID).SetEvidence(staged).Exec(sys); err != nil {
			return err
		}
		return tx.DisputeEvent.Create().SetMerchantID(d.MerchantID).SetDisputeID(d.ID).SetKind(LineEvidenceStaged).
			SetFromState(string(d.State)).SetToState(string(d.State)).
			SetNote(clip("staged: Compelling Evidence 3.0 with "+strings.Join(ids, ", "), 512)).Exec(sys)
	})
	if err != nil {
		return nil, fmt.Errorf("dispute %s: stage compelling evidence: %w", d.ID, err)
	}
	return s.Dispute(ctx, d.ID)
}

// checkEvidenceSize refuses staged evidence whose texts add up to more than
// MaxEvidenceText bytes (EINVALID on "evidence", naming what was counted,
// then the hint).
func checkEvidenceSize(staged map[string]string, what, hint string) error {
	total := 0
	for _, v := range staged {
		total += len(v)
	}
	if total > MaxEvidenceText {
		return payments.FieldErrorf("evidence", "%s is %d bytes in all, more than %d%s", what, total, MaxEvidenceText, hint)
	}
	return nil
}
