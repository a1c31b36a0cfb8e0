package ledger

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

var (
	usd = money.MustCurrency("USD")
	jpy = money.MustCurrency("JPY")
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func capture(id string, amount, fee int64) Entry {
	return Entry{
		Source:      Source{Type: SourceCapture, ID: id},
		Description: "card capture",
		EffectiveAt: t0,
		Postings: []Posting{
			{ChannelAccount("cardnet", usd), money.Amount{Minor: -amount, Currency: usd}},
			{MerchantAccount("mer_1", KindPending, usd), money.Amount{Minor: amount - fee, Currency: usd}},
			{PlatformAccount(KindFees, usd), money.Amount{Minor: fee, Currency: usd}},
		},
	}
}

func TestEntryValidate(t *testing.T) {
	mutate := func(f func(*Entry)) Entry {
		e := capture("pay_1", 1000, 30)
		e.Postings = append([]Posting(nil), e.Postings...)
		f(&e)
		return e
	}
	tests := []struct {
		name  string
		entry Entry
		field string
	}{
		{"a balanced capture is valid", capture("pay_1", 1000, 30), ""},
		{"unbalanced", mutate(func(e *Entry) { e.Postings[2].Amount.Minor = 31 }), "postings"},
		{"zero posting", mutate(func(e *Entry) {
			e.Postings = append(e.Postings, Posting{PlatformAccount(KindFX, usd), money.Amount{Currency: usd}})
		}), "postings"},
		{"one posting", mutate(func(e *Entry) { e.Postings = e.Postings[:1] }), "postings"},
		{"currency differs from the account's", mutate(func(e *Entry) { e.Postings[2].Amount.Currency = jpy }), "postings"},
		{"account without currency", mutate(func(e *Entry) { e.Postings[2].Account.Currency = money.Currency{} }), "account"},
		{"merchant cannot hold fees", mutate(func(e *Entry) { e.Postings[2].Account.OwnerType = OwnerMerchant }), "account"},
		{"platform owner id is fixed", mutate(func(e *Entry) { e.Postings[2].Account.OwnerID = "other" }), "account"},
		{"missing source id", mutate(func(e *Entry) { e.Source.ID = "" }), "source"},
		{"bad source type", mutate(func(e *Entry) { e.Source.Type = "Capture!" }), "source"},
		{"zero effective time", mutate(func(e *Entry) { e.EffectiveAt = time.Time{} }), "effectiveAt"},
		{"long description", mutate(func(e *Entry) { e.Description = strings.Repeat("x", 256) }), "description"},
		{"overflowing postings", mutate(func(e *Entry) {
			e.Postings = []Posting{
				{MerchantAccount("mer_1", KindAvailable, usd), money.Amount{Minor: math.MaxInt64, Currency: usd}},
				{MerchantAccount("mer_1", KindAvailable, usd), money.Amount{Minor: math.MaxInt64, Currency: usd}},
				{PlatformAccount(KindFX, usd), money.Amount{Minor: math.MinInt64 + 1, Currency: usd}},
				{PlatformAccount(KindFX, usd), money.Amount{Minor: math.MinInt64 + 1, Currency: usd}},
			}
		}), "postings"},
		{"each currency balances on its own", Entry{
			Source: Source{SourceConversion, "cnv_1"}, EffectiveAt: t0,
			Postings: []Posting{
				{MerchantAccount("mer_1", KindAvailable, usd), money.Amount{Minor: -1000, Currency: usd}},
				{PlatformAccount(KindFX, usd), money.Amount{Minor: 1000, Currency: usd}},
				{PlatformAccount(KindFX, jpy), money.Amount{Minor: -1500, Currency: jpy}},
				{MerchantAccount("mer_1", KindAvailable, jpy), money.Amount{Minor: 1500, Currency: jpy}},
			},
		}, ""},
		{"currencies do not balance each other", Entry{
			Source: Source{SourceConversion, "cnv_1"}, EffectiveAt: t0,
			Postings: []Posting{
				{MerchantAccount("mer_1", KindAvailable, usd), money.Amount{Minor: -1000, Currency: usd}},
				{MerchantAccount("mer_1", KindAvailable, jpy), money.Amount{Minor: 1000, Currency: jpy}},
			},
		}, "postings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.entry.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != tt.field {
				t.Fatalf("Validate() = %v, want EINVALID on %q", err, tt.field)
			}
		})
	}
}

func TestHashIgnoresOrderButNotAmounts(t *testing.T) {
	a := capture("pay_1", 1000, 30)
	b := capture("pay_1", 1000, 30)
	b.Postings = []Posting{b.Postings[2], b.Postings[0], b.Postings[1]}
	b.Description = "described differently"
	if a.Hash() != b.Hash() {
		t.Error("reordered postings hash differently")
	}
	if a.Hash() == capture("pay_1", 1000, 31).Hash() {
		t.Error("different fee hashes the same")
	}
	if len(a.Hash()) != 64 {
		t.Errorf("hash length %d, want 64 hex characters", len(a.Hash()))
	}
}

func TestApplyRefusesOverdraftOnlyWhereNotAllowed(t *testing.T) {
	pending := MerchantAccount("mer_1", KindPending, usd)
	avail := MerchantAccount("mer_1", KindAvailable, usd)
	release := func(amount int64) Entry {
		return Entry{Source: Source{SourceTransfer, "t"}, EffectiveAt: t0, Postings: []Posting{
			{pending, money.Amount{Minor: -amount, Currency: usd}},
			{avail, money.Amount{Minor: amount, Currency: usd}},
		}}
	}
	allow := AccountKey.AllowsNegative

	got, err := Apply(map[AccountKey]int64{pending: 970}, allow, release(970))
	if err != nil || got[pending] != 0 || got[avail] != 970 {
		t.Fatalf("release all = %v, %v", got, err)
	}
	if _, err := Apply(map[AccountKey]int64{pending: 970}, allow, release(971)); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatalf("overdraft err = %v, want ECONFLICT", err)
	}
	// The channel receivable goes negative by design.
	got, err = Apply(nil, allow, capture("pay_1", 1000, 30))
	if err != nil || got[ChannelAccount("cardnet", usd)] != -1000 {
		t.Fatalf("capture = %v, %v", got, err)
	}
	// A credit to an account that is (somehow) negative is always accepted.
	if _, err := Apply(map[AccountKey]int64{pending: 1, avail: -5}, allow, release(1)); err != nil {
		t.Fatalf("credit to negative account: %v", err)
	}
}

func TestAccountKeyAllowsNegativeFollowsTheChartOfAccounts(t *testing.T) {
	tests := []struct {
		key  AccountKey
		want bool
	}{
		{MerchantAccount("mer_1", KindAvailable, usd), false},
		{MerchantAccount("mer_1", KindReserve, usd), false},
		{PartnerAccount("ptn_1", usd), false},
		{ChannelAccount("cardnet", usd), true},
		{PlatformAccount(KindFX, usd), true},
		{PlatformAccount(KindSuspense, usd), true},
	}
	for _, tt := range tests {
		if got := tt.key.AllowsNegative(); got != tt.want {
			t.Errorf("%s AllowsNegative = %v, want %v", tt.key, got, tt.want)
		}
	}
}
