package connectors

import (
	"errors"
	"fmt"

	"golang.org/x/text/currency"
)

// MaxIDLength bounds ids, references and idempotency keys. Strait stores
// them in VARCHAR(255) columns and no channel we know accepts more, so a
// longer value is malformed rather than something to truncate.
const MaxIDLength = 255

// MaxTextLength bounds free text (descriptions, reasons). 1 KiB is far
// above what any channel displays and keeps a bad caller from pushing
// megabytes through every hop.
const MaxTextLength = 1024

// ValidCurrency reports whether code is an upper-case ISO 4217 code of a
// real currency. XXX (no currency) and XTS (testing) are refused.
func ValidCurrency(code string) bool {
	if len(code) != 3 || code == "XXX" || code == "XTS" {
		return false
	}
	for _, r := range code {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	_, err := currency.ParseISO(code)
	return err == nil
}

func invalid(format string, args ...any) error {
	return &Error{Code: EINVALID, Message: fmt.Sprintf(format, args...)}
}

func checkMoney(field string, m Money) error {
	if m.Minor <= 0 {
		return invalid("%s: amount must be positive, got %d", field, m.Minor)
	}
	if !ValidCurrency(m.Currency) {
		return invalid("%s: unknown currency %q", field, clip(m.Currency))
	}
	if e, ok := m.Exponent.Get(); ok && (e < 0 || e > MaxExponent) {
		return invalid("%s: exponent %d is outside 0..%d", field, e, MaxExponent)
	}
	return nil
}

func checkID(field, v string, required bool) error {
	if v == "" {
		if required {
			return invalid("%s is required", field)
		}
		return nil
	}
	if len(v) > MaxIDLength {
		return invalid("%s is %d bytes long, the limit is %d", field, len(v), MaxIDLength)
	}
	return nil
}

func checkText(field, v string) error {
	if len(v) > MaxTextLength {
		return invalid("%s is %d bytes long, the limit is %d", field, len(v), MaxTextLength)
	}
	return nil
}

// clip keeps a malformed value short enough to quote in an error.
func clip(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// Validate reports the first malformed field of r as an EINVALID error.
// It never quotes the card number or CVC.
func (r AuthorizeRequest) Validate() error {
	errs := []error{
		checkID("idempotency_key", r.IdempotencyKey, true),
		checkID("reference", r.Reference, true),
		checkMoney("amount", r.Amount),
		checkID("payment_method", r.PaymentMethod, false),
		checkID("agreement_id", r.AgreementID, false),
		checkText("return_url", r.ReturnURL),
		checkText("description", r.Description),
	}
	if r.ThreeDS < ThreeDSAutomatic || r.ThreeDS > ThreeDSChallenge {
		errs = append(errs, invalid("three_ds %d is not a known request", int(r.ThreeDS)))
	}
	if c := r.Card; c != nil {
		if n := len(c.Number); n < 12 || n > 19 || !digits(c.Number) {
			errs = append(errs, invalid("card number must be 12 to 19 digits"))
		}
		if c.ExpMonth < 1 || c.ExpMonth > 12 {
			errs = append(errs, invalid("card expiry month %d is out of range", c.ExpMonth))
		}
		if n := len(c.CVC); n != 0 && (n < 3 || n > 4 || !digits(c.CVC)) {
			errs = append(errs, invalid("card CVC must be 3 or 4 digits"))
		}
	}
	return first(errs)
}

// Validate reports the first malformed field of r.
func (r CaptureRequest) Validate() error {
	return first([]error{
		checkID("idempotency_key", r.IdempotencyKey, true),
		checkID("reference", r.Reference, true),
		checkID("payment_id", r.PaymentID, true),
		checkMoney("amount", r.Amount),
	})
}

// Validate reports the first malformed field of r.
func (r VoidRequest) Validate() error {
	return first([]error{
		checkID("idempotency_key", r.IdempotencyKey, true),
		checkID("reference", r.Reference, true),
		checkID("payment_id", r.PaymentID, true),
	})
}

// Validate reports the first malformed field of r.
func (r RefundRequest) Validate() error {
	return first([]error{
		checkID("idempotency_key", r.IdempotencyKey, true),
		checkID("reference", r.Reference, true),
		checkID("payment_id", r.PaymentID, true),
		checkMoney("amount", r.Amount),
		checkText("reason", r.Reason),
	})
}

// Validate reports a request that names no payment at all.
func (r QueryPaymentRequest) Validate() error {
	if r.PaymentID == "" && r.Reference == "" {
		return invalid("payment_id or reference is required")
	}
	return first([]error{checkID("payment_id", r.PaymentID, false), checkID("reference", r.Reference, false)})
}

// Validate reports the first malformed field of r.
func (r SignAgreementRequest) Validate() error {
	errs := []error{
		checkID("idempotency_key", r.IdempotencyKey, true),
		checkID("reference", r.Reference, true),
		checkText("return_url", r.ReturnURL),
	}
	if r.MaxAmount != (Money{}) {
		errs = append(errs, checkMoney("max_amount", r.MaxAmount))
	}
	if r.Account == nil {
		errs = append(errs, invalid("account is required"))
	} else {
		errs = append(errs, checkID("account.number", r.Account.Number, true))
	}
	return first(errs)
}

// Validate reports the first malformed field of r.
func (r TerminateAgreementRequest) Validate() error {
	return first([]error{
		checkID("idempotency_key", r.IdempotencyKey, true),
		checkID("agreement_id", r.AgreementID, true),
		checkText("reason", r.Reason),
	})
}

// Validate reports a request that names no agreement at all.
func (r QueryAgreementRequest) Validate() error {
	if r.AgreementID == "" && r.Reference == "" {
		return invalid("agreement_id or reference is required")
	}
	return first([]error{checkID("agreement_id", r.AgreementID, false), checkID("reference", r.Reference, false)})
}

// Validate reports the first malformed field of r.
func (r PayoutRequest) Validate() error {
	errs := []error{
		checkID("idempotency_key", r.IdempotencyKey, true),
		checkID("reference", r.Reference, true),
		checkMoney("amount", r.Amount),
		checkText("purpose", r.Purpose),
	}
	if r.Beneficiary == nil {
		errs = append(errs, invalid("beneficiary is required"))
	} else {
		errs = append(errs, checkID("beneficiary.number", r.Beneficiary.Number, true))
	}
	return first(errs)
}

// Validate reports a currency that is not ISO 4217.
func (r BalanceRequest) Validate() error {
	if r.Currency != "" && !ValidCurrency(r.Currency) {
		return invalid("unknown currency %q", clip(r.Currency))
	}
	return nil
}

// Validate reports a date that is not YYYY-MM-DD.
func (r SettlementReportRequest) Validate() error {
	if len(r.Date) != 10 || r.Date[4] != '-' || r.Date[7] != '-' ||
		!digits(r.Date[:4]+r.Date[5:7]+r.Date[8:]) {
		return invalid("date %q is not YYYY-MM-DD", clip(r.Date))
	}
	if r.PageSize < 0 || r.PageSize > MaxSettlementPageSize {
		return invalid("page size %d is not 0 to %d", r.PageSize, MaxSettlementPageSize)
	}
	if len(r.PageToken) > MaxIDLength {
		return invalid("page token is longer than %d bytes", MaxIDLength)
	}
	return nil
}

// Validate reports an unknown base or quote currency.
func (r RatesRequest) Validate() error {
	if !ValidCurrency(r.Base) {
		return invalid("unknown base currency %q", clip(r.Base))
	}
	for _, q := range r.Quotes {
		if !ValidCurrency(q) {
			return invalid("unknown quote currency %q", clip(q))
		}
	}
	return nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func first(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// IsInvalid reports whether err carries the EINVALID code.
func IsInvalid(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == EINVALID
}

// maxEvidenceText bounds the evidence text of one submission: card networks
// take a few pages of text, and a gRPC message must hold it with the files.
const maxEvidenceText = 150_000

// disputeContentTypes are the file types card networks accept as evidence.
var disputeContentTypes = map[string]bool{"application/pdf": true, "image/png": true, "image/jpeg": true}

// Validate reports a missing dispute id, oversized or empty evidence and
// files that are not PDF, PNG or JPEG or exceed MaxDisputeFileBytes.
func (r SubmitDisputeEvidenceRequest) Validate() error {
	if err := first([]error{checkID("idempotency_key", r.IdempotencyKey, true), checkID("dispute_id", r.DisputeID, true)}); err != nil {
		return err
	}
	total := 0
	for k, v := range r.Evidence {
		total += len(k) + len(v)
	}
	if total > maxEvidenceText {
		return invalid("evidence text is %d bytes, more than %d", total, maxEvidenceText)
	}
	if total == 0 && len(r.Files) == 0 {
		return invalid("evidence is empty")
	}
	files := 0
	for i, f := range r.Files {
		files += len(f.Data)
		switch {
		case files > MaxDisputeEvidenceBytes:
			return invalid("files total more than %d bytes", MaxDisputeEvidenceBytes)
		case !disputeContentTypes[f.ContentType]:
			return invalid("file %d: content type %q is not PDF, PNG or JPEG", i, clip(f.ContentType))
		case len(f.Data) == 0 || len(f.Data) > MaxDisputeFileBytes:
			return invalid("file %d: %d bytes, want 1 to %d", i, len(f.Data), MaxDisputeFileBytes)
		}
	}
	return nil
}

// Validate reports a missing key or dispute id.
func (r AcceptDisputeRequest) Validate() error {
	return first([]error{checkID("idempotency_key", r.IdempotencyKey, true), checkID("dispute_id", r.DisputeID, true)})
}

// Validate reports a missing dispute id.
func (r FetchDisputeRequest) Validate() error {
	return checkID("dispute_id", r.DisputeID, true)
}
