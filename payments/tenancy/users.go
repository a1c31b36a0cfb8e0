package tenancy

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/merchantuser"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// The outbox events of a merchant user's status. merchant_user.disabled
// closes the user's open websockets on every replica (docs/events.md), as
// api_key.revoked closes a key's.
const (
	EventUserDisabled = "merchant_user.disabled"
	EventUserEnabled  = "merchant_user.enabled"
)

// DisableUser disables a merchant user at once: their tokens are refused
// from the next request on (UserActive), their open websockets close, and
// merchant_user.disabled is written with the change and its audit entry.
// Disabling a disabled user returns it unchanged and writes nothing.
// Returns ENOTFOUND for a user the caller cannot see (another merchant's),
// and EINVALID (field "id") for a user disabling themselves: a merchant
// must not lock its last admin out by mistake; another admin or an operator
// does it.
func (s *Service) DisableUser(ctx context.Context, id string) (*ent.MerchantUser, error) {
	if v, _ := viewer.FromContext(ctx); v.Kind == viewer.MerchantUser && v.Subject == id {
		return nil, payments.FieldErrorf("id", "you cannot disable yourself")
	}
	return s.setUserStatus(ctx, id, merchantuser.StatusDISABLED, EventUserDisabled, "merchant_user.disable")
}

// EnableUser enables a disabled merchant user again: new tokens and
// sockets work (tokens minted before the disable work again too, until
// they expire), and merchant_user.enabled is written. Enabling an active
// user returns it unchanged. Returns ENOTFOUND for a user the caller cannot
// see.
func (s *Service) EnableUser(ctx context.Context, id string) (*ent.MerchantUser, error) {
	return s.setUserStatus(ctx, id, merchantuser.StatusACTIVE, EventUserEnabled, "merchant_user.enable")
}

func (s *Service) setUserStatus(ctx context.Context, id string, to merchantuser.Status, event, action string) (*ent.MerchantUser, error) {
	return store.WithTx(ctx, s.client, func(tx *ent.Tx) (*ent.MerchantUser, error) {
		// The row's status changes once: a concurrent change of the same
		// user waits here and then finds it done.
		n, err := tx.MerchantUser.Update().
			Where(merchantuser.ID(id), merchantuser.StatusNEQ(to)).
			SetStatus(to).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", action, id, err)
		}
		u, err := tx.MerchantUser.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, payments.Errorf(payments.ENOTFOUND, "merchant user %s not found", id)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", action, id, err)
		}
		if n == 0 {
			return u.Unwrap(), nil // already so
		}
		if err := tx.Event.Create().SetMerchantID(u.MerchantID).SetType(event).SetObjectID(u.ID).
			SetData(map[string]any{"merchant_user_id": u.ID, "role": string(u.Role), "status": string(u.Status)}).
			SetCreatedAt(s.now()).Exec(ctx); err != nil {
			return nil, fmt.Errorf("%s %s: outbox: %w", action, id, err)
		}
		if err := audit.Record(ctx, tx, audit.Entry{
			MerchantID: u.MerchantID, Action: action, TargetType: "merchant_user", TargetID: u.ID,
		}); err != nil {
			return nil, err
		}
		return u.Unwrap(), nil
	})
}

// UserActive reports whether the merchant user id may act:
// false when their row is disabled. A token's subject with no row (a token
// minted by the CLI for a subject of the operator's choosing) is not
// refused here: the token's signature is what vouches for it. Errors are
// the database's (the caller answers UNAVAILABLE: the user may be fine).
func (s *Service) UserActive(ctx context.Context, id string) (bool, error) {
	disabled, err := s.client.MerchantUser.Query().
		Where(merchantuser.ID(id), merchantuser.StatusEQ(merchantuser.StatusDISABLED)).
		Exist(viewer.SystemContext(ctx))
	if err != nil {
		return false, store.Classify(fmt.Errorf("merchant user %s: %w", id, err))
	}
	return !disabled, nil
}
