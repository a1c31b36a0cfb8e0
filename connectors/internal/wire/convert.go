package wire

import (
	"math"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	c "github.com/straitpay/strait/connectors"
	pb "github.com/straitpay/strait/connectors/proto/connectorv1"
)

// Conversions between the Go contract and the wire. Each pair is written
// next to each other so that a field added to one side is easy to spot.

// MoneyToPB converts the Go contract value to its wire form. An unstated
// exponent stays absent on the wire, which means the same thing there.
func MoneyToPB(m c.Money) *pb.Money {
	out := &pb.Money{Minor: m.Minor, Currency: m.Currency}
	if e, ok := m.Exponent.Get(); ok {
		// Out-of-range values travel as an out-of-range int32, so that the
		// other side's validation refuses them rather than a wrapped value.
		out.Exponent = proto.Int32(int32(max(min(e, math.MaxInt32), math.MinInt32)))
	}
	return out
}

// MoneyFromPB converts the wire form to the Go contract value. An absent
// exponent (a peer built before the field) is Strait's currency-table
// exponent, stated from here on, so that code past the wire never guesses.
func MoneyFromPB(m *pb.Money) c.Money {
	if m == nil {
		return c.Money{}
	}
	if m.Exponent != nil {
		return c.Money{Minor: m.GetMinor(), Currency: m.GetCurrency(), Exponent: c.Exp(int(m.GetExponent()))}
	}
	return c.NewMoney(m.GetMinor(), m.GetCurrency())
}

// ResultToPB converts the Go contract value to its wire form.
func ResultToPB(r c.Result) *pb.Result {
	return &pb.Result{
		Outcome:     pb.Outcome(r.Outcome),
		DeclineType: pb.DeclineType(r.DeclineType),
		Code:        r.Code,
		Message:     r.Message,
		Retryable:   r.Retryable,
	}
}

// ResultFromPB maps a missing or unrecognized outcome to OutcomeUnknown.
func ResultFromPB(r *pb.Result) c.Result {
	if r == nil {
		return c.Result{Outcome: c.OutcomeUnknown, Message: "connector answered without a result"}
	}
	o := c.Outcome(r.GetOutcome())
	if o < c.OutcomeUnknown || o > c.OutcomeError {
		o = c.OutcomeUnknown
	}
	d := c.DeclineType(r.GetDeclineType())
	if d < c.DeclineNone || d > c.DeclineSoft {
		d = c.DeclineNone
	}
	return c.Result{Outcome: o, DeclineType: d, Code: r.GetCode(), Message: r.GetMessage(), Retryable: r.GetRetryable()}
}

var kinds = map[c.Kind]pb.Kind{
	c.KindCardScheme: pb.Kind_KIND_CARD_SCHEME,
	c.KindBank:       pb.Kind_KIND_BANK,
	c.KindWallet:     pb.Kind_KIND_WALLET,
	c.KindFX:         pb.Kind_KIND_FX,
}

// DescriptorToPB converts the Go contract value to its wire form.
func DescriptorToPB(d c.Descriptor) *pb.DescribeResponse {
	caps := make([]string, len(d.Capabilities))
	for i, x := range d.Capabilities {
		caps[i] = string(x)
	}
	return &pb.DescribeResponse{
		Name: d.Name, Version: d.Version, Kind: kinds[d.Kind],
		PaymentMethods: d.PaymentMethods, Currencies: d.Currencies, Countries: d.Countries,
		Capabilities: caps,
	}
}

// DescriptorFromPB converts the wire form to the Go contract value.
func DescriptorFromPB(r *pb.DescribeResponse) c.Descriptor {
	d := c.Descriptor{
		Name: r.GetName(), Version: r.GetVersion(),
		PaymentMethods: r.GetPaymentMethods(), Currencies: r.GetCurrencies(), Countries: r.GetCountries(),
	}
	for k, v := range kinds {
		if v == r.GetKind() {
			d.Kind = k
		}
	}
	for _, x := range r.GetCapabilities() {
		d.Capabilities = append(d.Capabilities, c.Capability(x))
	}
	return d
}

