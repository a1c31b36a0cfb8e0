package connectors

import "context"

// Connector is the interface list of a payment channel.
//
// A business answer (approved, declined, pending, …) comes back as a
// response with a nil error. An error means the call did not produce a
// business answer; its code (see ErrorCode) and the response's
// Result.Outcome say whether the channel may have acted (EUNKNOWN,
// OutcomeUnknown) or certainly did not (OutcomeError).
//
// Implementations embed Unimplemented so that capabilities they do not
// have return ErrUnsupported.
type Connector interface {
	// Describe returns the connector's name, kind and capabilities.
	Describe(ctx context.Context) (Descriptor, error)
	// Configure hands the connector its settings and secrets. It is called
	// once after every start, before any other call but Describe.
	Configure(ctx context.Context, cfg Config) error

	// Authorize charges (req.Capture) or holds an amount; it may answer
	// OutcomeActionRequired with a NextAction for the buyer.
	Authorize(ctx context.Context, req AuthorizeRequest) (AuthorizeResponse, error)
	// Capture takes all or part of a held amount.
	Capture(ctx context.Context, req CaptureRequest) (OperationResponse, error)
	// Void releases a hold that was not captured, or cancels a payment
	// still waiting for the buyer (3-D Secure, a wallet page) so that the
	// buyer can no longer complete it. A channel that cannot cancel a
	// waiting payment answers EUNSUPPORTED.
	Void(ctx context.Context, req VoidRequest) (OperationResponse, error)
	// Refund returns all or part of a captured amount.
	Refund(ctx context.Context, req RefundRequest) (OperationResponse, error)
	// QueryPayment reads a payment by channel id or Strait reference; it
	// resolves unknown outcomes and answers a hard "not_found" decline when
	// the channel never saw the payment.
	QueryPayment(ctx context.Context, req QueryPaymentRequest) (PaymentStatus, error)

	// SignAgreement, TerminateAgreement and QueryAgreement manage
	// direct-debit agreements ("protocol payments").
	SignAgreement(ctx context.Context, req SignAgreementRequest) (AgreementResponse, error)
	TerminateAgreement(ctx context.Context, req TerminateAgreementRequest) (AgreementResponse, error)
	QueryAgreement(ctx context.Context, req QueryAgreementRequest) (AgreementResponse, error)

	// Payout sends money to a beneficiary, usually answering OutcomePending.
	Payout(ctx context.Context, req PayoutRequest) (OperationResponse, error)
	// QueryBalance returns the channel position per currency.
	QueryBalance(ctx context.Context, req BalanceRequest) (BalanceResponse, error)
	// FetchSettlementReport returns one UTC day of settled movements.
	FetchSettlementReport(ctx context.Context, req SettlementReportRequest) (SettlementReport, error)
	// SubmitDisputeEvidence sends the merchant's evidence for a dispute at
	// its current stage; the channel answers with the dispute under review.
	// A dispute past its deadline or already answered is a hard decline
	// ("past_due", "already_submitted").
	SubmitDisputeEvidence(ctx context.Context, req SubmitDisputeEvidenceRequest) (DisputeResponse, error)
	// AcceptDispute concedes a dispute; the channel answers it accepted.
	AcceptDispute(ctx context.Context, req AcceptDisputeRequest) (DisputeResponse, error)
	// FetchDispute reads a dispute by the network's id; "not_found" when
	// the channel has none.
	FetchDispute(ctx context.Context, req FetchDisputeRequest) (DisputeResponse, error)
	// GetRates returns FX rates as decimal strings.
	GetRates(ctx context.Context, req RatesRequest) (RatesResponse, error)

	// HandleHTTP answers a forwarded channel webhook or buyer page.
	HandleHTTP(ctx context.Context, req HTTPRequest) (HTTPResponse, error)
}

// Unimplemented answers every call with ErrUnsupported. Embed it in a
// Connector (or a test fake) and implement only what the channel offers.
type Unimplemented struct{}

var _ Connector = Unimplemented{}

func unsupported() Result { return Failed(false, EUNSUPPORTED, "not supported") }

