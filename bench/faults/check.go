package faults

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Violation is one invariant broken.
type Violation struct {
	Invariant string // I1 … I8, PAN
	PaymentID string
	Ref       string
	What      string
}

// fullPayment is a payment as the checks read it from Strait.
type fullPayment struct {
	ID, Status, CheckoutSessionID, MerchantReference, CaptureMethod string
	Amount                                                          struct{ Amount, Currency string }
	AmountCaptured, AmountRefunded                                  struct{ Amount string }
	Attempts                                                        struct {
		Edges []struct {
			Node struct {
				ID, Status, Connector, ConnectorReference, ChannelIdempotencyKey string
				Capture                                                          bool
				// Operation is a capture or void whose answer Strait
				// does not know yet (nil: none).
				Operation *string
			}
		}
	}
	Refunds struct {
		Edges []struct {
			Node struct {
				ID, Status, ConnectorReference string
				Amount                         struct{ Amount string }
			}
		}
	}
}

const fullPaymentView = `id status checkoutSessionID merchantReference captureMethod amount { amount currency }
	amountCaptured { amount } amountRefunded { amount }
	attempts(first: 5) { edges { node { id status connector connectorReference channelIdempotencyKey capture operation } } }
	refunds(first: 5) { edges { node { id status connectorReference amount { amount } } } }`

func atoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// payments lists every payment of the merchant.
func (c *client) payments(ctx context.Context, apiKey string) ([]fullPayment, error) {
	var all []fullPayment
	var after any
	for {
		var page struct {
			Edges    []struct{ Node fullPayment }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		if err := c.must(ctx, apiKey, `query($after: Cursor) { payments(first: 25, after: $after) { edges { node { `+fullPaymentView+` } }
			pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after}, "payments", &page); err != nil {
			return nil, err
		}
		for _, e := range page.Edges {
			all = append(all, e.Node)
		}
		if !page.PageInfo.HasNextPage {
			return all, nil
		}
		after = page.PageInfo.EndCursor
	}
}

type channelEvent struct {
	Connector, EventID, Type, PaymentID, Reference string
	ProcessedAt                                    *time.Time
	Attempts                                       int
	LastError                                      string
}

func (c *client) channelEvents(ctx context.Context, operator string) ([]channelEvent, error) {
	var all []channelEvent
	var after any
	for {
		var page struct {
			Edges    []struct{ Node channelEvent }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		if err := c.must(ctx, operator, `query($after: Cursor) { channelEvents(first: 100, after: $after) { edges { node {
			connector eventID type paymentID reference processedAt attempts lastError } } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"after": after}, "channelEvents", &page); err != nil {
			return nil, err
		}
		for _, e := range page.Edges {
			all = append(all, e.Node)
		}
		if !page.PageInfo.HasNextPage {
			return all, nil
		}
		after = page.PageInfo.EndCursor
	}
}

// channelRecords is the sandbox's GET /records.
type channelRecords struct {
	CardPayments []struct {
		RawID          string `json:"id"`
		RawStatus      string `json:"status"`
		RawState       string `json:"state"`
		RawRef         string `json:"merchant_reference"`
		Amount         int64  `json:"amount"`
		CapturedAmount int64  `json:"captured_amount"`
		RefundedAmount int64  `json:"refunded_amount"`
		Captures       []struct {
			Amount int64 `json:"amount"`
		} `json:"captures"`
		Refunds []struct {
			Amount int64 `json:"amount"`
		} `json:"refunds"`
	} `json:"card_payments"`
	WalletPayments []struct {
		ID             string `json:"id"`
		State          string `json:"state"`
		Ref            string `json:"merchant_reference"`
		Amount         int64  `json:"amount"`
		RefundedAmount int64  `json:"refunded_amount"`
		Refunds        []struct {
			Amount int64 `json:"amount"`
		} `json:"refunds"`
	} `json:"wallet_payments"`
	VirtualAccounts []struct {
		ID             string `json:"id"`
		Status         string `json:"status"`
		Ref            string `json:"reference"`
		ExpectedAmount int64  `json:"expected_amount"`
		ReceivedAmount int64  `json:"received_amount"`
	} `json:"virtual_accounts"`
	Operations []struct {
		Channel        string `json:"channel"`
		ObjectID       string `json:"object_id"`
		Operation      string `json:"operation"`
		IdempotencyKey string `json:"idempotency_key"`
		Status         string `json:"status"`
	} `json:"operations"`
}

// channelView is the channel's side of one Strait attempt.
type channelView struct {
	channel             string // card, wallet, bank
	id                  string
	state               string // the channel's own state
	money               bool   // holds or moved the buyer's money (authorized or captured)
	amount              int64
	captured, refunded  int64
	capturesSum, refSum int64
	captures            int
}

func (cr channelRecords) byReference() map[string][]channelView {
	out := map[string][]channelView{}
	for _, p := range cr.CardPayments {
		var cs, rs int64
		for _, c := range p.Captures {
			cs += c.Amount
		}
		for _, r := range p.Refunds {
			rs += r.Amount
		}
		money := slices.Contains([]string{"authorized", "captured", "partially_refunded", "refunded", "charged_back"}, p.RawState)
		out[p.RawRef] = append(out[p.RawRef], channelView{channel: "card", id: p.RawID, state: p.RawState, money: money,
			amount: p.Amount, captured: p.CapturedAmount, refunded: p.RefundedAmount, capturesSum: cs, refSum: rs, captures: len(p.Captures)})
	}
	for _, p := range cr.WalletPayments {
		var rs int64
		for _, r := range p.Refunds {
			rs += r.Amount
		}
		money := slices.Contains([]string{"succeeded", "partially_refunded", "refunded"}, p.State)
		v := channelView{channel: "wallet", id: p.ID, state: p.State, money: money, amount: p.Amount, refunded: p.RefundedAmount, refSum: rs}
		if money {
			v.captured, v.capturesSum, v.captures = p.Amount, p.Amount, 1
		}
		out[p.Ref] = append(out[p.Ref], v)
	}
	for _, va := range cr.VirtualAccounts {
		v := channelView{channel: "bank", id: va.ID, state: va.Status, amount: va.ExpectedAmount, money: va.ReceivedAmount > 0,
			captured: va.ReceivedAmount, capturesSum: va.ReceivedAmount}
		if va.ReceivedAmount > 0 {
			v.captures = 1
		}
		out[va.Ref] = append(out[va.Ref], v)
	}
	return out
}

// inFlight lists what is not settled yet, as Strait and the sandbox show it.
func inFlight(ps []fullPayment, events []channelEvent, pendingDeliveries int) []string {
	var out []string
	for _, p := range ps {
		if p.Status == "PROCESSING" {
			out = append(out, p.ID+" PROCESSING")
		}
		for _, a := range p.Attempts.Edges {
			if a.Node.Status == "PENDING" || a.Node.Status == "UNKNOWN" {
				out = append(out, p.ID+" attempt "+a.Node.ID+" "+a.Node.Status)
			}
			if a.Node.Operation != nil {
				// A capture or void whose answer was lost: the janitor
				// asks the channel; until it has, Strait and the channel
				// may disagree.
				out = append(out, p.ID+" attempt "+a.Node.ID+" "+*a.Node.Operation+" in flight")
			}
		}
		for _, r := range p.Refunds.Edges {
			if r.Node.Status == "PENDING" {
				out = append(out, p.ID+" refund "+r.Node.ID+" PENDING")
			}
		}
	}
	for _, e := range events {
		if e.ProcessedAt == nil {
			out = append(out, fmt.Sprintf("channel event %s/%s unprocessed (%d attempts: %s)", e.Connector, e.EventID, e.Attempts, e.LastError))
		}
	}
	if pendingDeliveries > 0 {
		out = append(out, fmt.Sprintf("%d sandbox webhook deliveries pending", pendingDeliveries))
	}
	return out
}

func (c *client) pendingDeliveries(ctx context.Context) (int, error) {
	var list struct {
		Data []struct {
			Deliveries []struct{ Status string } `json:"deliveries"`
		}
	}
	if err := c.sandboxJSON(ctx, "GET", "/webhooks/events", &list); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range list.Data {
		for _, d := range e.Deliveries {
			if d.Status == "pending" {
				n++
			}
		}
	}
	return n, nil
}

// checker holds what the invariants read.
type checker struct {
	h        *History
	payments []fullPayment
	records  channelRecords
	events   []channelEvent
	trial    []struct {
		Currency         string
		Net, PostingsNet struct{ Amount string }
	}
	accounts []struct {
		OwnerType, OwnerID, Kind, Currency string
		AllowNegative                      bool
		Balance                            struct{ Amount string }
	}
	db  *sql.DB
	out []Violation
	// the channel's side of each payment, for I7's count
	chCaptured, chRefunded map[string]int64
	chVoided               map[string]bool
}

func (k *checker) fail(inv, paymentID, ref, format string, args ...any) {
	k.out = append(k.out, Violation{Invariant: inv, PaymentID: paymentID, Ref: ref, What: fmt.Sprintf(format, args...)})
}

func (k *checker) refOf(p fullPayment) string {
	k.h.mu.Lock()
	defer k.h.mu.Unlock()
	if r, ok := k.h.refOf[p.CheckoutSessionID]; ok {
		return r
	}
	return p.MerchantReference
}

// run checks every invariant.
func (k *checker) run(ctx context.Context) {
	// Link payments the load never saw an answer for to their orders.
	for _, p := range k.payments {
		k.h.payment(k.refOf(p), p.ID)
		k.h.see(p.ID, p.Status, "final", time.Now())
	}
	k.i1i2()
	k.i3i5i7()
	k.i4()
	k.i6()
	k.i8(ctx)
}

// I1 every currency balances; I2 no balance negative where not allowed.
func (k *checker) i1i2() {
	for _, l := range k.trial {
		if l.Net.Amount != "0" || l.PostingsNet.Amount != "0" {
			k.fail("I1", "", "", "%s does not balance: net %s, postings net %s", l.Currency, l.Net.Amount, l.PostingsNet.Amount)
		}
	}
	for _, a := range k.accounts {
		if !a.AllowNegative && strings.HasPrefix(a.Balance.Amount, "-") {
			k.fail("I2", "", "", "%s %s %s %s is negative: %s", a.OwnerType, a.OwnerID, a.Kind, a.Currency, a.Balance.Amount)
		}
	}
}

// attemptAgrees says whether Strait's attempt status matches the channel's state.
func attemptAgrees(channel, state, attempt string) bool {
	ok := map[string][]string{
		// card
		"card/requires_action":    {"ACTION_REQUIRED"},
		"card/authorized":         {"AUTHORIZED"},
		"card/captured":           {"CAPTURED"},
		"card/partially_refunded": {"CAPTURED"},
		"card/refunded":           {"CAPTURED"},
		"card/voided":             {"VOIDED", "EXPIRED", "DECLINED"},
		"card/declined":           {"DECLINED", "FAILED"},
		// wallet
		"wallet/pending":            {"ACTION_REQUIRED"},
		"wallet/succeeded":          {"CAPTURED"},
		"wallet/partially_refunded": {"CAPTURED"},
		"wallet/refunded":           {"CAPTURED"},
		"wallet/canceled":           {"DECLINED"},
		"wallet/voided":             {"VOIDED", "EXPIRED"},
		// bank virtual accounts
		"bank/open":   {"ACTION_REQUIRED"},
		"bank/paid":   {"CAPTURED"},
		"bank/closed": {"VOIDED", "EXPIRED"},
	}
	return slices.Contains(ok[channel+"/"+state], attempt)
}

// i3i5i7 compares each payment with the channel's records.
func (k *checker) i3i5i7() {
	byRef := k.records.byReference()
	k.chCaptured, k.chRefunded, k.chVoided = map[string]int64{}, map[string]int64{}, map[string]bool{}
	known := map[string]bool{}
	indeterminate := k.indeterminateByPayment()
	for _, p := range k.payments {
		ref := k.refOf(p)
		inv := "I5"
		if indeterminate[p.ID] {
			inv = "I7"
		}
		amount, captured, refunded := atoi(p.Amount.Amount), atoi(p.AmountCaptured.Amount), atoi(p.AmountRefunded.Amount)
		if refunded > captured || captured > amount || refunded < 0 {
			k.fail("I5", p.ID, ref, "Strait: refunded %d, captured %d, amount %d", refunded, captured, amount)
		}
		var refSum int64
		for _, r := range p.Refunds.Edges {
			if r.Node.Status == "SUCCEEDED" {
				refSum += atoi(r.Node.Amount.Amount)
			}
		}
		if refSum != refunded {
			k.fail("I5", p.ID, ref, "Strait: amountRefunded %d, succeeded refunds sum to %d", refunded, refSum)
		}
		// I3: at most one channel payment holding money per payment and
		// per attempt; the attempt, the channel and Strait agree.
		var holding []string
		var chCaptured, chRefunded int64
		for _, a := range p.Attempts.Edges {
			known[a.Node.ID] = true
			views := byRef[a.Node.ID]
			var money []channelView
			for _, v := range views {
				if v.money {
					money = append(money, v)
				}
			}
			for _, v := range money {
				holding = append(holding, v.channel+":"+v.id)
				chCaptured += v.captured
				chRefunded += v.refunded
				if v.refunded > v.captured || v.captured > v.amount || v.capturesSum != v.captured || v.refSum != v.refunded || v.captures > 1 {
					k.fail("I5", p.ID, ref, "channel %s %s: refunded %d (refunds sum %d), captured %d (captures sum %d, %d captures), amount %d",
						v.channel, v.id, v.refunded, v.refSum, v.captured, v.capturesSum, v.captures, v.amount)
				}
			}
			switch {
			case len(views) == 0:
				if slices.Contains([]string{"AUTHORIZED", "CAPTURED", "ACTION_REQUIRED", "VOIDED"}, a.Node.Status) {
					k.fail(inv, p.ID, ref, "attempt %s is %s, but the channel has no payment for it", a.Node.ID, a.Node.Status)
				}
			case len(views) > 1:
				k.fail("I3", p.ID, ref, "attempt %s has %d payments at the channel", a.Node.ID, len(views))
			default:
				if v := views[0]; !attemptAgrees(v.channel, v.state, a.Node.Status) {
					k.fail(inv, p.ID, ref, "attempt %s is %s at Strait, %s %s is %s at the channel", a.Node.ID, a.Node.Status, v.channel, v.id, v.state)
				}
			}
		}
		k.chCaptured[p.ID], k.chRefunded[p.ID] = chCaptured, chRefunded
		for _, a := range p.Attempts.Edges {
			for _, v := range byRef[a.Node.ID] {
				if v.state == "voided" {
					k.chVoided[p.ID] = true
				}
			}
		}
		if len(holding) > 1 {
			k.fail("I3", p.ID, ref, "the channel holds money for the payment %d times: %v", len(holding), holding)
		}
		if chCaptured != captured {
			k.fail(inv, p.ID, ref, "captured: %d at Strait (%s), %d at the channel", captured, p.Status, chCaptured)
		}
		if chRefunded != refunded {
			k.fail(inv, p.ID, ref, "refunded: %d at Strait, %d at the channel", refunded, chRefunded)
		}
		want := map[string]bool{"SUCCEEDED": captured > 0, "REQUIRES_CAPTURE": false}
		if p.Status == "SUCCEEDED" && !want["SUCCEEDED"] {
			k.fail(inv, p.ID, ref, "SUCCEEDED with nothing captured")
		}
		if p.Status != "SUCCEEDED" && captured > 0 {
			k.fail(inv, p.ID, ref, "%s with %d captured", p.Status, captured)
		}
	}
	// Money at the channel for no attempt Strait knows.
	for reference, views := range byRef {
		if known[reference] {
			continue
		}
		for _, v := range views {
			if v.money {
				k.fail("I7", "", reference, "the channel holds money (%s %s, %s, captured %d) for reference %s, which no Strait payment has",
					v.channel, v.id, v.state, v.captured, reference)
			}
		}
	}
	// I3 at Strait: one object per idempotency key.
	k.h.mu.Lock()
	perKey := map[string]map[string]bool{}
	for _, op := range k.h.ops {
		if op.Key == "" || op.Outcome != OK || op.ObjectID == "" {
			continue
		}
		if perKey[op.Kind+"/"+op.Key] == nil {
			perKey[op.Kind+"/"+op.Key] = map[string]bool{}
		}
		perKey[op.Kind+"/"+op.Key][op.ObjectID] = true
	}
	var dups []Violation
	for key, ids := range perKey {
		if len(ids) > 1 {
			var list []string
			for id := range ids {
				list = append(list, id)
			}
			slices.Sort(list)
			dups = append(dups, Violation{Invariant: "I3", What: fmt.Sprintf("key %s answered %d different objects: %v", key, len(ids), list)})
		}
	}
	k.h.mu.Unlock()
	k.out = append(k.out, dups...)
}

// indeterminateByPayment marks the payments with an indeterminate operation.
func (k *checker) indeterminateByPayment() map[string]bool {
	k.h.mu.Lock()
	defer k.h.mu.Unlock()
	out := map[string]bool{}
	for _, op := range k.h.ops {
		if op.Outcome == Indeterminate {
			id := op.PaymentID
			if id == "" {
				id = k.h.byRef[op.Ref]
			}
			out[id] = true
		}
	}
	return out
}

// I4: each channel event is stored (and so applied) once.
func (k *checker) i4() {
	seen := map[string]int{}
	for _, e := range k.events {
		seen[e.Connector+"/"+e.EventID]++
	}
	for id, n := range seen {
		if n > 1 {
			k.fail("I4", "", "", "channel event %s stored %d times", id, n)
		}
	}
}

// I6: a terminal status, once seen, is all that is seen after.
func (k *checker) i6() {
	terminal := map[string]bool{"SUCCEEDED": true, "CANCELED": true, "FAILED": true}
	k.h.mu.Lock()
	defer k.h.mu.Unlock()
	var found []Violation
	for id, obs := range k.h.seen {
		for _, a := range obs {
			if !terminal[a.Status] {
				continue
			}
			for _, b := range obs {
				if b.Start.After(a.End) && b.Status != a.Status {
					found = append(found, Violation{Invariant: "I6", PaymentID: id,
						What: fmt.Sprintf("%s (seen by %s) then %s (seen by %s)", a.Status, a.Source, b.Status, b.Source)})
					break
				}
			}
		}
	}
	k.out = append(k.out, found...)
}

// I8: one outbox event per committed state change, read from the events
// table: a payment's last state event is its status's, and a terminal state
// or a refund's outcome is announced once.
func (k *checker) i8(ctx context.Context) {
	if k.db == nil {
		return
	}
	rows, err := k.db.QueryContext(ctx, "SELECT object_id, type FROM events ORDER BY id")
	if err != nil {
		k.fail("I8", "", "", "reading the events table: %v", err)
		return
	}
	defer rows.Close()
	types := map[string][]string{}
	for rows.Next() {
		var id, typ string
		if err := rows.Scan(&id, &typ); err != nil {
			k.fail("I8", "", "", "reading the events table: %v", err)
			return
		}
		types[id] = append(types[id], typ)
	}
	stateEvent := map[string]string{
		"PROCESSING": "payment.processing", "REQUIRES_ACTION": "payment.requires_action", "REQUIRES_CAPTURE": "payment.requires_capture",
		"SUCCEEDED": "payment.succeeded", "REQUIRES_PAYMENT_METHOD": "payment.failed", "FAILED": "payment.failed", "CANCELED": "payment.canceled",
	}
	for _, p := range k.payments {
		ref := k.refOf(p)
		var states []string
		count := map[string]int{}
		for _, t := range types[p.ID] {
			count[t]++
			// Reviews and captures are not states: a capture's event
			// follows payment.succeeded in its transaction.
			if strings.HasPrefix(t, "payment.review_") || t == "payment.captured" {
				continue
			}
			states = append(states, t)
		}
		if want := map[bool]int{true: 1, false: 0}[p.Status == "SUCCEEDED"]; count["payment.captured"] != want {
			k.fail("I8", p.ID, ref, "%s payment has %d payment.captured events, want %d (events: %v)", p.Status, count["payment.captured"], want, types[p.ID])
		}
		if len(states) == 0 {
			k.fail("I8", p.ID, ref, "%s payment has no outbox event", p.Status)
			continue
		}
		if last := states[len(states)-1]; last != stateEvent[p.Status] {
			k.fail("I8", p.ID, ref, "status %s, but the last outbox event is %s (events: %v)", p.Status, last, states)
		}
		for _, t := range []string{"payment.succeeded", "payment.canceled", "payment.requires_capture"} {
			if count[t] > 1 {
				k.fail("I8", p.ID, ref, "%s written %d times (events: %v)", t, count[t], states)
			}
		}
		for _, r := range p.Refunds.Edges {
			c := map[string]int{}
			for _, t := range types[r.Node.ID] {
				c[t]++
			}
			want := map[string]string{"SUCCEEDED": "refund.succeeded", "FAILED": "refund.failed"}[r.Node.Status]
			if want != "" && c[want] != 1 {
				k.fail("I8", p.ID, ref, "refund %s is %s with %d %s events (events: %v)", r.Node.ID, r.Node.Status, c[want], want, types[r.Node.ID])
			}
			if c["refund.created"] > 1 {
				k.fail("I8", p.ID, ref, "refund %s has %d refund.created events", r.Node.ID, c["refund.created"])
			}
		}
	}
}
