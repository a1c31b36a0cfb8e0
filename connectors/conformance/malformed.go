package conformance

import (
	"context"
	"strings"
	"testing"

	"github.com/straitpay/strait/connectors"
)

// probe is one call the kit makes with a malformed or unsupported input.
type probe struct {
	name string
	cap  connectors.Capability
	call func(ctx context.Context, c connectors.Connector) (connectors.Result, error)
}

func (s *suite) malformedProbes() []probe {
	long := strings.Repeat("r", connectors.MaxIDLength+1)
	auth := func(name string, mutate func(*connectors.AuthorizeRequest)) probe {
		return probe{name: "authorize/" + name, cap: connectors.CapAuthorize, call: func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r := s.authorizeRequest(true)
			mutate(&r)
			resp, err := c.Authorize(ctx, r)
			return resp.Result, err
		}}
	}
	money := func(minor int64, cur string) connectors.Money { return connectors.Money{Minor: minor, Currency: cur} }
	return []probe{
		auth("negative amount", func(r *connectors.AuthorizeRequest) { r.Amount.Minor = -100 }),
		auth("zero amount", func(r *connectors.AuthorizeRequest) { r.Amount.Minor = 0 }),
		auth("unknown currency", func(r *connectors.AuthorizeRequest) { r.Amount.Currency = "ZZZ" }),
		auth("lower-case currency", func(r *connectors.AuthorizeRequest) { r.Amount.Currency = "usd" }),
		auth("empty idempotency key", func(r *connectors.AuthorizeRequest) { r.IdempotencyKey = "" }),
		auth("empty reference", func(r *connectors.AuthorizeRequest) { r.Reference = "" }),
		auth("oversized reference", func(r *connectors.AuthorizeRequest) { r.Reference = long }),
		auth("oversized description", func(r *connectors.AuthorizeRequest) { r.Description = strings.Repeat("d", 64<<10) }),
		auth("card number not digits", func(r *connectors.AuthorizeRequest) {
			r.Card = &connectors.Card{Number: "4242-4242", ExpMonth: 12, ExpYear: 2030}
		}),
		{"capture/empty payment id", connectors.CapPreauth, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, ref := s.ids()
			r, err := c.Capture(ctx, connectors.CaptureRequest{IdempotencyKey: k, Reference: ref, Amount: money(100, s.currency())})
			return r.Result, err
		}},
		{"capture/zero amount", connectors.CapPreauth, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, ref := s.ids()
			r, err := c.Capture(ctx, connectors.CaptureRequest{IdempotencyKey: k, Reference: ref, PaymentID: "p", Amount: money(0, s.currency())})
			return r.Result, err
		}},
		{"void/oversized payment id", connectors.CapPreauth, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, ref := s.ids()
			r, err := c.Void(ctx, connectors.VoidRequest{IdempotencyKey: k, Reference: ref, PaymentID: long})
			return r.Result, err
		}},
		{"refund/negative amount", connectors.CapRefund, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, ref := s.ids()
			r, err := c.Refund(ctx, connectors.RefundRequest{IdempotencyKey: k, Reference: ref, PaymentID: "p", Amount: money(-1, s.currency())})
			return r.Result, err
		}},
		{"refund/empty payment id", connectors.CapRefund, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, ref := s.ids()
			r, err := c.Refund(ctx, connectors.RefundRequest{IdempotencyKey: k, Reference: ref, Amount: money(1, s.currency())})
			return r.Result, err
		}},
		{"query payment/no id", connectors.CapQueryPayment, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.QueryPayment(ctx, connectors.QueryPaymentRequest{})
			return r.Result, err
		}},
		{"payout/unknown currency", connectors.CapPayout, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r := s.payoutRequest()
			r.Amount.Currency = "ZZZ"
			resp, err := c.Payout(ctx, r)
			return resp.Result, err
		}},
		{"payout/no beneficiary", connectors.CapPayout, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r := s.payoutRequest()
			r.Beneficiary = nil
			resp, err := c.Payout(ctx, r)
			return resp.Result, err
		}},
		{"sign agreement/no account", connectors.CapAgreements, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r := s.agreementRequest()
			r.Account = nil
			resp, err := c.SignAgreement(ctx, r)
			return resp.Result, err
		}},
		{"terminate agreement/empty id", connectors.CapAgreements, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, _ := s.ids()
			resp, err := c.TerminateAgreement(ctx, connectors.TerminateAgreementRequest{IdempotencyKey: k})
			return resp.Result, err
		}},
		{"dispute evidence/empty id", connectors.CapDisputes, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, _ := s.ids()
			r, err := c.SubmitDisputeEvidence(ctx, connectors.SubmitDisputeEvidenceRequest{IdempotencyKey: k, Evidence: map[string]string{"uncategorized_text": "x"}})
			return r.Result, err
		}},
		{"dispute evidence/not a pdf", connectors.CapDisputes, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, _ := s.ids()
			r, err := c.SubmitDisputeEvidence(ctx, connectors.SubmitDisputeEvidenceRequest{IdempotencyKey: k, DisputeID: "d",
				Files: []connectors.DisputeFile{{Name: "a.exe", ContentType: "application/octet-stream", Data: []byte("MZ")}}})
			return r.Result, err
		}},
		{"accept dispute/empty id", connectors.CapDisputes, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, _ := s.ids()
			r, err := c.AcceptDispute(ctx, connectors.AcceptDisputeRequest{IdempotencyKey: k})
			return r.Result, err
		}},
		{"balance/unknown currency", connectors.CapBalance, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.QueryBalance(ctx, connectors.BalanceRequest{Currency: "ZZZ"})
			return r.Result, err
		}},
		{"settlement/bad date", connectors.CapSettlementReport, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.FetchSettlementReport(ctx, connectors.SettlementReportRequest{Date: "yesterday"})
			return r.Result, err
		}},
		{"rates/unknown base", connectors.CapRates, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.GetRates(ctx, connectors.RatesRequest{Base: "ZZZ"})
			return r.Result, err
		}},
	}
}

