package cashier

import (
	"github.com/straitpay/strait/vocab/attemptstatus"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments/routing"
)

// result is one answer about an attempt, from whichever source: the
// connector's reply to Authorize, QueryPayment on the janitor's behalf, or an
// asynchronous channel event. Every source becomes a result, and every result
// takes the same record path.
type result struct {
	// outcome is the attempt machine's input; "" means "still in flight"
	// (the channel answered pending, or the janitor learned nothing new):
	// the attempt keeps its state and is checked again later.
	outcome     attemptstatus.Outcome
	declineType connectors.DeclineType
	retryable   bool
	code        string
	message     string
	channelID   string
	action      *connectors.NextAction
	// eventID is "connector:event id" for results from channel events, so
	// a redelivered event is recognized.
	eventID string
	// check is set by the janitor: the attempt's check count moves on.
	check bool
	// captured is the amount of a capture of an authorization, which may be
	// partial; zero means the attempt's amount.
	captured int64
}

// resultOf maps a connector's normalized Result to the attempt machine.
// capture says whether the attempt was a sale: an approval then means the
// money is captured.
func resultOf(r connectors.Result, capture bool) result {
	out := result{declineType: r.DeclineType, retryable: r.Retryable, code: r.Code, message: r.Message}
	switch r.Outcome {
	case connectors.OutcomeApproved:
		out.outcome = attemptstatus.OutcomeApproved
		if capture {
			out.outcome = attemptstatus.OutcomeCaptured
		}
	case connectors.OutcomePending:
		out.outcome = ""
	case connectors.OutcomeActionRequired:
		out.outcome = attemptstatus.OutcomeActionRequired
	case connectors.OutcomeDeclined:
		out.outcome = attemptstatus.OutcomeDeclined
	case connectors.OutcomeError:
		out.outcome = attemptstatus.OutcomeError
	default:
		out.outcome = attemptstatus.OutcomeUnknown
	}
	return out
}

// authorizeResult reads Authorize's answer. An error without a business
// answer keeps the outcome the host or connector reported with it: an error
// outcome when the channel certainly was not reached, unknown otherwise.
func authorizeResult(resp connectors.AuthorizeResponse, err error, capture bool) result {
	r := resultOf(resp.Result, capture)
	if err != nil {
		r.message = err.Error()
		if resp.Result.Outcome != connectors.OutcomeError {
			r.outcome = attemptstatus.OutcomeUnknown
		}
		switch connectors.ErrorCode(err) {
		case connectors.EUNAVAILABLE:
			r.outcome, r.retryable = attemptstatus.OutcomeError, true
		case connectors.EINVALID, connectors.EUNSUPPORTED:
			r.outcome, r.retryable = attemptstatus.OutcomeError, false
		}
		if r.code == "" {
			r.code = string(connectors.ErrorCode(err))
		}
	}
	r.channelID, r.action = resp.PaymentID, resp.NextAction
	return r
}

// failure is the cascade policy's view of a result.
func (r result) failure() routing.Failure {
	f := routing.Failure{Code: r.code}
	switch {
	case r.outcome == attemptstatus.OutcomeDeclined && r.declineType == connectors.DeclineSoft:
		f.Outcome = routing.SoftDecline
	case r.outcome == attemptstatus.OutcomeDeclined:
		f.Outcome = routing.HardDecline
	case r.outcome == attemptstatus.OutcomeError && r.retryable:
		f.Outcome = routing.RetryableError
	case r.outcome == attemptstatus.OutcomeError:
		// The channel refused the request itself (invalid, unsupported):
		// another connector would be sent the same request.
		f.Outcome = routing.HardDecline
	default:
		f.Outcome = routing.Unknown
	}
	return f
}

// nextActionData is the stored (and outbox) form of a next action.
func nextActionData(a *connectors.NextAction) map[string]any {
	if a == nil {
		return nil
	}
	m := map[string]any{"type": string(a.Type)}
	if a.URL != "" {
		m["url"] = a.URL
	}
	if a.QRData != "" {
		m["qr_data"] = a.QRData
	}
	if !a.ExpiresAt.IsZero() {
		m["expires_at"] = a.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	}
	if t := a.Transfer; t != nil {
		m["instructions"] = map[string]any{
			"bank_name": t.BankName, "account_name": t.AccountName, "account_number": t.AccountNumber,
			"bank_code": t.BankCode, "reference": t.Reference, "amount": t.Amount.Minor, "currency": t.Amount.Currency,
		}
	}
	return m
}
