package graph

import (
	"context"

	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/graph/scalar"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/payouts"
	"github.com/straitpay/strait/payments/settlement"
)

func addBankAccountInput(ctx context.Context, in model.AddBankAccountInput) payouts.NewBankAccount {
	return payouts.NewBankAccount{MerchantID: merchantOf(ctx), Country: in.Country, Currency: in.Currency, HolderName: in.HolderName,
		IBAN: deref(in.Iban), AccountNumber: deref(in.AccountNumber), RoutingNumber: deref(in.RoutingNumber)}
}

func createPayoutInput(ctx context.Context, in model.CreatePayoutInput, a money.Amount) payouts.CreateInput {
	out := payouts.CreateInput{MerchantID: merchantOf(ctx), BankAccountID: in.BankAccountID, Amount: a,
		IdempotencyKey: in.IdempotencyKey, Description: deref(in.Description)}
	if in.SendAt != nil {
		out.SendAt = *in.SendAt
	}
	return out
}

func payoutScheduleInput(ctx context.Context, in model.PayoutScheduleInput) payouts.Schedule {
	return payouts.Schedule{MerchantID: merchantOf(ctx), BankAccountID: in.BankAccountID, Currency: in.Currency, Interval: in.Interval,
		Weekday: orDefault(in.Weekday, 1), Minimum: int64(orDefault(in.Minimum, 0)), Enabled: orDefault(in.Enabled, true)}
}

func int64s(in []scalar.Int64) []int64 {
	out := make([]int64, len(in))
	for i, v := range in {
		out[i] = int64(v)
	}
	return out
}

func orDefault[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// setSettlementSchedule sets a merchant's settlement terms.
func (r *Resolver) setSettlementSchedule(ctx context.Context, in model.SettlementScheduleInput) (*settlement.Schedule, error) {
	return pointer(r.SettlementService.ChangeSchedule(ctx, settlement.ScheduleChange{MerchantID: in.MerchantID, DelayDays: in.DelayDays,
		Timezone: in.Timezone, ReserveBps: in.ReserveBps, ReserveDays: in.ReserveDays}))
}
