package faults

import (
	"context"
	"fmt"
	"math/rand"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Test cards of the sandbox (sandbox/API.md): the harness scans for them
// afterwards.
const (
	cardApproved     = "4242424242424242"
	cardMastercard   = "5555555555554444"
	cardChallenge    = "4000000000000069" // 3-D Secure challenge page
	cardFrictionless = "4000000000000077" // frictionless 3-D Secure
	cardSoftDecline  = "4000000000000044"
	cardTimeout      = "4000000000000085" // answer held past the call's deadline
	testCVC          = "739"
)

// TestPANs are every card number the load uses.
var TestPANs = []string{cardApproved, cardMastercard, cardChallenge, cardFrictionless, cardSoftDecline, cardTimeout}

const paymentView = `id status checkoutSessionID merchantReference amount { amount currency } amountCaptured { amount } amountRefunded { amount }
	nextAction { type url instructions { amount { amount } } }`

type payView struct {
	ID, Status, CheckoutSessionID, MerchantReference string
	Amount                                           struct{ Amount, Currency string }
	AmountCaptured, AmountRefunded                   struct{ Amount string }
	NextAction                                       *struct {
		Type, URL    string
		Instructions *struct{ Amount struct{ Amount string } }
	}
}

// loader is the load of one seed: merchants' servers and cashiers.
type loader struct {
	c       *client
	h       *History
	apiKey  string
	seed    int64
	timeout bool        // worker 0 starts with the timeout card
	parked  chan *order // authorized or succeeded orders for the back office
	// over is done when the load's time is up: orders in hand end after
	// their confirmation (and its retries) instead of going on to the
	// buyer's page, captures and refunds.
	over <-chan struct{}
}

func (l *loader) isOver() bool {
	select {
	case <-l.over:
		return true
	default:
		return false
	}
}

// order is one checkout as a worker drives it.
type order struct {
	ref, method, card string
	manual            bool
	amount            int64
	session, cashier  string
	payment           payView
}

// run drives workers until ctx ends; each worker finishes its order.
func (l *loader) run(ctx context.Context, workers int) {
	l.over = ctx.Done()
	var wg sync.WaitGroup
	// Two back-office workers, so that more than one capture, void or
	// refund is with the channel when it stops answering.
	for b := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); l.backOffice(ctx, workers+b) }()
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(l.seed*1000 + int64(w)))
			for i := 0; ctx.Err() == nil; i++ {
				o := l.pick(rng, w, i)
				l.checkout(rng, w, o)
			}
		}()
	}
	wg.Wait()
}

func (l *loader) pick(rng *rand.Rand, w, i int) *order {
	o := &order{ref: fmt.Sprintf("s%d-w%d-%d", l.seed, w, i), amount: int64(500 + rng.Intn(20000))}
	switch x := rng.Intn(100); {
	case l.timeout && w == 0 && i == 0:
		o.method, o.card = "CARD", cardTimeout
	case x < 30:
		o.method, o.card = "CARD", []string{cardApproved, cardMastercard}[rng.Intn(2)]
	case x < 45:
		o.method, o.card = "CARD", cardChallenge
	case x < 52:
		o.method, o.card = "CARD", cardFrictionless
	case x < 55:
		o.method, o.card = "CARD", cardSoftDecline
	case x < 57:
		o.method, o.card = "CARD", cardTimeout
	case x < 80:
		o.method = "WALLET"
	default:
		o.method = "BANK_TRANSFER"
	}
	// Manual capture for half the cards: wallets only sell, and bank
	// transfers are paid by the buyer.
	o.manual = o.method == "CARD" && rng.Intn(2) == 0
	return o
}

// call runs one mutation as an operation of the history.
func (l *loader) call(w int, o *order, kind, key, token, query string, vars map[string]any, field string, out any) (Outcome, *Op) {
	op := l.h.begin(w, kind, key, o.ref, o.payment.ID)
	r := l.c.gql(context.Background(), token, query, vars)
	res, code, msg := r.outcome()
	status, id := "", ""
	if res == OK {
		if err := r.decode(field, out); err != nil {
			res, code, msg = Indeterminate, "DECODE", shorten(err.Error())
		} else if p, ok := out.(*payView); ok {
			status, id = p.Status, p.ID
			l.h.payment(o.ref, p.ID)
			l.h.see(p.ID, p.Status, kind, op.Start)
		} else if rf, ok := out.(*refundView); ok {
			status, id = rf.Status, rf.ID
		}
	}
	l.h.end(op, res, code, msg, status, id)
	return res, op
}