func customerToPB(x *c.Customer) *pb.Customer {
	if x == nil {
		return nil
	}
	return &pb.Customer{Id: x.ID, Email: x.Email, Name: x.Name, Country: x.Country, Ip: x.IP}
}

func customerFromPB(x *pb.Customer) *c.Customer {
	if x == nil {
		return nil
	}
	return &c.Customer{ID: x.GetId(), Email: x.GetEmail(), Name: x.GetName(), Country: x.GetCountry(), IP: x.GetIp()}
}

func accountToPB(x *c.BankAccount) *pb.BankAccount {
	if x == nil {
		return nil
	}
	return &pb.BankAccount{Holder: x.Holder, Number: x.Number, BankCode: x.BankCode, Country: x.Country, Currency: x.Currency}
}

func accountFromPB(x *pb.BankAccount) *c.BankAccount {
	if x == nil {
		return nil
	}
	return &c.BankAccount{Holder: x.GetHolder(), Number: x.GetNumber(), BankCode: x.GetBankCode(), Country: x.GetCountry(), Currency: x.GetCurrency()}
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

var actionTypes = map[c.NextActionType]pb.NextActionType{
	c.ActionThreeDSChallenge: pb.NextActionType_NEXT_ACTION_TYPE_THREE_DS_CHALLENGE,
	c.ActionRedirect:         pb.NextActionType_NEXT_ACTION_TYPE_REDIRECT,
	c.ActionQRCode:           pb.NextActionType_NEXT_ACTION_TYPE_QR_CODE,
	c.ActionBankTransfer:     pb.NextActionType_NEXT_ACTION_TYPE_BANK_TRANSFER,
}

func nextActionToPB(a *c.NextAction) *pb.NextAction {
	if a == nil {
		return nil
	}
	out := &pb.NextAction{Type: actionTypes[a.Type], Url: a.URL, QrData: a.QRData, ExpiresAt: unix(a.ExpiresAt)}
	if t := a.Transfer; t != nil {
		out.Transfer = &pb.TransferInstructions{BankName: t.BankName, AccountName: t.AccountName,
			AccountNumber: t.AccountNumber, BankCode: t.BankCode, Reference: t.Reference, Amount: MoneyToPB(t.Amount)}
	}
	return out
}

func nextActionFromPB(a *pb.NextAction) *c.NextAction {
	if a == nil {
		return nil
	}
	out := &c.NextAction{URL: a.GetUrl(), QRData: a.GetQrData(), ExpiresAt: fromUnix(a.GetExpiresAt())}
	for k, v := range actionTypes {
		if v == a.GetType() {
			out.Type = k
		}
	}
	if t := a.GetTransfer(); t != nil {
		out.Transfer = &c.TransferInstructions{BankName: t.GetBankName(), AccountName: t.GetAccountName(),
			AccountNumber: t.GetAccountNumber(), BankCode: t.GetBankCode(), Reference: t.GetReference(), Amount: MoneyFromPB(t.GetAmount())}
	}
	return out
}

// AuthorizeRequestToPB converts the Go contract value to its wire form.
func AuthorizeRequestToPB(r c.AuthorizeRequest) *pb.AuthorizeRequest {
	out := &pb.AuthorizeRequest{
		IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, Amount: MoneyToPB(r.Amount), Capture: r.Capture,
		PaymentMethod: r.PaymentMethod, Customer: customerToPB(r.Customer), ReturnUrl: r.ReturnURL,
		AgreementId: r.AgreementID, Description: r.Description, Metadata: r.Metadata,
		ThreeDs: pb.ThreeDS(r.ThreeDS),
	}
	if k := r.Card; k != nil {
		out.Card = &pb.Card{Number: k.Number, ExpMonth: int32(k.ExpMonth), ExpYear: int32(k.ExpYear), Cvc: k.CVC, Holder: k.Holder}
	}
	return out
}

// AuthorizeRequestFromPB converts the wire form to the Go contract value.
func AuthorizeRequestFromPB(r *pb.AuthorizeRequest) c.AuthorizeRequest {
	out := c.AuthorizeRequest{
		IdempotencyKey: r.GetIdempotencyKey(), Reference: r.GetReference(), Amount: MoneyFromPB(r.GetAmount()),
		Capture: r.GetCapture(), PaymentMethod: r.GetPaymentMethod(), Customer: customerFromPB(r.GetCustomer()),
		ReturnURL: r.GetReturnUrl(), AgreementID: r.GetAgreementId(), Description: r.GetDescription(), Metadata: r.GetMetadata(),
		ThreeDS: threeDSFromPB(r.GetThreeDs()),
	}
	if k := r.GetCard(); k != nil {
		out.Card = &c.Card{Number: k.GetNumber(), ExpMonth: int(k.GetExpMonth()), ExpYear: int(k.GetExpYear()), CVC: k.GetCvc(), Holder: k.GetHolder()}
	}
	return out
}

// threeDSFromPB reads a 3-D Secure request. A value this side does not
// know (a newer host's) is read as a challenge: asking the buyer more than
// needed costs friction, asking less shifts fraud liability.
func threeDSFromPB(t pb.ThreeDS) c.ThreeDS {
	switch t {
	case pb.ThreeDS_THREE_DS_AUTOMATIC:
		return c.ThreeDSAutomatic
	case pb.ThreeDS_THREE_DS_ANY:
		return c.ThreeDSAny
	}
	return c.ThreeDSChallenge
}

// AuthorizeResponseToPB converts the Go contract value to its wire form.
func AuthorizeResponseToPB(r c.AuthorizeResponse) *pb.AuthorizeResponse {
	return &pb.AuthorizeResponse{Result: ResultToPB(r.Result), PaymentId: r.PaymentID,
		NextAction: nextActionToPB(r.NextAction), Amount: MoneyToPB(r.Amount)}
}

// AuthorizeResponseFromPB converts the wire form to the Go contract value.
func AuthorizeResponseFromPB(r *pb.AuthorizeResponse) c.AuthorizeResponse {
	return c.AuthorizeResponse{Result: ResultFromPB(r.GetResult()), PaymentID: r.GetPaymentId(),
		NextAction: nextActionFromPB(r.GetNextAction()), Amount: MoneyFromPB(r.GetAmount())}
}

// CaptureRequestToPB converts the Go contract value to its wire form.
func CaptureRequestToPB(r c.CaptureRequest) *pb.CaptureRequest {
	return &pb.CaptureRequest{IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, PaymentId: r.PaymentID, Amount: MoneyToPB(r.Amount)}
}

// CaptureRequestFromPB converts the wire form to the Go contract value.
func CaptureRequestFromPB(r *pb.CaptureRequest) c.CaptureRequest {
	return c.CaptureRequest{IdempotencyKey: r.GetIdempotencyKey(), Reference: r.GetReference(), PaymentID: r.GetPaymentId(), Amount: MoneyFromPB(r.GetAmount())}
}

// VoidRequestToPB converts the Go contract value to its wire form.
func VoidRequestToPB(r c.VoidRequest) *pb.VoidRequest {
	return &pb.VoidRequest{IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, PaymentId: r.PaymentID}
}

// VoidRequestFromPB converts the wire form to the Go contract value.
func VoidRequestFromPB(r *pb.VoidRequest) c.VoidRequest {
	return c.VoidRequest{IdempotencyKey: r.GetIdempotencyKey(), Reference: r.GetReference(), PaymentID: r.GetPaymentId()}
}

// RefundRequestToPB converts the Go contract value to its wire form.
func RefundRequestToPB(r c.RefundRequest) *pb.RefundRequest {
	return &pb.RefundRequest{IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, PaymentId: r.PaymentID, Amount: MoneyToPB(r.Amount), Reason: r.Reason}
}

// RefundRequestFromPB converts the wire form to the Go contract value.
func RefundRequestFromPB(r *pb.RefundRequest) c.RefundRequest {
	return c.RefundRequest{IdempotencyKey: r.GetIdempotencyKey(), Reference: r.GetReference(), PaymentID: r.GetPaymentId(), Amount: MoneyFromPB(r.GetAmount()), Reason: r.GetReason()}
}

// OperationToPB converts the Go contract value to its wire form.
func OperationToPB(r c.OperationResponse) *pb.OperationResponse {
	return &pb.OperationResponse{Result: ResultToPB(r.Result), Id: r.ID, Amount: MoneyToPB(r.Amount)}
}

// OperationFromPB converts the wire form to the Go contract value.
func OperationFromPB(r *pb.OperationResponse) c.OperationResponse {
	return c.OperationResponse{Result: ResultFromPB(r.GetResult()), ID: r.GetId(), Amount: MoneyFromPB(r.GetAmount())}
}

// QueryPaymentToPB converts the Go contract value to its wire form.
func QueryPaymentToPB(r c.QueryPaymentRequest) *pb.QueryPaymentRequest {
	return &pb.QueryPaymentRequest{PaymentId: r.PaymentID, Reference: r.Reference}
}

// QueryPaymentFromPB converts the wire form to the Go contract value.
func QueryPaymentFromPB(r *pb.QueryPaymentRequest) c.QueryPaymentRequest {
	return c.QueryPaymentRequest{PaymentID: r.GetPaymentId(), Reference: r.GetReference()}
}

// PaymentStatusToPB converts the Go contract value to its wire form.
func PaymentStatusToPB(r c.PaymentStatus) *pb.PaymentStatus {
	return &pb.PaymentStatus{Result: ResultToPB(r.Result), PaymentId: r.PaymentID, Reference: r.Reference, Status: r.Status,
		Amount: MoneyToPB(r.Amount), Captured: MoneyToPB(r.Captured), Refunded: MoneyToPB(r.Refunded), Voided: r.Voided}
}

// PaymentStatusFromPB converts the wire form to the Go contract value.
func PaymentStatusFromPB(r *pb.PaymentStatus) c.PaymentStatus {
	return c.PaymentStatus{Result: ResultFromPB(r.GetResult()), PaymentID: r.GetPaymentId(), Reference: r.GetReference(), Status: r.GetStatus(),
		Amount: MoneyFromPB(r.GetAmount()), Captured: MoneyFromPB(r.GetCaptured()), Refunded: MoneyFromPB(r.GetRefunded()),
		Voided: r.GetVoided()}
}

// SignAgreementToPB converts the Go contract value to its wire form.
func SignAgreementToPB(r c.SignAgreementRequest) *pb.SignAgreementRequest {
	return &pb.SignAgreementRequest{IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, Customer: customerToPB(r.Customer),
		Account: accountToPB(r.Account), MaxAmount: MoneyToPB(r.MaxAmount), ReturnUrl: r.ReturnURL}
}

// SignAgreementFromPB converts the wire form to the Go contract value.
func SignAgreementFromPB(r *pb.SignAgreementRequest) c.SignAgreementRequest {
	return c.SignAgreementRequest{IdempotencyKey: r.GetIdempotencyKey(), Reference: r.GetReference(), Customer: customerFromPB(r.GetCustomer()),
		Account: accountFromPB(r.GetAccount()), MaxAmount: MoneyFromPB(r.GetMaxAmount()), ReturnURL: r.GetReturnUrl()}
}

// TerminateAgreementToPB converts the Go contract value to its wire form.
func TerminateAgreementToPB(r c.TerminateAgreementRequest) *pb.TerminateAgreementRequest {
	return &pb.TerminateAgreementRequest{IdempotencyKey: r.IdempotencyKey, AgreementId: r.AgreementID, Reason: r.Reason}
}

// TerminateAgreementFromPB converts the wire form to the Go contract value.
func TerminateAgreementFromPB(r *pb.TerminateAgreementRequest) c.TerminateAgreementRequest {
	return c.TerminateAgreementRequest{IdempotencyKey: r.GetIdempotencyKey(), AgreementID: r.GetAgreementId(), Reason: r.GetReason()}
}

// QueryAgreementToPB converts the Go contract value to its wire form.
func QueryAgreementToPB(r c.QueryAgreementRequest) *pb.QueryAgreementRequest {
	return &pb.QueryAgreementRequest{AgreementId: r.AgreementID, Reference: r.Reference}
}

// QueryAgreementFromPB converts the wire form to the Go contract value.
func QueryAgreementFromPB(r *pb.QueryAgreementRequest) c.QueryAgreementRequest {
	return c.QueryAgreementRequest{AgreementID: r.GetAgreementId(), Reference: r.GetReference()}
}

// AgreementToPB converts the Go contract value to its wire form.
func AgreementToPB(r c.AgreementResponse) *pb.AgreementResponse {
	return &pb.AgreementResponse{Result: ResultToPB(r.Result), AgreementId: r.AgreementID, Status: r.Status, NextAction: nextActionToPB(r.NextAction)}
}

// AgreementFromPB converts the wire form to the Go contract value.
func AgreementFromPB(r *pb.AgreementResponse) c.AgreementResponse {
	return c.AgreementResponse{Result: ResultFromPB(r.GetResult()), AgreementID: r.GetAgreementId(), Status: r.GetStatus(), NextAction: nextActionFromPB(r.GetNextAction())}
}

// PayoutToPB converts the Go contract value to its wire form.
func PayoutToPB(r c.PayoutRequest) *pb.PayoutRequest {
	return &pb.PayoutRequest{IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, Amount: MoneyToPB(r.Amount),
		Beneficiary: accountToPB(r.Beneficiary), Purpose: r.Purpose}
}

// PayoutFromPB converts the wire form to the Go contract value.
func PayoutFromPB(r *pb.PayoutRequest) c.PayoutRequest {
	return c.PayoutRequest{IdempotencyKey: r.GetIdempotencyKey(), Reference: r.GetReference(), Amount: MoneyFromPB(r.GetAmount()),
		Beneficiary: accountFromPB(r.GetBeneficiary()), Purpose: r.GetPurpose()}
}

// BalanceToPB converts the Go contract value to its wire form.
func BalanceToPB(r c.BalanceResponse) *pb.BalanceResponse {
	out := &pb.BalanceResponse{Result: ResultToPB(r.Result)}
	for _, b := range r.Balances {
		out.Balances = append(out.Balances, &pb.Balance{Available: MoneyToPB(b.Available), Pending: MoneyToPB(b.Pending)})
	}
	return out
}

// BalanceFromPB converts the wire form to the Go contract value.
func BalanceFromPB(r *pb.BalanceResponse) c.BalanceResponse {
	out := c.BalanceResponse{Result: ResultFromPB(r.GetResult())}
	for _, b := range r.GetBalances() {
		out.Balances = append(out.Balances, c.Balance{Available: MoneyFromPB(b.GetAvailable()), Pending: MoneyFromPB(b.GetPending())})
	}
	return out
}

// SettlementToPB converts the Go contract value to its wire form.
func SettlementToPB(r c.SettlementReport) *pb.SettlementReport {
	out := &pb.SettlementReport{Result: ResultToPB(r.Result), Date: r.Date, NextPageToken: r.NextPageToken}
	for _, l := range r.Lines {
		out.Lines = append(out.Lines, &pb.SettlementLine{PaymentId: l.PaymentID, Reference: l.Reference, Type: l.Type,
			Gross: MoneyToPB(l.Gross), Fee: MoneyToPB(l.Fee), Net: MoneyToPB(l.Net), TransactionId: l.TransactionID})
	}
	return out
}

// SettlementFromPB converts the wire form to the Go contract value.
func SettlementFromPB(r *pb.SettlementReport) c.SettlementReport {
	out := c.SettlementReport{Result: ResultFromPB(r.GetResult()), Date: r.GetDate(), NextPageToken: r.GetNextPageToken(),
		Lines: make([]c.SettlementLine, 0, len(r.GetLines()))}
	for _, l := range r.GetLines() {
		out.Lines = append(out.Lines, c.SettlementLine{PaymentID: l.GetPaymentId(), Reference: l.GetReference(), Type: l.GetType(),
			Gross: MoneyFromPB(l.GetGross()), Fee: MoneyFromPB(l.GetFee()), Net: MoneyFromPB(l.GetNet()), TransactionID: l.GetTransactionId()})
	}
	return out
}

// RatesToPB converts the Go contract value to its wire form.
func RatesToPB(r c.RatesResponse) *pb.RatesResponse {
	out := &pb.RatesResponse{Result: ResultToPB(r.Result)}
	for _, x := range r.Rates {
		out.Rates = append(out.Rates, &pb.Rate{Base: x.Base, Quote: x.Quote, Rate: x.Rate, Bid: x.Bid, Ask: x.Ask,
			AsOf: unix(x.AsOf), ExpiresAt: unix(x.ExpiresAt)})
	}
	return out
}

// RatesFromPB converts the wire form to the Go contract value.
func RatesFromPB(r *pb.RatesResponse) c.RatesResponse {
	out := c.RatesResponse{Result: ResultFromPB(r.GetResult())}
	for _, x := range r.GetRates() {
		out.Rates = append(out.Rates, c.Rate{Base: x.GetBase(), Quote: x.GetQuote(), Rate: x.GetRate(), Bid: x.GetBid(), Ask: x.GetAsk(),
			AsOf: fromUnix(x.GetAsOf()), ExpiresAt: fromUnix(x.GetExpiresAt())})
	}
	return out
}

func headersToPB(h http.Header) []*pb.Header {
	var out []*pb.Header
	for k, v := range h {
		out = append(out, &pb.Header{Name: k, Values: v})
	}
	return out
}

func headersFromPB(hs []*pb.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for _, v := range h.GetValues() {
			out.Add(h.GetName(), v)
		}
	}
	return out
}

