package connectors

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Kind is the family a connector belongs to.
type Kind string

// Connector kinds.
const (
	KindCardScheme Kind = "card_scheme"
	KindBank       Kind = "bank"
	KindWallet     Kind = "wallet"
	KindFX         Kind = "fx"
)

// Capability names a group of calls a connector implements. Describe lists
// them; routing and the conformance kit read them.
type Capability string

// Capabilities.
const (
	CapAuthorize        Capability = "authorize"         // Authorize (sale)
	CapPreauth          Capability = "preauth"           // Authorize with Capture false, then Capture and Void
	CapPartialCapture   Capability = "partial_capture"   // Capture of less than the authorized amount
	CapRefund           Capability = "refund"            // Refund, full and partial
	CapQueryPayment     Capability = "query_payment"     // QueryPayment
	CapAgreements       Capability = "agreements"        // Sign, Terminate and QueryAgreement
	CapPayout           Capability = "payout"            // Payout
	CapBalance          Capability = "balance"           // QueryBalance
	CapSettlementReport Capability = "settlement_report" // FetchSettlementReport
	CapRates            Capability = "rates"             // GetRates
	CapWebhooks         Capability = "webhooks"          // HandleHTTP
	CapEvents           Capability = "events"            // the Events stream
	CapDisputes         Capability = "disputes"          // dispute events, SubmitDisputeEvidence, AcceptDispute, FetchDispute
)

// CapSettlementReportPages: FetchSettlementReport answers a positive
// PageSize with pages (NextPageToken), so a day's report streams.
const CapSettlementReportPages Capability = "settlement_report_pages"

// Descriptor is what a connector says about itself.
type Descriptor struct {
	Name           string
	Version        string
	Kind           Kind
	PaymentMethods []string // "card", "bank_transfer", "direct_debit", "wallet_redirect", "wallet_qr", ...
	Currencies     []string
	Countries      []string
	Capabilities   []Capability
}