// retrying runs a keyed mutation as a merchant's server would: an
// indeterminate answer is retried with the same key (up to 3 more times,
// 1–3 s apart) half of the time, and the other half left alone, as by a
// server that crashed: then only Strait's janitor can resolve it. With dup
// it is also sent twice at once from the start.
func (l *loader) retrying(rng *rand.Rand, w int, o *order, kind, key, token, query string, vars map[string]any, field string, newOut func() any, dup bool) (any, bool) {
	var got any
	var mu sync.Mutex
	ok := false
	attempt := func() Outcome {
		out := newOut()
		res, _ := l.call(w, o, kind, key, token, query, vars, field, out)
		if res == OK {
			mu.Lock()
			if !ok {
				got, ok = out, true
			}
			mu.Unlock()
		}
		return res
	}
	if dup {
		var wg sync.WaitGroup
		res := make([]Outcome, 2)
		for i := range res {
			wg.Add(1)
			go func() { defer wg.Done(); res[i] = attempt() }()
		}
		wg.Wait()
		if res[0] != Indeterminate && res[1] != Indeterminate {
			return got, ok
		}
	} else if attempt() != Indeterminate {
		return got, ok
	}
	if rng.Intn(2) == 0 {
		return got, ok
	}
	for i := 0; i < 3; i++ {
		time.Sleep(time.Duration(1000+rng.Intn(2000)) * time.Millisecond)
		if attempt() != Indeterminate {
			break
		}
	}
	return got, ok
}

type refundView struct {
	ID, Status string
	Amount     struct{ Amount string }
}

// checkout is one order from session to refund.
func (l *loader) checkout(rng *rand.Rand, w int, o *order) {
	capture := "AUTOMATIC"
	if o.manual {
		capture = "MANUAL"
	}
	var sess struct {
		CashierToken    string
		CheckoutSession struct{ ID string }
	}
	in := map[string]any{"amount": map[string]any{"amount": strconv.FormatInt(o.amount, 10), "currency": "SGD"},
		"merchantReference": o.ref, "captureMethod": capture, "allowedMethods": []string{o.method},
		"returnURL": "https://shop.example/done", "buyerCountry": "SG", "idempotencyKey": "cs-" + o.ref}
	_, ok := l.retrying(rng, w, o, "createCheckoutSession", "cs-"+o.ref, l.apiKey,
		`mutation($in: CreateCheckoutSessionInput!) { createCheckoutSession(input: $in) { cashierToken checkoutSession { id } } }`,
		map[string]any{"in": in}, "createCheckoutSession", func() any { return &sess }, false)
	if !ok {
		return
	}
	o.session, o.cashier = sess.CheckoutSession.ID, sess.CashierToken
	l.h.session(o.session, o.ref)

	confirm := map[string]any{"method": o.method, "idempotencyKey": "cf-" + o.ref}
	if o.method == "CARD" {
		var tok struct{ Token string }
		if _, ok := l.retrying(rng, w, o, "tokenizeCard", "", o.cashier,
			`mutation($in: TokenizeCardInput!) { tokenizeCard(input: $in) { token } }`,
			map[string]any{"in": map[string]any{"number": o.card, "cvc": testCVC, "expMonth": 12, "expYear": 2031}},
			"tokenizeCard", func() any { return &tok }, false); !ok {
			return
		}
		confirm["cardToken"] = tok.Token
	}
	if o.method == "WALLET" {
		confirm["walletFlow"] = "REDIRECT"
	}
	got, ok := l.retrying(rng, w, o, "confirm", "cf-"+o.ref, o.cashier,
		`mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { `+paymentView+` } }`,
		map[string]any{"in": confirm}, "confirmCheckoutSession", func() any { return &payView{} }, rng.Intn(100) < 15)
	if !ok {
		return
	}
	o.payment = *got.(*payView)
	if l.isOver() {
		return
	}

	if o.payment.Status == "REQUIRES_ACTION" && o.payment.NextAction != nil && o.payment.NextAction.URL != "" {
		l.act(rng, w, o)
		l.waitPast(w, o, "REQUIRES_ACTION", "PROCESSING")
	} else if o.payment.Status == "PROCESSING" {
		l.waitPast(w, o, "PROCESSING")
	}

	if (o.payment.Status == "REQUIRES_CAPTURE" || o.payment.Status == "SUCCEEDED") && rng.Intn(10) < 6 {
		select {
		case l.parked <- o:
			return
		default:
		}
	}
	l.fulfil(rng, w, o)
}

// backOffice is the merchant's fulfilment job: it captures, voids and
// refunds the orders the checkouts parked, one after another, so that such
// calls are in flight whenever a fault strikes, not only right after a
// checkout.
func (l *loader) backOffice(ctx context.Context, w int) {
	rng := rand.New(rand.NewSource(l.seed*1000 + int64(w)))
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-l.parked:
			l.fulfil(rng, w, o)
		}
	}
}