// HTTPRequestToPB converts the Go contract value to its wire form.
func HTTPRequestToPB(r c.HTTPRequest) *pb.HTTPRequest {
	return &pb.HTTPRequest{Method: r.Method, Path: r.Path, Query: r.Query, Headers: headersToPB(r.Headers), Body: r.Body}
}

// HTTPRequestFromPB converts the wire form to the Go contract value.
func HTTPRequestFromPB(r *pb.HTTPRequest) c.HTTPRequest {
	return c.HTTPRequest{Method: r.GetMethod(), Path: r.GetPath(), Query: r.GetQuery(), Headers: headersFromPB(r.GetHeaders()), Body: r.GetBody()}
}

// HTTPResponseToPB converts the Go contract value to its wire form.
func HTTPResponseToPB(r c.HTTPResponse) *pb.HTTPResponse {
	out := &pb.HTTPResponse{Status: int32(r.Status), Headers: headersToPB(r.Headers), Body: r.Body}
	for _, e := range r.Events {
		out.Events = append(out.Events, EventToPB(e))
	}
	return out
}

// HTTPResponseFromPB converts the wire form to the Go contract value.
func HTTPResponseFromPB(r *pb.HTTPResponse) c.HTTPResponse {
	out := c.HTTPResponse{Status: int(r.GetStatus()), Headers: headersFromPB(r.GetHeaders()), Body: r.GetBody()}
	for _, e := range r.GetEvents() {
		out.Events = append(out.Events, EventFromPB(e))
	}
	return out
}