// Describe returns ErrUnsupported; every real connector overrides it.
func (Unimplemented) Describe(context.Context) (Descriptor, error) {
	return Descriptor{}, ErrUnsupported
}

// Configure accepts any configuration.
func (Unimplemented) Configure(context.Context, Config) error { return nil }

// Authorize returns ErrUnsupported.
func (Unimplemented) Authorize(context.Context, AuthorizeRequest) (AuthorizeResponse, error) {
	return AuthorizeResponse{Result: unsupported()}, ErrUnsupported
}

// Capture returns ErrUnsupported.
func (Unimplemented) Capture(context.Context, CaptureRequest) (OperationResponse, error) {
	return OperationResponse{Result: unsupported()}, ErrUnsupported
}

// Void returns ErrUnsupported.
func (Unimplemented) Void(context.Context, VoidRequest) (OperationResponse, error) {
	return OperationResponse{Result: unsupported()}, ErrUnsupported
}

// Refund returns ErrUnsupported.
func (Unimplemented) Refund(context.Context, RefundRequest) (OperationResponse, error) {
	return OperationResponse{Result: unsupported()}, ErrUnsupported
}

// QueryPayment returns ErrUnsupported.
func (Unimplemented) QueryPayment(context.Context, QueryPaymentRequest) (PaymentStatus, error) {
	return PaymentStatus{Result: unsupported()}, ErrUnsupported
}

// SignAgreement returns ErrUnsupported.
func (Unimplemented) SignAgreement(context.Context, SignAgreementRequest) (AgreementResponse, error) {
	return AgreementResponse{Result: unsupported()}, ErrUnsupported
}

// TerminateAgreement returns ErrUnsupported.
func (Unimplemented) TerminateAgreement(context.Context, TerminateAgreementRequest) (AgreementResponse, error) {
	return AgreementResponse{Result: unsupported()}, ErrUnsupported
}

// QueryAgreement returns ErrUnsupported.
func (Unimplemented) QueryAgreement(context.Context, QueryAgreementRequest) (AgreementResponse, error) {
	return AgreementResponse{Result: unsupported()}, ErrUnsupported
}

// Payout returns ErrUnsupported.
func (Unimplemented) Payout(context.Context, PayoutRequest) (OperationResponse, error) {
	return OperationResponse{Result: unsupported()}, ErrUnsupported
}

// QueryBalance returns ErrUnsupported.
func (Unimplemented) QueryBalance(context.Context, BalanceRequest) (BalanceResponse, error) {
	return BalanceResponse{Result: unsupported()}, ErrUnsupported
}

// FetchSettlementReport returns ErrUnsupported.
func (Unimplemented) FetchSettlementReport(context.Context, SettlementReportRequest) (SettlementReport, error) {
	return SettlementReport{Result: unsupported()}, ErrUnsupported
}

// SubmitDisputeEvidence returns ErrUnsupported.
func (Unimplemented) SubmitDisputeEvidence(context.Context, SubmitDisputeEvidenceRequest) (DisputeResponse, error) {
	return DisputeResponse{Result: unsupported()}, ErrUnsupported
}

// AcceptDispute returns ErrUnsupported.
func (Unimplemented) AcceptDispute(context.Context, AcceptDisputeRequest) (DisputeResponse, error) {
	return DisputeResponse{Result: unsupported()}, ErrUnsupported
}

// FetchDispute returns ErrUnsupported.
func (Unimplemented) FetchDispute(context.Context, FetchDisputeRequest) (DisputeResponse, error) {
	return DisputeResponse{Result: unsupported()}, ErrUnsupported
}

// GetRates returns ErrUnsupported.
func (Unimplemented) GetRates(context.Context, RatesRequest) (RatesResponse, error) {
	return RatesResponse{Result: unsupported()}, ErrUnsupported
}

// HandleHTTP answers 404.
func (Unimplemented) HandleHTTP(context.Context, HTTPRequest) (HTTPResponse, error) {
	return HTTPResponse{Status: 404, Body: []byte("not found\n")}, nil
}
