package cashier

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/settlement"
)

// withFeeFacts sets on p (of p.MerchantID) what the merchant's fee plan
// matches on at settlement: the card's scheme and the payment's region
// (settlement.Facts, from the card's or the buyer's country and the
// merchant's). The merchant's country comes with its risk tier
// (merchantFacts), which risk read for the same confirm: no query of its own.
func (s *Service) withFeeFacts(ctx context.Context, p *ent.Payment, pm PaymentMethod) error {
	mf, err := s.merchantFacts(ctx, p.MerchantID)
	if err != nil {
		return fmt.Errorf("payment %s: merchant country: %w", p.ID, err)
	}
	p.CardScheme, p.Region = settlement.Facts(string(pm.Type), pm.Scheme, pm.CardCountry, pm.Country, mf.country)
	return nil
}
