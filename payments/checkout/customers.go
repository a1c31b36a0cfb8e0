package checkout

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/tenancy"
)

// CustomerInput describes a new customer. Every field is optional.
type CustomerInput struct {
	Email, Name, Phone, Country, MerchantReference string
}

// CreateCustomer creates a customer of the merchant of the viewer in ctx.
// Returns EINVALID with the field at fault.
func (s *Service) CreateCustomer(ctx context.Context, merchantID string, in CustomerInput) (*ent.Customer, error) {
	c := s.client.Customer.Create().SetMerchantID(merchantID)
	if e := strings.TrimSpace(in.Email); e != "" {
		addr, err := mail.ParseAddress(e)
		if err != nil || addr.Name != "" || len(addr.Address) > 254 {
			return nil, payments.FieldErrorf("email", "not a valid email address")
		}
		c.SetEmail(strings.ToLower(addr.Address))
	}
	if in.Country != "" {
		country, err := tenancy.ParseCountry(in.Country)
		if err != nil {
			return nil, err
		}
		c.SetCountry(country)
	}
	for _, f := range []struct {
		name, value string
		max         int
		set         func(string) *ent.CustomerCreate
	}{
		{"name", in.Name, 200, c.SetName},
		{"phone", in.Phone, 32, c.SetPhone},
		{"merchantReference", in.MerchantReference, 128, c.SetMerchantReference},
	} {
		v := strings.TrimSpace(f.value)
		if utf8.RuneCountInString(v) > f.max {
			return nil, payments.FieldErrorf(f.name, "%s must be at most %d characters", f.name, f.max)
		}
		f.set(v)
	}
	cus, err := c.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("create customer: %w", err)
	}
	return cus, nil
}