var eventTypes = map[c.EventType]pb.EventType{
	c.EventPaymentResult:    pb.EventType_EVENT_TYPE_PAYMENT_RESULT,
	c.EventRefundResult:     pb.EventType_EVENT_TYPE_REFUND_RESULT,
	c.EventChargeback:       pb.EventType_EVENT_TYPE_CHARGEBACK,
	c.EventChargebackUpdate: pb.EventType_EVENT_TYPE_CHARGEBACK_UPDATE,
	c.EventPayoutResult:     pb.EventType_EVENT_TYPE_PAYOUT_RESULT,
	c.EventSettlement:       pb.EventType_EVENT_TYPE_SETTLEMENT,
	c.EventAgreementResult:  pb.EventType_EVENT_TYPE_AGREEMENT_RESULT,
	c.EventDispute:          pb.EventType_EVENT_TYPE_DISPUTE,
}

// EventToPB converts the Go contract value to its wire form.
func EventToPB(e c.Event) *pb.Event {
	out := &pb.Event{Id: e.ID, Type: eventTypes[e.Type], OccurredAt: unix(e.OccurredAt), PaymentId: e.PaymentID,
		Reference: e.Reference, ObjectId: e.ObjectID, Result: ResultToPB(e.Result), Amount: MoneyToPB(e.Amount),
		Status: e.Status, Data: e.Data}
	if e.Dispute != nil {
		out.Dispute = DisputeToPB(*e.Dispute)
	}
	return out
}

