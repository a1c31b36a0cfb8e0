package cashier

import (
	"context"
	"fmt"
	"math/bits"
	"time"

	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
)

// Ledger postings of the payment core (docs/payments.md):
//
//	capture  pay_…      channel receivable −A, merchant pending +(A−F), platform fees +F
//	refund   ref_…      channel receivable +R, merchant pending −(R−f), platform fees −f
//	refund_reversal ref_…  the refund's entry turned around, when the channel refuses it
//
// A is the captured amount and F the capturing connector's fee (its fixed
// part plus basis points for the currency, from the routing catalog; zero
// when the catalog prices nothing), never more than A. A refund returns the
// fee pro rata: f is chosen so that the refunds of a payment return exactly
// F once they add up to A (see refundFee).

// SourceRefundReversal is the ledger source of a refund the channel refused
// after its money was set aside.
const SourceRefundReversal = "refund_reversal"

// captureMove is a capture ready to post: the entry's accounts exist.
type captureMove struct {
	amount money.Amount
	fee    int64
	entry  ledger.Entry
}

// prepareCapture prices a capture and creates its ledger accounts, outside
// any transaction.
func (s *Service) prepareCapture(ctx context.Context, merchantID, connector string, minor int64, currency string) (*captureMove, error) {
	amt, err := amountOf(minor, currency)
	if err != nil {
		return nil, err
	}
	fee, err := s.fee(ctx, connector, amt)
	if err != nil {
		return nil, err
	}
	m := &captureMove{amount: amt, fee: fee}
	m.entry = ledger.Entry{
		Description: fmt.Sprintf("capture via %s", connector),
		EffectiveAt: s.now(),
		Postings: nonZero(
			ledger.Posting{Account: ledger.ChannelAccount(connector, amt.Currency), Amount: money.Amount{Minor: -amt.Minor, Currency: amt.Currency}},
			ledger.Posting{Account: ledger.MerchantAccount(merchantID, ledger.KindPending, amt.Currency), Amount: money.Amount{Minor: amt.Minor - fee, Currency: amt.Currency}},
			ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFees, amt.Currency), Amount: money.Amount{Minor: fee, Currency: amt.Currency}},
		),
	}
	if err := s.cfg.Ledger.Prepare(ctx, m.entry); err != nil {
		return nil, err
	}
	return m, nil
}

// fee is the connector's fee for capturing amt, capped at amt.
func (s *Service) fee(ctx context.Context, connector string, amt money.Amount) (int64, error) {
	if s.cfg.Catalog == nil {
		return 0, nil
	}
	conns, err := s.cfg.Catalog.Connectors(ctx)
	if err != nil {
		return 0, fmt.Errorf("fees: %w", err)
	}
	for _, c := range conns {
		if c.Name == connector {
			return min(c.Fee(amt), amt.Minor), nil
		}
	}
	return 0, nil
}

// refundFee is the part of a payment's fee F that a refund of r returns,
// when refunds of before have already been made against a capture of c:
// ⌊F·(before+r)/c⌋ − ⌊F·before/c⌋. The parts of all refunds add up to F
// exactly when they add up to c, and each is at most r (F ≤ c).
func refundFee(fee, captured, before, r int64) int64 {
	if fee <= 0 || captured <= 0 {
		return 0
	}
	return mulDiv(fee, before+r, captured) - mulDiv(fee, before, captured)
}

// mulDiv returns ⌊a·b/c⌋ for non-negative a, b and positive c with a ≤ c,
// exactly, through a 128-bit product.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// refundEntry moves a refund of r out of the merchant's balances (by the
// ledger's draw rule, ledger.Draw: available, then pending, then reserve)
// and the platform's fees back to the channel, to be paid to the buyer.
// What the balances cannot cover stays on pending, where posting refuses
// it as an overdraft (ECONFLICT).
func refundEntry(merchantID, connector string, r money.Amount, fee int64, balances map[ledger.Kind]int64, at time.Time) ledger.Entry {
	drawn, short := ledger.Draw(merchantID, money.Amount{Minor: r.Minor - fee, Currency: r.Currency}, balances)
	return ledger.Entry{
		Description: fmt.Sprintf("refund via %s", connector),
		EffectiveAt: at,
		Postings: nonZero(append(drawn,
			ledger.Posting{Account: ledger.ChannelAccount(connector, r.Currency), Amount: r},
			ledger.Posting{Account: ledger.MerchantAccount(merchantID, ledger.KindPending, r.Currency), Amount: money.Amount{Minor: -short, Currency: r.Currency}},
			ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFees, r.Currency), Amount: money.Amount{Minor: -fee, Currency: r.Currency}},
		)...),
	}
}

// reversed turns an entry around.
func reversed(e ledger.Entry, at time.Time) ledger.Entry {
	out := ledger.Entry{Description: "reversal: " + e.Description, EffectiveAt: at}
	for _, p := range e.Postings {
		out.Postings = append(out.Postings, ledger.Posting{Account: p.Account, Amount: money.Amount{Minor: -p.Amount.Minor, Currency: p.Amount.Currency}})
	}
	return out
}

func nonZero(ps ...ledger.Posting) []ledger.Posting {
	out := ps[:0]
	for _, p := range ps {
		if p.Amount.Minor != 0 {
			out = append(out, p)
		}
	}
	return out
}

// accountsOf names the accounts captures and refunds post to, for Prepare
// (the amounts are placeholders: Prepare reads only the accounts); a
// refund may draw on any account of ledger.DrawOrder.
func accountsOf(merchantID, connector string, c money.Currency) ledger.Entry {
	one := money.Amount{Minor: 1, Currency: c}
	e := ledger.Entry{Postings: []ledger.Posting{
		{Account: ledger.ChannelAccount(connector, c), Amount: one},
		{Account: ledger.PlatformAccount(ledger.KindFees, c), Amount: one},
	}}
	for _, k := range ledger.DrawOrder {
		e.Postings = append(e.Postings, ledger.Posting{Account: ledger.MerchantAccount(merchantID, k, c), Amount: one})
	}
	return e
}