// malformed checks that every malformed request of a declared capability
// is refused as EINVALID with OutcomeError: refused before the channel,
// never unknown, never approved.
func (s *suite) malformed(t *testing.T) {
	for _, p := range s.malformedProbes() {
		if !s.has(p.cap) {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			res, err := p.call(s.ctx(t), s.c)
			if connectors.ErrorCode(err) != connectors.EINVALID || res.Outcome != connectors.OutcomeError {
				t.Errorf("got outcome %s, err %v; want error EINVALID", res.Outcome, err)
			}
			if err != nil && strings.Contains(err.Error(), "4242424242424242") {
				t.Errorf("card number in error: %v", err)
			}
		})
	}
}

// undeclared checks that a well-formed call of a capability the connector
// did not declare answers EUNSUPPORTED.
func (s *suite) undeclared(t *testing.T) {
	money := connectors.Money{Minor: 100, Currency: s.currency()}
	probes := []probe{
		{"authorize", connectors.CapAuthorize, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.Authorize(ctx, s.authorizeRequest(true))
			return r.Result, err
		}},
		{"capture", connectors.CapPreauth, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, ref := s.ids()
			r, err := c.Capture(ctx, connectors.CaptureRequest{IdempotencyKey: k, Reference: ref, PaymentID: "p", Amount: money})
			return r.Result, err
		}},
		{"refund", connectors.CapRefund, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			k, ref := s.ids()
			r, err := c.Refund(ctx, connectors.RefundRequest{IdempotencyKey: k, Reference: ref, PaymentID: "p", Amount: money})
			return r.Result, err
		}},
		{"payout", connectors.CapPayout, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.Payout(ctx, s.payoutRequest())
			return r.Result, err
		}},
		{"sign agreement", connectors.CapAgreements, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.SignAgreement(ctx, s.agreementRequest())
			return r.Result, err
		}},
		{"balance", connectors.CapBalance, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.QueryBalance(ctx, connectors.BalanceRequest{})
			return r.Result, err
		}},
		{"rates", connectors.CapRates, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.GetRates(ctx, connectors.RatesRequest{Base: "USD"})
			return r.Result, err
		}},
		{"fetch dispute", connectors.CapDisputes, func(ctx context.Context, c connectors.Connector) (connectors.Result, error) {
			r, err := c.FetchDispute(ctx, connectors.FetchDisputeRequest{DisputeID: "d"})
			return r.Result, err
		}},
	}
	for _, p := range probes {
		if s.has(p.cap) || (p.cap == connectors.CapAuthorize && s.has(connectors.CapPreauth)) {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			res, err := p.call(s.ctx(t), s.c)
			if connectors.ErrorCode(err) != connectors.EUNSUPPORTED || res.Outcome != connectors.OutcomeError {
				t.Errorf("got outcome %s, err %v; want error EUNSUPPORTED", res.Outcome, err)
			}
		})
	}
}