// EventFromPB converts the wire form to the Go contract value.
func EventFromPB(e *pb.Event) c.Event {
	out := c.Event{ID: e.GetId(), OccurredAt: fromUnix(e.GetOccurredAt()), PaymentID: e.GetPaymentId(),
		Reference: e.GetReference(), ObjectID: e.GetObjectId(), Result: ResultFromPB(e.GetResult()),
		Amount: MoneyFromPB(e.GetAmount()), Status: e.GetStatus(), Data: e.GetData()}
	if d := e.GetDispute(); d != nil {
		dd := DisputeFromPB(d)
		out.Dispute = &dd
	}
	for k, v := range eventTypes {
		if v == e.GetType() {
			out.Type = k
		}
	}
	return out
}

// DisputeToPB converts the Go contract value to its wire form.
func DisputeToPB(d c.Dispute) *pb.Dispute {
	return &pb.Dispute{Id: d.ID, PaymentId: d.PaymentID, Reference: d.Reference, Stage: string(d.Stage),
		Status: string(d.Status), ReasonCode: d.ReasonCode, Reason: d.Reason, Amount: MoneyToPB(d.Amount),
		Fee: MoneyToPB(d.Fee), DueBy: unix(d.DueBy)}
}

// DisputeFromPB converts the wire form to the Go contract value.
func DisputeFromPB(d *pb.Dispute) c.Dispute {
	return c.Dispute{ID: d.GetId(), PaymentID: d.GetPaymentId(), Reference: d.GetReference(),
		Stage: c.DisputeStage(d.GetStage()), Status: c.DisputeStatus(d.GetStatus()), ReasonCode: d.GetReasonCode(),
		Reason: d.GetReason(), Amount: MoneyFromPB(d.GetAmount()), Fee: MoneyFromPB(d.GetFee()), DueBy: fromUnix(d.GetDueBy())}
}

