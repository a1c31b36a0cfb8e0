package settlement

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/settlementbatch"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
)

// reserve adds a run's rolling reserve to its plan. It holds
// sc.ReserveBps of the day's positive net in each capture currency,
// rounded down (source settlement <merchant>:<day>:reserve:<currency>:
// merchant available −h, merchant reserve +h), before any conversion, so
// only the rest is converted; the batch records the holds and the day whose
// run releases them, ReserveDays calendar days later. It then releases
// every earlier batch's hold whose release day is on or before day and
// that no run released yet (source settlement <merchant>:<hold
// day>:release:<currency>: reserve −h, available +h), in the currency it
// was held in.
func (s *Service) reserve(ctx context.Context, merchantID, day string, sc Schedule, pl *runPlan) error {
	if sc.ReserveBps > 0 {
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return err
		}
		for _, c := range sortedCurrencies(pl.net) {
			if pl.net[c] <= 0 {
				continue // floorBps takes no negative amount
			}
			h := floorBps(pl.net[c], int64(sc.ReserveBps))
			if h <= 0 {
				continue
			}
			pl.net[c] -= h
			if pl.batch.ReserveHeld == nil {
				pl.batch.ReserveHeld = map[string]int64{}
			}
			pl.batch.ReserveHeld[c.Code()] = h
			pl.entries = append(pl.entries, reserveEntry(merchantID, day+":reserve:"+c.Code(), "rolling reserve held", c, h, pl.at))
		}
		if len(pl.batch.ReserveHeld) > 0 {
			pl.batch.ReserveReleaseOn = d.AddDate(0, 0, sc.ReserveDays).Format(time.DateOnly)
		}
	}
	holds, err := s.client.SettlementBatch.Query().Where(settlementbatch.MerchantID(merchantID),
		settlementbatch.ReserveReleaseOnNEQ(""), settlementbatch.ReserveReleaseOnLTE(day)).All(ctx)
	if err != nil {
		return fmt.Errorf("settlement: reserve holds: %w", err)
	}
	var ids []string
	for _, b := range holds {
		for c := range b.ReserveHeld {
			ids = append(ids, merchantID+":"+b.BusinessDate+":release:"+c)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	posted, err := s.client.JournalEntry.Query().Where(journalentry.SourceTypeEQ(ledger.SourceSettlement),
		journalentry.SourceIDIn(ids...)).Select(journalentry.FieldSourceID).Strings(ctx)
	if err != nil {
		return fmt.Errorf("settlement: reserve releases: %w", err)
	}
	for _, b := range holds {
		curs := make([]string, 0, len(b.ReserveHeld))
		for c := range b.ReserveHeld {
			curs = append(curs, c)
		}
		slices.Sort(curs)
		for _, code := range curs {
			if slices.Contains(posted, merchantID+":"+b.BusinessDate+":release:"+code) {
				continue
			}
			c, err := money.ParseCurrency(code)
			if err != nil {
				return err
			}
			h := b.ReserveHeld[code]
			if pl.batch.ReserveReleased == nil {
				pl.batch.ReserveReleased = map[string]int64{}
			}
			pl.batch.ReserveReleased[code] += h
			pl.entries = append(pl.entries, reserveEntry(merchantID, b.BusinessDate+":release:"+code, "rolling reserve of "+b.BusinessDate+" released", c, -h, pl.at))
		}
	}
	return nil
}

// reserveEntry moves h from available to reserve (a negative h: back).
func reserveEntry(merchantID, id, desc string, c money.Currency, h int64, at time.Time) ledger.Entry {
	return ledger.Entry{Source: ledger.Source{Type: ledger.SourceSettlement, ID: merchantID + ":" + id}, Description: desc, EffectiveAt: at,
		Postings: []ledger.Posting{
			{Account: ledger.MerchantAccount(merchantID, ledger.KindAvailable, c), Amount: amt(-h, c)},
			{Account: ledger.MerchantAccount(merchantID, ledger.KindReserve, c), Amount: amt(h, c)},
		}}
}
