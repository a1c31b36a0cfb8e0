package graph

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/runs"
	"github.com/straitpay/strait/payments/viewer"
)

// SocketCloser closes the websocket a subscription runs on, with a close
// code and reason; the transport puts it in the context (WithSocketCloser).
type SocketCloser func(code int, reason string)

type socketCloserKey struct{}

// WithSocketCloser returns ctx carrying close.
func WithSocketCloser(ctx context.Context, close SocketCloser) context.Context {
	return context.WithValue(ctx, socketCloserKey{}, close)
}

// CloseTryAgainLater is the websocket close code (1013) for a subscriber
// cut off for reading too slowly: it may reconnect and resume.
const CloseTryAgainLater = 1013

// liveStream runs a hub subscription and hands each message, converted by
// conv, to the returned channel; conv returns nil to skip a message. A
// subscriber cut off for reading too slowly has its socket closed (it
// resumes from its last cursor).
func liveStream[T any](ctx context.Context, hub *events.Hub, f events.Filter, after int64,
	conv func(context.Context, events.Message) (*T, error)) (<-chan *T, error) {
	if hub == nil {
		return nil, payments.Errorf(payments.EUNAVAILABLE, "live events are not running")
	}
	// The hub's goroutine converts and hands on each message: no
	// goroutine of its own per subscriber.
	out := make(chan *T)
	var sub *events.Subscription
	ready := make(chan struct{})
	sub = hub.Stream(ctx, f, after, func(sctx context.Context, m events.Message) bool {
		v, err := conv(ctx, m)
		if err != nil {
			return false // the client resumes from its last cursor
		}
		if v == nil {
			return true
		}
		select {
		case out <- v:
			return true
		case <-sctx.Done():
			return false
		}
	}, func() {
		<-ready
		if errors.Is(sub.Err(), events.ErrSlowConsumer) {
			if closeSocket, ok := ctx.Value(socketCloserKey{}).(SocketCloser); ok {
				closeSocket(CloseTryAgainLater, "slow consumer: resume from your last cursor")
			}
		}
		close(out)
	})
	close(ready)
	return out, nil
}

// afterSeq is the sequence number a subscription's `after` cursor names.
// Returns EINVALID for a cursor that names no published event.
func (r *Resolver) afterSeq(ctx context.Context, after *entgql.Cursor[string]) (int64, error) {
	if after == nil {
		return 0, nil
	}
	e, err := r.Client.Event.Query().Where(event.ID(after.ID)).Only(viewer.SystemContext(ctx))
	if err != nil || e.Seq == nil {
		return 0, payments.FieldErrorf("after", "unknown cursor")
	}
	return *e.Seq, nil
}

func cursorOf(m events.Message) entgql.Cursor[string] {
	return entgql.Cursor[string]{ID: m.ID, Value: m.Seq}
}

// paymentUpdated streams the payment.* events of the caller's merchant
// (operators: every merchant's), or of one payment, each with the payment
// as the caller may read it now.
func (r *Resolver) paymentUpdated(ctx context.Context, id *string, after *entgql.Cursor[string]) (<-chan *model.PaymentChange, error) {
	return subscribeObjects(ctx, r, id, after, objectEvents[model.PaymentChange]{types: []string{"payment."}, find: found(r.payment),
		change: loaded(r.Client.Payment.Get, func(m events.Message, p *ent.Payment) *model.PaymentChange {
			return &model.PaymentChange{Cursor: cursorOf(m), EventID: m.ID, Type: m.Type, OccurredAt: m.CreatedAt, Payment: p}
		})})
}

