package graph

import (
	"context"
	"github.com/straitpay/strait/vocab/reviewstatus"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments"
)

// paymentsNewestFirst orders by ID descending: IDs are time-ordered, and
// (merchant_id, id) is indexed, so every page is an index range scan however
// many payments a merchant has.
var paymentsNewestFirst = ent.WithPaymentOrder(&ent.PaymentOrder{
	Direction: entgql.OrderDirectionDesc, Field: ent.DefaultPaymentOrder.Field,
})

// paymentFilter applies a list filter; nil applies nothing.
func paymentFilter(f *model.PaymentListFilter) ent.PaymentPaginateOption {
	return ent.WithPaymentFilter(func(q *ent.PaymentQuery) (*ent.PaymentQuery, error) {
		if f == nil {
			return q, nil
		}
		if f.Status != nil {
			q.Where(payment.StatusEQ(*f.Status))
		}
		if f.MerchantReference != nil {
			q.Where(payment.MerchantReference(*f.MerchantReference))
		}
		if f.CustomerID != nil {
			q.Where(payment.CustomerID(*f.CustomerID))
		}
		if f.CreatedAfter != nil {
			q.Where(payment.CreatedAtGTE(*f.CreatedAfter))
		}
		if f.CreatedBefore != nil {
			q.Where(payment.CreatedAtLT(*f.CreatedBefore))
		}
		return q, nil
	})
}

func (r *Resolver) payment(ctx context.Context, id string) (*ent.Payment, error) {
	p, err := r.Client.Payment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "payment %q not found", truncate(id, 64))
	}
	return p, err
}

// reviewQueue keeps the payments sent to review, those whose review is
// status when it is given. The (merchant_id, review_status, id) and
// (review_status, id) indexes serve it.
func reviewQueue(status *reviewstatus.Status) ent.PaymentPaginateOption {
	return ent.WithPaymentFilter(func(q *ent.PaymentQuery) (*ent.PaymentQuery, error) {
		if status == nil {
			return q.Where(payment.ReviewStatusNotNil()), nil
		}
		return q.Where(payment.ReviewStatusEQ(*status)), nil
	})
}

// reviewOf is a payment's review as the API shows it; nil when risk never
// sent the payment to review.
func reviewOf(p *ent.Payment) *model.PaymentReview {
	if p.ReviewStatus == nil {
		return nil
	}
	r := &model.PaymentReview{Status: *p.ReviewStatus, Reason: p.ReviewReason,
		OpenedAt: deref(p.ReviewOpenedAt), ClosedAt: p.ReviewClosedAt}
	if p.ReviewClosedBy != "" {
		r.ClosedBy = &p.ReviewClosedBy
	}
	if p.ReviewCloseNote != "" {
		r.CloseNote = &p.ReviewCloseNote
	}
	return r
}
