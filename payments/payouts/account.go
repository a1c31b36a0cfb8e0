package payouts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/bankaccount"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// MaxVerifyAttempts is how many wrong micro-deposit confirmations fail an
// account for good: two amounts of 1–99 minor units each leave 4,851
// pairs, so three guesses find them with odds of 1 in 1,617.
const MaxVerifyAttempts = 3

// ibanLengths is the IBAN length of each IBAN country Strait pays out to
// (the ISO 13616 registry). A country here must be paid by IBAN.
var ibanLengths = map[string]int{
	"AT": 20, "BE": 16, "CH": 21, "CY": 18, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27,
	"GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IT": 27, "LT": 20, "LU": 20, "LV": 21, "MT": 31, "NL": 18,
	"NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "AE": 23, "SA": 24, "TR": 26,
}

var (
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	ibanPattern    = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`)
	numberPattern  = regexp.MustCompile(`^[0-9]{4,17}$`)
	routingPattern = regexp.MustCompile(`^[A-Z0-9]{3,11}$`)
)

// NewBankAccount is a bank account to add: an IBAN, or an account number
// with its routing code.
type NewBankAccount struct {
	MerchantID, Country, Currency, HolderName string
	IBAN, AccountNumber, RoutingNumber        string
}

// bankDetails is what is stored of a valid NewBankAccount.
type bankDetails struct {
	country  string
	currency money.Currency
	holder   string
	number   string // the IBAN or the account number
	routing  string
}

// validate returns the account's details, normalized, or EINVALID naming
// the bad field: a country that is not two letters; an unknown currency; a
// holder name empty or above 140 characters; in an IBAN country, no IBAN,
// an IBAN of another country or length, or one whose mod-97 check fails;
// elsewhere, an account number that is not 4–17 digits, or a routing code
// missing, malformed, or (US) failing the ABA check digit.
func (n NewBankAccount) validate() (bankDetails, error) {
	d := bankDetails{country: strings.ToUpper(strings.TrimSpace(n.Country)), holder: strings.TrimSpace(n.HolderName)}
	if !countryPattern.MatchString(d.country) {
		return d, payments.FieldErrorf("country", "country must be an ISO 3166 code such as DE")
	}
	c, err := money.ParseCurrency(n.Currency)
	if err != nil {
		return d, payments.FieldErrorf("currency", "unknown currency %q", n.Currency)
	}
	d.currency = c
	if d.holder == "" || len([]rune(d.holder)) > 140 {
		return d, payments.FieldErrorf("holderName", "the holder's name is required, at most 140 characters")
	}
	iban := strings.ToUpper(strings.Join(strings.Fields(n.IBAN), ""))
	if want, ok := ibanLengths[d.country]; ok {
		switch {
		case iban == "":
			return d, payments.FieldErrorf("iban", "%s accounts are paid by IBAN", d.country)
		case !ibanPattern.MatchString(iban) || len(iban) != want || iban[:2] != d.country:
			return d, payments.FieldErrorf("iban", "a %s IBAN is %d letters and digits starting with %s", d.country, want, d.country)
		case !IBANChecks(iban):
			return d, payments.FieldErrorf("iban", "the IBAN's check digits do not match: a typo?")
		}
		d.number = iban
		return d, nil
	}
	if iban != "" {
		return d, payments.FieldErrorf("iban", "%s does not use IBANs: give accountNumber and routingNumber", d.country)
	}
	d.number = strings.Join(strings.Fields(n.AccountNumber), "")
	d.routing = strings.ToUpper(strings.Join(strings.Fields(n.RoutingNumber), ""))
	if !numberPattern.MatchString(d.number) {
		return d, payments.FieldErrorf("accountNumber", "the account number is 4 to 17 digits")
	}
	if d.country == "US" {
		if !ABAChecks(d.routing) {
			return d, payments.FieldErrorf("routingNumber", "a US routing number is 9 digits whose check digit matches")
		}
	} else if !routingPattern.MatchString(d.routing) {
		return d, payments.FieldErrorf("routingNumber", "the routing or bank code is 3 to 11 letters and digits")
	}
	return d, nil
}

// IBANChecks reports whether iban (upper case, no spaces) passes the ISO
// 13616 check: moved to end its first four characters, letters as 10–35,
// the number is 1 modulo 97.
func IBANChecks(iban string) bool {
	if len(iban) < 5 {
		return false
	}
	r := 0
	for _, ch := range iban[4:] + iban[:4] {
		switch {
		case ch >= '0' && ch <= '9':
			r = (r*10 + int(ch-'0')) % 97
		case ch >= 'A' && ch <= 'Z':
			r = (r*100 + int(ch-'A') + 10) % 97
		default:
			return false
		}
	}
	return r == 1
}

// ABAChecks reports whether routing is a US ABA routing number: 9 digits
// whose weighted sum (3, 7, 1 repeated) is a multiple of 10.
func ABAChecks(routing string) bool {
	if len(routing) != 9 {
		return false
	}
	sum := 0
	for i, ch := range routing {
		if ch < '0' || ch > '9' {
			return false
		}
		sum += int(ch-'0') * []int{3, 7, 1}[i%3]
	}
	return sum%10 == 0
}

func fingerprint(d bankDetails) string {
	h := sha256.Sum256([]byte(d.country + "|" + d.routing + "|" + d.number))
	return hex.EncodeToString(h[:])
}

// DepositRef is the i-th (from 0) verification deposit's ledger source id
// and the bank call's idempotency key: <account>-verify<i+1>.
func DepositRef(accountID string, i int) string { return fmt.Sprintf("%s-verify%d", accountID, i+1) }

// microDeposits draws two distinct amounts of 1–99 minor units.
func microDeposits() ([]int64, error) {
	out := make([]int64, 0, 2)
	for len(out) < 2 {
		n, err := rand.Int(rand.Reader, big.NewInt(99))
		if err != nil {
			return nil, err
		}
		if v := n.Int64() + 1; !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// AddBankAccount stores a merchant's bank account and sends it two
// micro-deposits through the bank connector; the merchant confirms their
// amounts with VerifyBankAccount before any payout may use the account.
// The deposits are the platform's cost: each posts platform fees −d,
// channel receivable +d (source payout:<account>/verify:<n>).
//
// Returns EINVALID (see validate) for bad details, ECONFLICT when the
// merchant added the same account before, EUNAVAILABLE when the bank
// connector is not up. A deposit the bank refuses at once fails the
// account (VERIFICATION_FAILED with the bank's reason); one it returns
// later fails it by its event (HandleEvent).
func (s *Service) AddBankAccount(ctx context.Context, n NewBankAccount) (*BankAccount, error) {
	d, err := n.validate()
	if err != nil {
		return nil, err
	}
	c, err := s.connector()
	if err != nil {
		return nil, err
	}
	deps, err := microDeposits()
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	row, err := s.client.BankAccount.Create().SetMerchantID(n.MerchantID).SetCountry(d.country).SetCurrency(d.currency.Code()).
		SetHolderName(d.holder).SetNumber(d.number).SetRouting(d.routing).SetLast4(d.number[len(d.number)-4:]).
		SetFingerprint(fingerprint(d)).SetConnector(s.cfg.Connector).SetDeposits(deps).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, payments.Errorf(payments.ECONFLICT, "this bank account was added before")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: add bank account: %w", err)
	}
	for i, amt := range deps {
		ref := DepositRef(row.ID, i)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
		resp, err := c.Payout(cctx, connectors.PayoutRequest{IdempotencyKey: ref, Reference: row.ID,
			Amount: contractMoney(amt, d.currency), Beneficiary: beneficiary(row), Purpose: "account verification"})
		cancel()
		if ev := outcome(resp.Result, err); ev == failEvent {
			reason := "the bank refused the verification deposit: " + firstOf(resp.Result.Code, connectors.ErrorCode(err))
			row, err = row.Update().SetStatus(bankaccount.StatusVERIFICATION_FAILED).SetFailureReason(clip(reason, 200)).Save(sys)
			if err != nil {
				return nil, fmt.Errorf("payouts: bank account %s: %w", row.ID, err)
			}
			break
		}
		// Sent (or unknown: the same key asks again on a later add of the
		// account is not possible, so the deposit is booked as sent; a
		// bounce comes back as an event).
		e := ledger.Entry{Source: ledger.Source{Type: ledger.SourcePayout, ID: ref}, Description: "bank account verification deposit",
			Reference: row.ID, EffectiveAt: s.now(), Postings: []ledger.Posting{
				{Account: ledger.PlatformAccount(ledger.KindFees, d.currency), Amount: money.Amount{Minor: -amt, Currency: d.currency}},
				{Account: ledger.ChannelAccount(s.cfg.Connector, d.currency), Amount: money.Amount{Minor: amt, Currency: d.currency}},
			}}
		if err := s.ledger.Prepare(sys, e); err != nil {
			return nil, err
		}
		if _, err := s.ledger.Post(sys, e); err != nil {
			return nil, err
		}
	}
	return bankAccountOf(row), nil
}

// VerifyBankAccount confirms a bank account's micro-deposits: amounts are
// the two, in minor units of its currency, in any order. Right, the account
// is VERIFIED. Returns ENOTFOUND for an account the viewer cannot see,
// ECONFLICT unless it is PENDING_VERIFICATION, and EINVALID (field
// "amounts") for wrong amounts; the MaxVerifyAttempts-th wrong try fails
// the account.
func (s *Service) VerifyBankAccount(ctx context.Context, id string, amounts []int64) (*BankAccount, error) {
	row, err := s.client.BankAccount.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "bank account not found")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: bank account: %w", err)
	}
	if row.Status != bankaccount.StatusPENDING_VERIFICATION {
		return nil, payments.Errorf(payments.ECONFLICT, "the bank account is %s", strings.ToLower(string(row.Status)))
	}
	sys := viewer.SystemContext(ctx)
	got, want := slices.Clone(amounts), slices.Clone(row.Deposits)
	slices.Sort(got)
	slices.Sort(want)
	if slices.Equal(got, want) {
		// Conditional on the state read: a concurrent wrong try that failed
		// the account wins.
		n, err := s.client.BankAccount.Update().Where(bankaccount.ID(id), bankaccount.StatusEQ(bankaccount.StatusPENDING_VERIFICATION)).
			SetStatus(bankaccount.StatusVERIFIED).Save(sys)
		if err != nil {
			return nil, fmt.Errorf("payouts: verify %s: %w", id, err)
		}
		if n == 0 {
			return nil, payments.Errorf(payments.ECONFLICT, "the bank account is not pending verification")
		}
		return s.BankAccount(ctx, id)
	}
	u := s.client.BankAccount.Update().Where(bankaccount.ID(id), bankaccount.StatusEQ(bankaccount.StatusPENDING_VERIFICATION),
		bankaccount.VerifyAttempts(row.VerifyAttempts)).AddVerifyAttempts(1)
	last := row.VerifyAttempts+1 >= MaxVerifyAttempts
	if last {
		u.SetStatus(bankaccount.StatusVERIFICATION_FAILED).SetFailureReason("wrong micro-deposit amounts, three times")
	}
	if _, err := u.Save(sys); err != nil {
		return nil, fmt.Errorf("payouts: verify %s: %w", id, err)
	}
	if last {
		return nil, payments.FieldErrorf("amounts", "wrong amounts: the account failed verification; add it again")
	}
	return nil, payments.FieldErrorf("amounts", "wrong amounts: %d tries left", MaxVerifyAttempts-row.VerifyAttempts-1)
}

// BankAccount returns a bank account as the viewer may see it (ENOTFOUND
// otherwise).
func (s *Service) BankAccount(ctx context.Context, id string) (*BankAccount, error) {
	row, err := s.client.BankAccount.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "bank account not found")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: bank account: %w", err)
	}
	return bankAccountOf(row), nil
}

// BankAccounts returns the merchant's bank accounts, newest first, as the
// viewer may see them.
func (s *Service) BankAccounts(ctx context.Context, merchantID string) ([]BankAccount, error) {
	rows, err := s.client.BankAccount.Query().Where(bankaccount.MerchantID(merchantID)).Order(ent.Desc(bankaccount.FieldID)).Limit(100).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("payouts: bank accounts: %w", err)
	}
	out := make([]BankAccount, len(rows))
	for i, r := range rows {
		out[i] = *bankAccountOf(r)
	}
	return out, nil
}

func bankAccountOf(r *ent.BankAccount) *BankAccount {
	return &BankAccount{ID: r.ID, MerchantID: r.MerchantID, Country: r.Country, Currency: r.Currency, HolderName: r.HolderName,
		Last4: r.Last4, Routing: r.Routing, Status: BankAccountStatus(r.Status), FailureReason: r.FailureReason, CreatedAt: r.CreatedAt}
}

func beneficiary(r *ent.BankAccount) *connectors.BankAccount {
	return &connectors.BankAccount{Holder: r.HolderName, Number: r.Number, BankCode: r.Routing, Country: r.Country, Currency: r.Currency}
}

func contractMoney(minor int64, c money.Currency) connectors.Money {
	return connectors.Money{Minor: minor, Currency: c.Code()}
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return "unknown"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
