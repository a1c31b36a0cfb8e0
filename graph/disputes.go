package graph

import (
	"context"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments/events"
)

var disputesNewestFirst = ent.WithDisputeOrder(&ent.DisputeOrder{
	Direction: entgql.OrderDirectionDesc, Field: ent.DefaultDisputeOrder.Field,
})

func disputeFilter(f *model.DisputeListFilter) ent.DisputePaginateOption {
	return ent.WithDisputeFilter(func(q *ent.DisputeQuery) (*ent.DisputeQuery, error) {
		if f == nil {
			return q, nil
		}
		if f.State != nil {
			q.Where(dispute.StateEQ(*f.State))
		}
		if f.Reason != nil {
			q.Where(dispute.ReasonEQ(*f.Reason))
		}
		if f.DueBefore != nil {
			q.Where(dispute.DueByLT(*f.DueBefore))
		}
		return q, nil
	})
}

// evidenceSlots pairs each evidence field's name (payments/disputes'
// EvidenceFields) with its GraphQL field in the output and the input.
func evidenceSlots(out *model.DisputeEvidence, in *model.DisputeEvidenceInput) map[string][2]**string {
	return map[string][2]**string{
		"product_description":      {&out.ProductDescription, &in.ProductDescription},
		"customer_communication":   {&out.CustomerCommunication, &in.CustomerCommunication},
		"receipt":                  {&out.Receipt, &in.Receipt},
		"customer_name":            {&out.CustomerName, &in.CustomerName},
		"customer_email_address":   {&out.CustomerEmailAddress, &in.CustomerEmailAddress},
		"customer_purchase_ip":     {&out.CustomerPurchaseIP, &in.CustomerPurchaseIP},
		"billing_address":          {&out.BillingAddress, &in.BillingAddress},
		"shipping_carrier":         {&out.ShippingCarrier, &in.ShippingCarrier},
		"shipping_tracking_number": {&out.ShippingTrackingNumber, &in.ShippingTrackingNumber},
		"shipping_date":            {&out.ShippingDate, &in.ShippingDate},
		"shipping_address":         {&out.ShippingAddress, &in.ShippingAddress},
		"refund_policy":            {&out.RefundPolicy, &in.RefundPolicy},
		"cancellation_policy":      {&out.CancellationPolicy, &in.CancellationPolicy},
		"duplicate_charge_id":      {&out.DuplicateChargeID, &in.DuplicateChargeID},
		"service_date":             {&out.ServiceDate, &in.ServiceDate},
		"uncategorized_text":       {&out.UncategorizedText, &in.UncategorizedText},
	}
}

// disputeEvidence is a dispute's staged evidence in GraphQL's shape.
func disputeEvidence(d *ent.Dispute) *model.DisputeEvidence {
	out := &model.DisputeEvidence{}
	for name, slot := range evidenceSlots(out, &model.DisputeEvidenceInput{}) {
		if v, ok := d.Evidence[name]; ok {
			*slot[0] = &v
		}
	}
	return out
}

// evidenceFields is the input's fields by name; an empty string stays, to
// remove the field.
func evidenceFields(in model.DisputeEvidenceInput) map[string]string {
	fields := map[string]string{}
	for name, slot := range evidenceSlots(&model.DisputeEvidence{}, &in) {
		if v := *slot[1]; v != nil {
			fields[name] = *v
		}
	}
	return fields
}

// compellingEvidence is Compelling Evidence 3.0 for d in GraphQL's shape.
func (r *Resolver) compellingEvidence(ctx context.Context, d *ent.Dispute) (*model.CompellingEvidence, error) {
	ce, _, err := r.Disputes.CompellingEvidence(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	out := &model.CompellingEvidence{Eligible: ce.Eligible, Reasons: ce.Reasons, Candidates: []*model.CompellingEvidenceCandidate{}}
	for _, c := range ce.Candidates {
		m := make([]model.CompellingEvidenceElement, len(c.Matched))
		for i, e := range c.Matched {
			m[i] = model.CompellingEvidenceElement(e)
		}
		out.Candidates = append(out.Candidates, &model.CompellingEvidenceCandidate{Payment: c.Payment, Matched: m, DaysBefore: c.DaysBefore})
	}
	return out, nil
}

// disputeUpdated streams the dispute.* events of the caller's merchant
// (operators: every merchant's), or of one dispute, each with the dispute as
// the caller may read it now.
func (r *Resolver) disputeUpdated(ctx context.Context, id *string, after *entgql.Cursor[string]) (<-chan *model.DisputeChange, error) {
	return subscribeObjects(ctx, r, id, after, objectEvents[model.DisputeChange]{types: []string{"dispute."}, find: found(r.Disputes.Dispute),
		change: loaded(r.Client.Dispute.Get, func(m events.Message, d *ent.Dispute) *model.DisputeChange {
			return &model.DisputeChange{Cursor: cursorOf(m), EventID: m.ID, Type: m.Type, OccurredAt: m.CreatedAt, Dispute: d}
		})})
}
