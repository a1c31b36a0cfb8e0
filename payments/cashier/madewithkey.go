package cashier

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/paymentattempt"
)

// MadeWithKey reports whether p's first attempt was made by a confirm with
// idempotency key key: it carries the channel key the pipeline derives from
// key. A retried confirm whose first answer was lost (a commit whose outcome
// was unknown) finds its payment this way.
func (s *Service) MadeWithKey(ctx context.Context, p *ent.Payment, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	made, err := s.cfg.Client.PaymentAttempt.Query().
		Where(paymentattempt.ChannelIdempotencyKey(channelKey(p, key, 1))).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("payment %s attempts: %w", p.ID, err)
	}
	return made, nil
}
