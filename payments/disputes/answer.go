package disputes

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// Dispute returns a dispute the caller may see. Returns ENOTFOUND for an id
// that does not exist or belongs to another merchant.
func (s *Service) Dispute(ctx context.Context, id string) (*ent.Dispute, error) {
	d, err := s.cfg.Client.Dispute.Get(ctx, id)
	if ent.IsNotFound(err) || ent.IsNotSingular(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "no dispute %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("dispute %s: %w", id, err)
	}
	return d, nil
}

// answerable checks that d waits for the merchant's answer: ECONFLICT when it
// is closed, already answered at its stage, or past its due date.
func (s *Service) answerable(d *ent.Dispute) error {
	switch {
	case d.State != NeedsResponse && d.State != WarningNeedsResponse:
		return payments.Errorf(payments.ECONFLICT, "dispute %s is %s: it takes no answer", d.ID, lower(d.State))
	case d.EvidenceSubmittedAt != nil:
		return payments.Errorf(payments.ECONFLICT, "dispute %s: evidence was already submitted at %s", d.ID, d.EvidenceSubmittedAt.Format(time.RFC3339))
	case d.DueBy != nil && s.now().After(*d.DueBy):
		return payments.Errorf(payments.ECONFLICT, "dispute %s: the answer was due by %s", d.ID, d.DueBy.Format(time.RFC3339))
	}
	return nil
}

// Accept concedes a dispute through the channel: the disputed amount and
// the fee go to the channel. Returns ENOTFOUND for a dispute the caller
// cannot see, ECONFLICT for one that takes no answer (closed, answered, past
// due) or that the channel refuses, EUNAVAILABLE when the channel cannot be
// reached (nothing is retried blindly: the channel's notification, or the
// next call, tells where it stands).
func (s *Service) Accept(ctx context.Context, id string) (*ent.Dispute, error) {
	d, err := s.Dispute(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.answerable(d); err != nil {
		return nil, err
	}
	c, err := s.connector(d)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	defer cancel()
	resp, err := c.AcceptDispute(cctx, connectors.AcceptDisputeRequest{IdempotencyKey: channelKey(d, "accept"), DisputeID: d.NetworkDisputeID})
	if err := answerError(d, resp.Result, err); err != nil {
		return nil, err
	}
	return s.recordAnswer(ctx, d, resp.Dispute, LineAccepted, "the merchant accepted the dispute", false)
}

// channelKey is the idempotency key of an answer at the channel: one per
// dispute, stage and kind of answer, so that a retried request can never
// answer twice.
func channelKey(d *ent.Dispute, what string) string {
	return d.ID + ":" + string(d.Stage) + ":" + what
}

func (s *Service) connector(d *ent.Dispute) (connectors.Connector, error) {
	c, ok := s.cfg.Connectors.Get(d.Connector)
	if !ok {
		return nil, payments.Errorf(payments.EUNAVAILABLE, "connector %s is not running", d.Connector)
	}
	return c, nil
}

// answerError maps the channel's answer to a call on d.
func answerError(d *ent.Dispute, r connectors.Result, err error) error {
	switch {
	case err != nil && connectors.ErrorCode(err) == connectors.EINVALID:
		return payments.Errorf(payments.EINVALID, "dispute %s: the channel refused the request: %s", d.ID, r.Message)
	case err != nil:
		return payments.Errorf(payments.EUNAVAILABLE, "dispute %s: the channel did not answer (%v); its notification will tell", d.ID, err)
	case r.Outcome == connectors.OutcomeApproved:
		return nil
	case r.Outcome == connectors.OutcomeDeclined && r.Code == "not_found":
		return payments.Errorf(payments.ENOTFOUND, "dispute %s: the channel has no dispute %s", d.ID, d.NetworkDisputeID)
	case r.Outcome == connectors.OutcomeDeclined:
		return payments.Errorf(payments.ECONFLICT, "dispute %s: the channel refused (%s): %s", d.ID, r.Code, r.Message)
	}
	return payments.Errorf(payments.EUNAVAILABLE, "dispute %s: the channel answered %s; its notification will tell", d.ID, r.Outcome)
}

// recordAnswer takes the channel's answer on the event path: the dispute as
// the channel now has it is applied like its notification would be, with a
// timeline line for the merchant's action.
func (s *Service) recordAnswer(ctx context.Context, d *ent.Dispute, got connectors.Dispute, kind, note string, submitted bool) (*ent.Dispute, error) {
	sys := viewer.SystemContext(ctx)
	if err := s.prepare(sys, d.MerchantID, d.Connector, d.Currency); err != nil {
		return nil, err
	}
	ev := connectors.Event{ID: "answer:" + d.ID + ":" + string(got.Stage) + ":" + string(got.Status), Connector: d.Connector,
		Type: connectors.EventDispute, Dispute: &got}
	err := s.tx(sys, func(tx *ent.Tx) error {
		rows, err := s.read(sys, tx, d.PaymentID, d.Connector, d.NetworkDisputeID, ev.Connector+":"+ev.ID)
		if err != nil {
			return err
		}
		now := s.now()
		w, err := decideEvent(rows, ev, now)
		if err != nil {
			return err
		}
		if w.Dispute.ID == "" {
			return nil // recorded before
		}
		if submitted {
			w.Dispute.EvidenceSubmittedAt = &now
		}
		w.Timeline = append(w.Timeline, TimelineLine{Kind: kind, From: string(d.State), To: string(w.Dispute.State), Note: note})
		return s.apply(sys, tx, w)
	})
	if err != nil {
		return nil, fmt.Errorf("dispute %s: %w", d.ID, err)
	}
	return s.Dispute(ctx, d.ID)
}

func lower(s State) string { return strings.ToLower(string(s)) }
