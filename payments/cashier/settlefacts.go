package cashier

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/merchant"
	"github.com/straitpay/strait/payments/settlement"
	"github.com/straitpay/strait/payments/viewer"
)

// withFeeFacts sets on p (of p.MerchantID) what the merchant's fee plan
// matches on at settlement: the card's scheme and the payment's region
// (settlement.Facts, from the card's or the buyer's country and the
// merchant's). It reads the merchant's country.
func (s *Service) withFeeFacts(ctx context.Context, p *ent.Payment, pm PaymentMethod) error {
	m, err := s.cfg.Client.Merchant.Query().Where(merchant.ID(p.MerchantID)).Select(merchant.FieldCountry).
		Only(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("payment %s: merchant country: %w", p.ID, err)
	}
	p.CardScheme, p.Region = settlement.Facts(string(pm.Type), pm.Scheme, pm.CardCountry, pm.Country, m.Country)
	return nil
}