// fulfil captures or voids an authorized order, and refunds some of the
// captured ones.
func (l *loader) fulfil(rng *rand.Rand, w int, o *order) {
	if l.isOver() {
		return
	}
	switch o.payment.Status {
	case "REQUIRES_CAPTURE":
		switch x := rng.Intn(10); {
		case x < 6:
			vars := map[string]any{"id": o.payment.ID, "idempotencyKey": "cap-" + o.ref}
			if rng.Intn(2) == 0 {
				vars["amount"] = map[string]any{"amount": strconv.FormatInt(o.amount/2, 10), "currency": "SGD"}
			}
			if got, ok := l.retrying(rng, w, o, "capture", "cap-"+o.ref, l.apiKey,
				`mutation($in: CapturePaymentInput!) { capturePayment(input: $in) { `+paymentView+` } }`,
				map[string]any{"in": vars}, "capturePayment", func() any { return &payView{} }, rng.Intn(100) < 15); ok {
				o.payment = *got.(*payView)
			}
		case x < 9:
			if got, ok := l.retrying(rng, w, o, "cancel", "void-"+o.ref, l.apiKey,
				`mutation($in: CancelPaymentInput!) { cancelPayment(input: $in) { `+paymentView+` } }`,
				map[string]any{"in": map[string]any{"id": o.payment.ID, "idempotencyKey": "void-" + o.ref}},
				"cancelPayment", func() any { return &payView{} }, rng.Intn(100) < 15); ok {
				o.payment = *got.(*payView)
			}
		}
	}
	if o.payment.Status == "SUCCEEDED" && o.method != "BANK_TRANSFER" && rng.Intn(100) < 45 {
		for i, part := range []int64{3, 0} {
			vars := map[string]any{"id": o.payment.ID, "idempotencyKey": fmt.Sprintf("rf%d-%s", i+1, o.ref), "reason": "requested_by_customer"}
			if part > 0 {
				vars["amount"] = map[string]any{"amount": strconv.FormatInt(o.amount/part/2, 10), "currency": "SGD"}
			}
			if _, ok := l.retrying(rng, w, o, "refund", fmt.Sprintf("rf%d-%s", i+1, o.ref), l.apiKey,
				`mutation($in: RefundPaymentInput!) { refundPayment(input: $in) { id status amount { amount } } }`,
				map[string]any{"in": vars}, "refundPayment", func() any { return &refundView{} }, rng.Intn(100) < 20); !ok || rng.Intn(2) == 0 {
				break
			}
		}
	}
}

// act plays the buyer on the channel's page: approves the 3-D Secure
// challenge or the wallet payment (or, one time in ten, fails the challenge
// or cancels the wallet payment), or sends the bank transfer. Only an answer
// that never came is sent again (the page refuses a second answer), and
// never a bank transfer.
func (l *loader) act(rng *rand.Rand, w int, o *order) {
	form := url.Values{"action": {"approve"}}
	switch {
	case o.payment.NextAction.Type == "BANK_TRANSFER":
		form = url.Values{"amount": {strconv.FormatInt(o.amount, 10)}, "payer_name": {"Grace"}}
	case rng.Intn(10) == 0:
		form = url.Values{"action": {"fail"}}
		if o.method == "WALLET" {
			form = url.Values{"action": {"cancel"}}
		}
	}
	for i := 0; i < 3; i++ {
		op := l.h.begin(w, "buyer", "", o.ref, o.payment.ID)
		op.Note = form.Encode()
		code, err := l.c.buyer(context.Background(), o.payment.NextAction.URL, form)
		switch {
		case err != nil:
			l.h.end(op, Indeterminate, "TRANSPORT", shorten(err.Error()), "", "")
			if o.payment.NextAction.Type == "BANK_TRANSFER" {
				return // a second transfer would be a second payment, not a retry
			}
			time.Sleep(time.Second)
			continue
		case code >= 400:
			l.h.end(op, Failed, fmt.Sprintf("HTTP_%d", code), "", "", "")
		default:
			l.h.end(op, OK, "", "", "", "")
		}
		return
	}
}

// waitPast polls the payment (up to 20 s) until its status is none of from.
func (l *loader) waitPast(w int, o *order, from ...string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !l.isOver() {
		start := time.Now()
		var p payView
		r := l.c.gql(context.Background(), l.apiKey, `query($id: ID!) { payment(id: $id) { `+paymentView+` } }`, map[string]any{"id": o.payment.ID})
		if res, _, _ := r.outcome(); res == OK && r.decode("payment", &p) == nil {
			l.h.see(p.ID, p.Status, "poll", start)
			o.payment = p
			still := false
			for _, f := range from {
				still = still || p.Status == f
			}
			if !still {
				return
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
}
