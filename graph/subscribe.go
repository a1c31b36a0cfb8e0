package graph

import (
	"context"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/viewer"
)

// objectEvents is a subscription to one kind of object's events.
type objectEvents[T any] struct {
	// types are the events' type prefixes.
	types []string
	// find checks an object the subscriber names: its error (ENOTFOUND
	// for one the caller cannot see) ends the subscription before it
	// starts. nil: any ID may be named.
	find func(ctx context.Context, id string) error
	// change is what the subscriber gets for an event; nil skips it.
	change func(ctx context.Context, m events.Message) (*T, error)
}

// subscribeObjects streams oe's events of the caller's merchant
// (operators: every merchant's), or of the one object id names, from the
// event after the cursor after. Returns find's error for an object the
// caller may not see, and EINVALID for a cursor that names no published
// event.
func subscribeObjects[T any](ctx context.Context, r *Resolver, id *string, after *entgql.Cursor[string],
	oe objectEvents[T]) (<-chan *T, error) {
	v, _ := viewer.FromContext(ctx)
	f := events.Filter{MerchantID: v.MerchantID, Types: oe.types}
	if id != nil {
		if oe.find != nil {
			if err := oe.find(ctx, *id); err != nil {
				return nil, err
			}
		}
		f.ObjectID = *id
	}
	seq, err := r.afterSeq(ctx, after)
	if err != nil {
		return nil, err
	}
	return liveStream(ctx, r.Events, f, seq, oe.change)
}

// found turns a getter into objectEvents.find.
func found[O any](get func(context.Context, string) (O, error)) func(context.Context, string) error {
	return func(ctx context.Context, id string) error {
		_, err := get(ctx, id)
		return err
	}
}

// loaded is an objectEvents.change that reads the event's object by get,
// as the caller may read it now, and hands it to change; an event whose
// object the caller cannot read (ent privacy answers not found) is
// skipped.
func loaded[O, T any](get func(context.Context, string) (O, error), change func(events.Message, O) *T) func(context.Context, events.Message) (*T, error) {
	return func(ctx context.Context, m events.Message) (*T, error) {
		o, err := get(ctx, m.ObjectID)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return change(m, o), nil
	}
}
