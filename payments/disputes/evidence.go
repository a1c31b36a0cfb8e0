package disputes

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
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
	total := 0
	for _, v := range staged {
		total += len(v)
	}
	if total > MaxEvidenceText {
		return nil, payments.FieldErrorf("evidence", "evidence text is %d bytes in all, more than %d", total, MaxEvidenceText)
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
// per stage, before the due date. Returns EINVALID (field "evidence") when
// nothing is staged, ENOTFOUND for a dispute the caller cannot see,
// ECONFLICT for one that takes no answer (closed, already answered, past
// due) or that the channel refuses, EUNAVAILABLE when the channel cannot be
// reached.
func (s *Service) SubmitEvidence(ctx context.Context, id string) (*ent.Dispute, error) {
	d, err := s.Dispute(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.answerable(d); err != nil {
		return nil, err
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