// checkoutSessionUpdated streams the cashier's own session's events: the
// hub hands it only the events that name its session (events.Filter), so
// a merchant's other payments cost it nothing. Each comes with the session
// and, for a payment's event or the session's completion, the payment, as
// the cashier may read them now (ent privacy still confines it to its
// session's rows).
func (r *Resolver) checkoutSessionUpdated(ctx context.Context, after *entgql.Cursor[string]) (<-chan *model.CheckoutSessionChange, error) {
	v, _ := viewer.FromContext(ctx)
	if v.SessionID == "" {
		// An empty session would filter on nothing: every event of the merchant.
		return nil, payments.Errorf(payments.EFORBIDDEN, "only a checkout session's cashier follows it")
	}
	seq, err := r.afterSeq(ctx, after)
	if err != nil {
		return nil, err
	}
	f := events.Filter{MerchantID: v.MerchantID, CheckoutSessionID: v.SessionID, Types: []string{"payment.", "checkout_session."}}
	return liveStream(ctx, r.Events, f, seq, func(ctx context.Context, m events.Message) (*model.CheckoutSessionChange, error) {
		p, err := r.sessionPayment(ctx, m)
		if ent.IsNotFound(err) {
			return nil, nil // not the cashier's to read
		}
		if err != nil {
			return nil, err
		}
		s, err := r.Client.CheckoutSession.Get(ctx, v.SessionID)
		if err != nil {
			return nil, err
		}
		return &model.CheckoutSessionChange{Cursor: cursorOf(m), EventID: m.ID, Type: m.Type, OccurredAt: m.CreatedAt, Session: s, Payment: p}, nil
	})
}

// sessionPayment is the payment a session's event is about, as the viewer
// may read it: a payment's event's object (ENOTFOUND, ent's, if the viewer
// may not read it), or the payment a session's completion names; nil for
// the session's other events.
func (r *Resolver) sessionPayment(ctx context.Context, m events.Message) (*ent.Payment, error) {
	if !strings.HasPrefix(m.Type, "checkout_session.") {
		return r.Client.Payment.Get(ctx, m.ObjectID)
	}
	var d struct {
		PaymentID string `json:"payment_id"`
	}
	if json.Unmarshal(m.Data, &d) != nil || d.PaymentID == "" {
		return nil, nil
	}
	p, err := r.Client.Payment.Get(ctx, d.PaymentID)
	if ent.IsNotFound(err) {
		return nil, nil // the session's change stands without it
	}
	return p, err
}

func (r *Resolver) connectorHealth(ctx context.Context, after *entgql.Cursor[string]) (<-chan *model.ConnectorHealthChange, error) {
	seq, err := r.afterSeq(ctx, after)
	if err != nil {
		return nil, err
	}
	f := events.Filter{Types: []string{events.TypeConnectorHealth}}
	return liveStream(ctx, r.Events, f, seq, func(_ context.Context, m events.Message) (*model.ConnectorHealthChange, error) {
		var d events.ConnectorHealthData
		if json.Unmarshal(m.Data, &d) != nil {
			return nil, nil
		}
		c := &model.ConnectorHealthChange{Cursor: cursorOf(m), Connector: d.Connector, Replica: d.Replica,
			Health: model.ConnectorHealth(strings.ToUpper(d.Health)), OccurredAt: m.CreatedAt}
		if d.LastError != "" {
			c.LastError = &d.LastError
		}
		return c, nil
	})
}

// settlementRunUpdated streams the settlement runs' progress events, or
// one run's (operators only: every merchant's).
func (r *Resolver) settlementRunUpdated(ctx context.Context, id *string, after *entgql.Cursor[string]) (<-chan *model.RunProgress, error) {
	return subscribeObjects(ctx, r, id, after, objectEvents[model.RunProgress]{types: runs.Types(runs.Settlement), change: runProgress})
}

// runProgress is a run event in GraphQL's shape; a payload that is not a
// run's is skipped.
func runProgress(_ context.Context, m events.Message) (*model.RunProgress, error) {
	p, err := runs.Decode(m.Data)
	if err != nil {
		return nil, nil
	}
	out := &model.RunProgress{Cursor: cursorOf(m), EventID: m.ID, Type: m.Type, RunID: p.RunID, Kind: p.Kind,
		Scope: p.Scope, Status: model.RunStatus(p.Status), Unit: p.Unit, Total: p.Total, Done: p.Done,
		Failed: p.Failed, Skipped: p.Skipped, StartedAt: p.Started, OccurredAt: m.CreatedAt}
	if p.Error != "" {
		out.Error = &p.Error
	}
	return out, nil
}

