package graph

import (
	"context"
	"encoding/json"
	"strings"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/webhookdelivery"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments"
)

// eventsNewestFirst orders by ID descending: IDs are time-ordered and
// (merchant_id, created_at, id), (merchant_id, type, id) and (object_id, id)
// are indexed, so each filtered page is an index range scan.
var eventsNewestFirst = ent.WithEventOrder(&ent.EventOrder{Direction: entgql.OrderDirectionDesc, Field: ent.DefaultEventOrder.Field})

var endpointsNewestFirst = ent.WithWebhookEndpointOrder(&ent.WebhookEndpointOrder{
	Direction: entgql.OrderDirectionDesc, Field: ent.DefaultWebhookEndpointOrder.Field,
})

var deliveriesNewestFirst = ent.WithWebhookDeliveryOrder(&ent.WebhookDeliveryOrder{
	Direction: entgql.OrderDirectionDesc, Field: ent.DefaultWebhookDeliveryOrder.Field,
})

// eventFilter applies an events list filter; nil applies nothing.
func eventFilter(f *model.EventListFilter) ent.EventPaginateOption {
	return ent.WithEventFilter(func(q *ent.EventQuery) (*ent.EventQuery, error) {
		if f == nil {
			return q, nil
		}
		if f.Type != nil {
			if strings.HasSuffix(*f.Type, ".") {
				q.Where(event.TypeHasPrefix(*f.Type))
			} else {
				q.Where(event.Type(*f.Type))
			}
		}
		if f.ObjectID != nil {
			q.Where(event.ObjectID(*f.ObjectID))
		}
		if f.CreatedAfter != nil {
			q.Where(event.CreatedAtGTE(*f.CreatedAfter))
		}
		if f.CreatedBefore != nil {
			q.Where(event.CreatedAtLT(*f.CreatedBefore))
		}
		return q, nil
	})
}

func eventCursor(e *ent.Event) *entgql.Cursor[string] {
	if e.Seq == nil {
		return nil
	}
	return &entgql.Cursor[string]{ID: e.ID, Value: *e.Seq}
}

func eventData(e *ent.Event) (string, error) {
	b, err := json.Marshal(e.Data)
	return string(b), err
}

func endpointSecret(e *ent.WebhookEndpoint, secret string, err error) (*model.WebhookEndpointSecret, error) {
	if err != nil {
		return nil, err
	}
	return &model.WebhookEndpointSecret{Endpoint: e, Secret: secret}, nil
}

// webhookDeliveries is an endpoint's delivery log. Returns ENOTFOUND for an
// endpoint the caller cannot see (ent privacy hides other merchants').
func (r *Resolver) webhookDeliveries(ctx context.Context, endpointID string, after *entgql.Cursor[string], first *int) (*ent.WebhookDeliveryConnection, error) {
	if _, err := r.Client.WebhookEndpoint.Get(ctx, endpointID); err != nil {
		if ent.IsNotFound(err) {
			return nil, payments.Errorf(payments.ENOTFOUND, "webhook endpoint %q not found", truncate(endpointID, 64))
		}
		return nil, err
	}
	return r.Client.WebhookDelivery.Query().Where(webhookdelivery.EndpointID(endpointID)).
		Paginate(ctx, after, first, nil, nil, deliveriesNewestFirst)
}