// Has reports whether d declares capability c.
func (d Descriptor) Has(c Capability) bool {
	for _, x := range d.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Config is a connector's configuration: settings and secrets resolved by
// the host from Strait's configuration.
type Config map[string]string

// LogValue hides the values: configurations hold secrets.
func (c Config) LogValue() slog.Value {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return slog.AnyValue(keys)
}

// Card is a raw card. Its number and CVC never appear in logs, errors or
// events: String, GoString and LogValue print a masked form.
type Card struct {
	Number   string
	ExpMonth int
	ExpYear  int
	CVC      string
	Holder   string
}

// Masked returns the card number with all but the first six and last four
// digits hidden, or "****" for short numbers.
func (c Card) Masked() string {
	n := c.Number
	if len(n) < 13 {
		return "****"
	}
	return n[:6] + "******" + n[len(n)-4:]
}

// String returns the masked number and expiry.
func (c Card) String() string {
	return fmt.Sprintf("card %s %02d/%d", c.Masked(), c.ExpMonth, c.ExpYear)
}

// GoString keeps %#v from printing the number and CVC.
func (c Card) GoString() string { return c.String() }

// LogValue keeps slog from printing the number and CVC.
func (c Card) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Customer describes the buyer as the channel needs to see them.
type Customer struct {
	ID      string
	Email   string
	Name    string
	Country string
	IP      string
}

// BankAccount is a bank account for agreements and payouts.
type BankAccount struct {
	Holder   string
	Number   string
	BankCode string
	Country  string
	Currency string
}

// AuthorizeRequest asks the channel to authorize (Capture false) or to
// charge (Capture true) an amount.
type AuthorizeRequest struct {
	// IdempotencyKey is Strait's key for this attempt; the connector
	// passes it (or a key derived from it) to the channel.
	IdempotencyKey string
	// Reference is Strait's id of the attempt; QueryPayment finds the
	// payment by it when the channel id was never received.
	Reference     string
	Amount        Money
	Capture       bool
	PaymentMethod string
	Card          *Card
	Customer      *Customer
	ReturnURL     string
	AgreementID   string
	Description   string
	// ThreeDS is what Strait asks of 3-D Secure (a risk rule may want a
	// challenge); the zero value leaves it to the channel.
	ThreeDS ThreeDS
	// Metadata is free-form. When ThreeDS is ThreeDSChallenge the host also
	// puts "three_ds": "required" here, for connectors built before the
	// ThreeDS field; read ThreeDS.
	Metadata map[string]string
}

// ThreeDS is what Strait asks of 3-D Secure for a card authorization. The
// names follow Stripe's request_three_d_secure.
type ThreeDS int

// 3-D Secure requests. The numbers are the wire's.
const (
	// ThreeDSAutomatic leaves 3-D Secure to the channel: its rules, the
	// issuer's, and regulation such as PSD2 strong customer authentication.
	ThreeDSAutomatic ThreeDS = iota
	// ThreeDSAny asks for 3-D Secure authentication; a frictionless one
	// (the issuer authenticates without asking the buyer) suffices.
	ThreeDSAny
	// ThreeDSChallenge asks for a 3-D Secure challenge: the buyer
	// authenticates even where the issuer would let the card through
	// frictionless. Strait asks for it when a risk rule challenges.
	ThreeDSChallenge
)

var threeDSNames = [...]string{"automatic", "any", "challenge"}

// String returns the lower-case name of t.
func (t ThreeDS) String() string {
	if t < 0 || int(t) >= len(threeDSNames) {
		return fmt.Sprintf("three_ds(%d)", int(t))
	}
	return threeDSNames[t]
}

// NextActionType is what the buyer must do before the payment proceeds.
type NextActionType string

// Next action types.
const (
	ActionThreeDSChallenge NextActionType = "three_ds_challenge"
	ActionRedirect         NextActionType = "redirect"
	ActionQRCode           NextActionType = "qr_code"
	ActionBankTransfer     NextActionType = "bank_transfer"
)

// TransferInstructions tell the buyer where to send a bank transfer.
type TransferInstructions struct {
	BankName      string
	AccountName   string
	AccountNumber string
	BankCode      string
	Reference     string
	Amount        Money
}

// NextAction is the buyer's next step for OutcomeActionRequired.
type NextAction struct {
	Type      NextActionType
	URL       string
	QRData    string
	Transfer  *TransferInstructions
	ExpiresAt time.Time
}

// AuthorizeResponse is the answer to Authorize.
type AuthorizeResponse struct {
	Result     Result
	PaymentID  string // the channel's id of the payment
	NextAction *NextAction
	Amount     Money
}

// CaptureRequest captures all or part of an authorization.
type CaptureRequest struct {
	IdempotencyKey string
	Reference      string
	PaymentID      string
	Amount         Money
}

// VoidRequest releases an authorization that was not captured, or cancels
// a payment still waiting for the buyer (3-D Secure, redirect): once the
// channel approves the void, the buyer can no longer complete the payment.
// A channel that cannot cancel a waiting payment answers EUNSUPPORTED; one
// whose payment has moved on (the buyer finished first) declines the void
// hard, and Strait reads the payment's state with QueryPayment.
type VoidRequest struct {
	IdempotencyKey string
	Reference      string
	PaymentID      string
}

// RefundRequest refunds all or part of a captured payment.
type RefundRequest struct {
	IdempotencyKey string
	Reference      string
	PaymentID      string
	Amount         Money
	Reason         string
}

// OperationResponse is the answer to Capture, Void, Refund and Payout.
type OperationResponse struct {
	Result Result
	ID     string // the channel's id of the capture, refund or payout
	Amount Money
}

// QueryPaymentRequest finds a payment by the channel's id or, when that
// was never received, by Strait's Reference.
type QueryPaymentRequest struct {
	PaymentID string
	Reference string
}

// PaymentStatus is the channel's view of a payment.
type PaymentStatus struct {
	Result    Result
	PaymentID string
	Reference string
	Status    string // the channel's status word, for operators
	Amount    Money
	Captured  Money
	Refunded  Money
	// Voided is true when the channel released the payment without
	// capturing it: a voided authorization, or a payment canceled while it
	// waited for the buyer. Result still tells how its authorization ended.
	Voided bool
}

// SignAgreementRequest asks for a direct-debit agreement ("protocol payment").
type SignAgreementRequest struct {
	IdempotencyKey string
	Reference      string
	Customer       *Customer
	Account        *BankAccount
	MaxAmount      Money
	ReturnURL      string
}

// TerminateAgreementRequest ends an agreement.
type TerminateAgreementRequest struct {
	IdempotencyKey string
	AgreementID    string
	Reason         string
}

// QueryAgreementRequest finds an agreement by id or Strait reference.
type QueryAgreementRequest struct {
	AgreementID string
	Reference   string
}

// AgreementResponse is the answer to the agreement calls.
type AgreementResponse struct {
	Result      Result
	AgreementID string
	Status      string
	NextAction  *NextAction
}

// PayoutRequest sends money to a beneficiary.
type PayoutRequest struct {
	IdempotencyKey string
	Reference      string
	Amount         Money
	Beneficiary    *BankAccount
	Purpose        string
}

// BalanceRequest asks for the channel position; an empty Currency asks
// for all currencies.
type BalanceRequest struct {
	Currency string
}

// Balance is the channel position in one currency.
type Balance struct {
	Available Money
	Pending   Money
}

// BalanceResponse is the answer to QueryBalance.
type BalanceResponse struct {
	Result   Result
	Balances []Balance
}

// SettlementReportRequest asks for one day's settlement report; Date is
// YYYY-MM-DD in UTC.
//
// Paging (capability CapSettlementReportPages): PageSize 0 asks for the
// whole day in one answer, which is what hosts built before the field ask
// and what connectors built before it answer. A positive PageSize asks for
// at most that many lines from PageToken ("" is the first page); the answer's
// NextPageToken names the next page and is empty on the last. A connector
// that does not page ignores both and answers the whole day, which reads as
// one last page. Tokens are the connector's own and opaque to the host.
type SettlementReportRequest struct {
	Date      string
	PageSize  int
	PageToken string
}

// MaxSettlementPageSize bounds PageSize: a page of this many lines stays
// well inside the wire's message limit.
const MaxSettlementPageSize = 10000

// SettlementLine is one movement in a settlement report.
type SettlementLine struct {
	PaymentID string
	Reference string
	Type      string // "capture", "refund", "chargeback", "payout", "fee"
	Gross     Money
	Fee       Money
	Net       Money
	// TransactionID is the channel's id of the movement itself (a capture,
	// refund or chargeback id); empty from connectors built before it.
	TransactionID string
}

// SettlementReport is the answer to FetchSettlementReport: one page of the
// day, the last when NextPageToken is empty.
type SettlementReport struct {
	Result        Result
	Date          string
	Lines         []SettlementLine
	NextPageToken string
}

// DisputeStage is how far a dispute has gone with the card network.
type DisputeStage string

// Dispute stages.
const (
	// DisputeInquiry is an inquiry or retrieval request: the issuer asks
	// for information before filing a chargeback. No money moves.
	DisputeInquiry DisputeStage = "inquiry"
	// DisputeChargeback is a chargeback: the channel has taken the amount
	// back from the merchant.
	DisputeChargeback DisputeStage = "chargeback"
	// DisputePreArbitration is the issuer's answer to the merchant's
	// evidence: it keeps the dispute open and asks again.
	DisputePreArbitration DisputeStage = "pre_arbitration"
)

// DisputeStatus is where a dispute stands at its stage.
type DisputeStatus string

// Dispute statuses.
const (
	DisputeNeedsResponse DisputeStatus = "needs_response" // the merchant should answer by DueBy
	DisputeUnderReview   DisputeStatus = "under_review"   // evidence submitted, the issuer decides
	DisputeWon           DisputeStatus = "won"            // decided for the merchant (an inquiry: closed)
	DisputeLost          DisputeStatus = "lost"           // decided for the cardholder
	DisputeAccepted      DisputeStatus = "accepted"       // the merchant accepted it
)

// Dispute is a channel's dispute as the channel sees it. ID is the network's
// dispute id; it stays the same through the stages of one dispute.
type Dispute struct {
	ID         string
	PaymentID  string // the channel's payment id
	Reference  string // Strait's reference for the payment, when echoed
	Stage      DisputeStage
	Status     DisputeStatus
	ReasonCode string // the scheme's own reason code ("10.4", "13.1", …)
	Reason     string // the channel's words for it
	Amount     Money  // the disputed amount
	Fee        Money  // the channel's dispute fee, zero for an inquiry
	DueBy      time.Time
}

// DisputeFile is a document sent as evidence. Data is at most
// MaxDisputeFileBytes.
type DisputeFile struct {
	Name        string
	ContentType string // application/pdf, image/png or image/jpeg
	Purpose     string // the evidence field it supports ("receipt", …), or "uncategorized"
	Data        []byte
}

// MaxDisputeFileBytes bounds one evidence file: card networks accept a few
// megabytes per dispute, and a gRPC message must hold the files of one
// submission (the host's limit is larger).
const MaxDisputeFileBytes = 4 << 20

// MaxDisputeEvidenceBytes bounds the files of one submission together, under
// the wire's 16 MiB message limit.
const MaxDisputeEvidenceBytes = 12 << 20

// SubmitDisputeEvidenceRequest sends the merchant's answer to a dispute.
// Evidence holds the typed fields by name ("product_description",
// "customer_email_address", …; docs/disputes.md lists them).
type SubmitDisputeEvidenceRequest struct {
	IdempotencyKey string
	DisputeID      string
	Evidence       map[string]string
	Files          []DisputeFile
}

// AcceptDisputeRequest concedes a dispute: the merchant does not contest it.
type AcceptDisputeRequest struct {
	IdempotencyKey string
	DisputeID      string
}

// FetchDisputeRequest reads a dispute by the network's id.
type FetchDisputeRequest struct {
	DisputeID string
}

// DisputeResponse is the answer to the dispute calls: the dispute as the
// channel now has it.
type DisputeResponse struct {
	Result  Result
	Dispute Dispute
}

// RatesRequest asks for rates from Base to each of Quotes (all when empty).
type RatesRequest struct {
	Base   string
	Quotes []string
}

// Rate is an FX rate. Values are decimal strings, never floats.
type Rate struct {
	Base      string
	Quote     string
	Rate      string
	Bid       string
	Ask       string
	AsOf      time.Time
	ExpiresAt time.Time
}

// RatesResponse is the answer to GetRates.
type RatesResponse struct {
	Result Result
	Rates  []Rate
}

// HTTPRequest is a channel webhook or buyer page request that Strait
// forwards under /connectors/{name}/…; Path is the part after the name.
type HTTPRequest struct {
	Method  string
	Path    string
	Query   string
	Headers http.Header
	Body    []byte
}

// HTTPResponse is the connector's answer to an HTTPRequest. Events holds
// the events the request carried (a verified webhook); the host delivers
// them to its event stream before the response goes back to the channel.
type HTTPResponse struct {
	Status  int
	Headers http.Header
	Body    []byte
	Events  []Event
}

// EventType is the kind of an asynchronous channel event.
type EventType string

// Event types.
const (
	EventPaymentResult    EventType = "payment_result"
	EventRefundResult     EventType = "refund_result"
	EventChargeback       EventType = "chargeback"        // superseded by EventDispute; kept for older connectors
	EventChargebackUpdate EventType = "chargeback_update" // superseded by EventDispute; kept for older connectors
	EventDispute          EventType = "dispute"           // a dispute opened, moved stage or was decided; Event.Dispute says how
	EventPayoutResult     EventType = "payout_result"
	EventSettlement       EventType = "settlement"
	EventAgreementResult  EventType = "agreement_result"
)

// Event is an asynchronous channel notification. ID is stable: the same
// channel notification always yields the same ID, so consumers deduplicate
// by it. Delivery is at least once.
type Event struct {
	ID         string
	Connector  string // set by the host
	Type       EventType
	OccurredAt time.Time
	PaymentID  string // the channel's payment id, when the event concerns one
	Reference  string // Strait's reference, when the channel echoes it
	ObjectID   string // the refund, chargeback or payout id
	Result     Result
	Amount     Money
	Status     string
	Data       map[string]string
	// Dispute is set on EventDispute: the dispute as it stands after this
	// notification.
	Dispute *Dispute
}
