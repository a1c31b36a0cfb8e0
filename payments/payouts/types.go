// Package payouts registers merchants' bank accounts, verifies them by
// micro-deposits, and pays merchants' available funds out to them through
// the bank connector: on request (Create), at a later time (SendAt) or on a
// schedule (Schedule, run by RunDue inside `strait serve`). A payout's
// states are vocab/payoutstatus's; the bank's answers and events move it,
// and a failed or canceled payout returns its funds to available. The
// postings are in docs/settlement.md ("Payouts"). Nothing here knows of
// HTTP or GraphQL.
package payouts

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/vocab/payoutstatus"
)

// BankAccountStatus is where a bank account's verification stands.
type BankAccountStatus string

// Bank account states: micro-deposits sent, the merchant confirmed them,
// or verification failed (wrong amounts three times, or the deposits
// bounced).
const (
	PendingVerification BankAccountStatus = "PENDING_VERIFICATION"
	Verified            BankAccountStatus = "VERIFIED"
	VerificationFailed  BankAccountStatus = "VERIFICATION_FAILED"
)

// MarshalGQL writes s as the GraphQL enum value.
func (s BankAccountStatus) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads a GraphQL enum value.
func (s *BankAccountStatus) UnmarshalGQL(v any) error {
	str, _ := v.(string)
	switch BankAccountStatus(str) {
	case PendingVerification, Verified, VerificationFailed:
		*s = BankAccountStatus(str)
		return nil
	}
	return fmt.Errorf("%v is not a valid BankAccountStatus", v)
}

// BankAccount is a merchant's bank account as shown: never its full number.
type BankAccount struct {
	ID, MerchantID    string
	Country, Currency string
	HolderName        string
	// Last4 is the last four characters of the IBAN or account number.
	Last4 string
	// Routing is the routing or bank code; empty for an IBAN.
	Routing       string
	Status        BankAccountStatus
	FailureReason string
	CreatedAt     time.Time
}

// Payout is one payout as shown.
type Payout struct {
	ID, MerchantID, BankAccountID string
	// Amount is what the bank account receives, in its currency.
	Amount money.Amount
	// Source is what left the merchant's available balance; it differs from
	// Amount when FxQuoteID converted it.
	Source      money.Amount
	FxQuoteID   string
	Status      payoutstatus.Status
	Description string
	// FailureCode is the bank's reason for a failed payout.
	FailureCode string
	// SendAt is when it goes to the bank; it can be canceled until then.
	SendAt               time.Time
	CreatedAt, UpdatedAt time.Time
}

// Schedule pays a merchant's whole available balance in Currency to
// BankAccountID every day (Interval "DAILY") or every week on Weekday (0
// Sunday … 6 Saturday), when it is at least Minimum minor units.
type Schedule struct {
	MerchantID, BankAccountID string
	Currency                  string
	Interval                  Interval
	Weekday                   int
	Minimum                   int64
	Enabled                   bool
	NextRunAt                 *time.Time
}

// Interval is how often a Schedule pays out.
type Interval string

// Intervals.
const (
	Daily  Interval = "DAILY"
	Weekly Interval = "WEEKLY"
)

// MarshalGQL writes i as the GraphQL enum value.
func (i Interval) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(i))) }

// UnmarshalGQL reads a GraphQL enum value.
func (i *Interval) UnmarshalGQL(v any) error {
	str, _ := v.(string)
	if Interval(str) != Daily && Interval(str) != Weekly {
		return fmt.Errorf("%v is not a valid PayoutInterval", v)
	}
	*i = Interval(str)
	return nil
}