// runUpdated follows one run of any kind: after the cursor, or, without
// one, from the run's first event (a replay of what it reported so far),
// then live.
func (r *Resolver) runUpdated(ctx context.Context, id string, after *entgql.Cursor[string]) (<-chan *model.RunProgress, error) {
	seq, err := r.afterSeq(ctx, after)
	if err != nil {
		return nil, err
	}
	f := events.Filter{ObjectID: id, Types: runs.AllTypes()}
	if after == nil {
		first, err := r.Client.Event.Query().Where(event.ObjectID(id), event.SeqNotNil()).
			Order(ent.Asc(event.FieldSeq)).First(viewer.SystemContext(ctx))
		switch {
		case ent.IsNotFound(err): // nothing published yet: live from now
		case err != nil:
			return nil, err
		default:
			seq = events.Before(*first.Seq)
		}
	}
	return liveStream(ctx, r.Events, f, seq, runProgress)
}

// balanceMoves are the events after which a merchant's balances changed.
var balanceMoves = []string{"payment.succeeded", "refund.succeeded", "fx.", "payout.", "dispute.", "settlement."}

func (r *Resolver) balanceUpdated(ctx context.Context) (<-chan *model.BalanceChange, error) {
	mid := merchantOf(ctx)
	return liveStream(ctx, r.Events, events.Filter{MerchantID: mid, Types: balanceMoves}, 0,
		func(ctx context.Context, m events.Message) (*model.BalanceChange, error) {
			bs, err := ptrs(r.Ledger.MerchantBalances(ctx, mid))
			if err != nil {
				return nil, err
			}
			return &model.BalanceChange{Cursor: cursorOf(m), EventID: m.ID, Balances: bs}, nil
		})
}

// statsEvery bounds how often merchantStats recomputes: a busy merchant's
// stream of payments costs one query a second, not one per payment.
const statsEvery = time.Second

func (r *Resolver) merchantStats(ctx context.Context, windowSeconds *int) (<-chan *model.MerchantStats, error) {
	window := 300
	if windowSeconds != nil {
		window = *windowSeconds
	}
	if window < 10 || window > 86400 {
		return nil, payments.FieldErrorf("windowSeconds", "windowSeconds must be between 10 and 86400")
	}
	mid := merchantOf(ctx)
	sub, err := r.Events.Subscribe(ctx, events.Filter{MerchantID: mid, Types: []string{"payment."}}, 0)
	if err != nil {
		return nil, err
	}
	out := make(chan *model.MerchantStats)
	go func() {
		defer close(out)
		tick := time.NewTicker(statsEvery)
		defer tick.Stop()
		dirty := true // the first figures go out at once
		for {
			if dirty {
				st, err := events.ComputeStats(ctx, r.Client, mid, time.Duration(window)*time.Second, time.Now())
				if err != nil {
					return
				}
				select {
				case out <- statsModel(st, window):
				case <-ctx.Done():
					return
				}
				dirty = false
			}
			select {
			case <-ctx.Done():
				return
			case _, ok := <-sub.C():
				if !ok {
					return
				}
				// Wait for the tick: changes within a second share a computation.
				for waiting := true; waiting; {
					select {
					case <-tick.C:
						waiting = false
					case _, ok := <-sub.C():
						if !ok {
							return
						}
					case <-ctx.Done():
						return
					}
				}
				dirty = true
			}
		}
	}()
	return out, nil
}

func statsModel(st events.Stats, window int) *model.MerchantStats {
	return &model.MerchantStats{WindowSeconds: window, Payments: st.Payments, Succeeded: st.Succeeded, Failed: st.Failed,
		SuccessRate: st.SuccessRate(), AverageLatencyMs: st.AverageLatencyMs(), GrossVolume: grossVolume(st), At: st.At}
}

func grossVolume(st events.Stats) []*money.Amount {
	out := make([]*money.Amount, len(st.GrossVolume))
	for i := range st.GrossVolume {
		out[i] = &st.GrossVolume[i]
	}
	return out
}
