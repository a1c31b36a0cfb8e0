package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// Source types of the money movements Strait posts. Other packages may use their
// own as long as they match the pattern of Source.Validate.
const (
	SourceCapture    = "capture"
	SourceRefund     = "refund"
	SourceDispute    = "dispute"
	SourceSettlement = "settlement"
	SourcePayout     = "payout"
	SourceConversion = "conversion"
	SourceTransfer   = "transfer"
	SourceAdjustment = "adjustment"
)

// MaxPostings bounds the postings of one entry: a split payment with fees and
// profit shares needs a handful; a thousand would be a bug, and would hold too
// many row locks at once.
const MaxPostings = 64

// MaxDescription bounds an entry's description, in characters.
const MaxDescription = 255

// MaxReference bounds an entry's reference: one Strait ID.
const MaxReference = 40

var (
	sourceTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	// A source id fits a 191-character index on utf8mb4 MySQL.
	sourceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_\-.:/=+]{1,191}$`)
)

// Source identifies the business event an entry records, e.g. capture pay_01H….
// A source posts at most once: posting the same source again with the same
// postings replays the first entry, with different postings it is ECONFLICT.
type Source struct {
	Type string
	ID   string
}

// String returns "type:id".
func (s Source) String() string { return s.Type + ":" + s.ID }

// Validate returns EINVALID (field "source") unless Type is 1–32 characters of
// [a-z0-9_] starting with a letter and ID is 1–191 characters of
// [A-Za-z0-9_-.:/=+].
func (s Source) Validate() error {
	if !sourceTypePattern.MatchString(s.Type) {
		return payments.FieldErrorf("source", "invalid source type %q", s.Type)
	}
	if !sourceIDPattern.MatchString(s.ID) {
		return payments.FieldErrorf("source", "invalid source id %q", s.ID)
	}
	return nil
}

// Posting moves Amount into (positive) or out of (negative) one account. Its
// currency must be the account's.
type Posting struct {
	Account AccountKey
	Amount  money.Amount
}

// Entry is a journal entry: postings that balance per currency, recorded once
// for their Source.
type Entry struct {
	Source      Source
	Description string
	// Reference names what priced or authorized the movement, when there is
	// such a thing: the FX quote of a conversion. At most 40 characters.
	Reference string
	// EffectiveAt is when the movement took effect in the business sense (the
	// capture time, the settlement date); balances "as of" a moment use it.
	EffectiveAt time.Time
	Postings    []Posting
}

// Validate checks an entry before anything is written. It returns EINVALID when
// the source is invalid, the description is longer than MaxDescription, the
// effective time is zero, there are fewer than two or more than MaxPostings
// postings, a posting's account is invalid, a posting is zero, its currency
// differs from its account's, a currency's postings overflow int64, or the
// postings of any currency do not sum to zero.
func (e Entry) Validate() error {
	if err := e.Source.Validate(); err != nil {
		return err
	}
	if utf8.RuneCountInString(e.Description) > MaxDescription {
		return payments.FieldErrorf("description", "description is longer than %d characters", MaxDescription)
	}
	if len(e.Reference) > MaxReference {
		return payments.FieldErrorf("reference", "reference is longer than %d bytes", MaxReference)
	}
	if e.EffectiveAt.IsZero() {
		return payments.FieldErrorf("effectiveAt", "effective time is required")
	}
	if len(e.Postings) < 2 || len(e.Postings) > MaxPostings {
		return payments.FieldErrorf("postings", "an entry needs 2 to %d postings, got %d", MaxPostings, len(e.Postings))
	}
	sums := map[money.Currency]money.Amount{}
	nets := map[AccountKey]money.Amount{}
	for i, p := range e.Postings {
		if err := p.Account.Validate(); err != nil {
			return err
		}
		if p.Amount.IsZero() {
			return payments.FieldErrorf("postings", "posting %d to %s is zero", i, p.Account)
		}
		if p.Amount.Currency != p.Account.Currency {
			return payments.FieldErrorf("postings", "posting %d is in %s but account %s is in %s",
				i, p.Amount.Currency, p.Account, p.Account.Currency)
		}
		next, err := addTo(sums[p.Amount.Currency], p.Amount)
		if err != nil {
			return payments.FieldErrorf("postings", "%s postings overflow", p.Amount.Currency)
		}
		sums[p.Amount.Currency] = next
		net, err := addTo(nets[p.Account], p.Amount)
		if err != nil {
			return payments.FieldErrorf("postings", "postings to %s overflow", p.Account)
		}
		nets[p.Account] = net
	}
	for c, sum := range sums {
		if !sum.IsZero() {
			return payments.FieldErrorf("postings", "entry does not balance: %s postings sum to %s", c, sum.Decimal())
		}
	}
	return nil
}

// Hash returns the hex SHA-256 of the entry's postings in canonical form (each
// "account amount" line, sorted), so the same postings in any order hash alike.
// The source, description and effective time are not part of it: a retry of the
// same movement may describe it differently, but must move the same money.
func (e Entry) Hash() string {
	lines := make([]string, len(e.Postings))
	for i, p := range e.Postings {
		lines[i] = p.Account.String() + " " + strconv.FormatInt(p.Amount.Minor, 10)
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

// addTo adds b to a, treating the zero Amount as zero of b's currency.
func addTo(a, b money.Amount) (money.Amount, error) {
	if a.Currency.IsZero() {
		return b, nil
	}
	return a.Add(b)
}

// Accounts returns the distinct accounts the entry posts to, in key order.
func (e Entry) Accounts() []AccountKey {
	keys := make([]AccountKey, 0, len(e.Postings))
	for _, p := range e.Postings {
		keys = append(keys, p.Account)
	}
	slices.SortFunc(keys, AccountKey.Compare)
	return slices.Compact(keys)
}

// Net returns the entry's net movement per account: two postings to one account
// count as one change of its balance. It assumes a valid entry.
func (e Entry) Net() map[AccountKey]int64 {
	net := make(map[AccountKey]int64, len(e.Postings))
	for _, p := range e.Postings {
		net[p.Account] += p.Amount.Minor
	}
	return net
}

// Apply returns the balances after the entry's net movements. balances holds
// each account's current balance (absent means zero) and is not modified.
// Returns EINVALID if a balance would overflow int64, and ECONFLICT
// ("insufficient funds") if an account that does not allow negative balances
// would be driven below zero by a debit; a credit is always accepted.
func Apply(balances map[AccountKey]int64, allowNegative func(AccountKey) bool, e Entry) (map[AccountKey]int64, error) {
	next := make(map[AccountKey]int64, len(e.Postings))
	net := e.Net()
	for _, k := range e.Accounts() {
		delta := net[k]
		before := balances[k]
		after, err := money.Amount{Minor: before, Currency: k.Currency}.Add(money.Amount{Minor: delta, Currency: k.Currency})
		if err != nil {
			return nil, payments.FieldErrorf("postings", "balance of %s would overflow", k)
		}
		if delta < 0 && after.Minor < 0 && !allowNegative(k) {
			return nil, payments.Errorf(payments.ECONFLICT, "insufficient funds in %s: balance %s, debit %s",
				k, money.Amount{Minor: before, Currency: k.Currency}.Decimal(), money.Amount{Minor: -delta, Currency: k.Currency}.Decimal())
		}
		next[k] = after.Minor
	}
	return next, nil
}
