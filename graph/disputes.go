package graph

import (
	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/graph/model"
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