// DisputeResponseToPB converts the Go contract value to its wire form.
func DisputeResponseToPB(r c.DisputeResponse) *pb.DisputeResponse {
	return &pb.DisputeResponse{Result: ResultToPB(r.Result), Dispute: DisputeToPB(r.Dispute)}
}

// DisputeResponseFromPB converts the wire form to the Go contract value.
func DisputeResponseFromPB(r *pb.DisputeResponse) c.DisputeResponse {
	return c.DisputeResponse{Result: ResultFromPB(r.GetResult()), Dispute: DisputeFromPB(r.GetDispute())}
}

// SubmitDisputeEvidenceToPB converts the Go contract value to its wire form.
func SubmitDisputeEvidenceToPB(r c.SubmitDisputeEvidenceRequest) *pb.SubmitDisputeEvidenceRequest {
	out := &pb.SubmitDisputeEvidenceRequest{IdempotencyKey: r.IdempotencyKey, DisputeId: r.DisputeID, Evidence: r.Evidence}
	for _, f := range r.Files {
		out.Files = append(out.Files, &pb.DisputeFile{Name: f.Name, ContentType: f.ContentType, Purpose: f.Purpose, Data: f.Data})
	}
	return out
}

// SubmitDisputeEvidenceFromPB converts the wire form to the Go contract value.
func SubmitDisputeEvidenceFromPB(r *pb.SubmitDisputeEvidenceRequest) c.SubmitDisputeEvidenceRequest {
	out := c.SubmitDisputeEvidenceRequest{IdempotencyKey: r.GetIdempotencyKey(), DisputeID: r.GetDisputeId(), Evidence: r.GetEvidence()}
	for _, f := range r.GetFiles() {
		out.Files = append(out.Files, c.DisputeFile{Name: f.GetName(), ContentType: f.GetContentType(), Purpose: f.GetPurpose(), Data: f.GetData()})
	}
	return out
}
