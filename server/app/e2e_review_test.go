package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

const reviewedFields = `id status amountCaptured { amount } amountCapturable { amount }
	review { status reason openedAt closedAt closedBy closeNote }`

const approvePaymentReview = `mutation($in: ApprovePaymentReviewInput!) { approvePaymentReview(input: $in) { ` + reviewedFields + ` } }`

const rejectPaymentReview = `mutation($in: RejectPaymentReviewInput!) { rejectPaymentReview(input: $in) { ` + reviewedFields + ` } }`

type reviewedView struct {
	ID, Status                       string
	AmountCaptured, AmountCapturable struct{ Amount string }
	Review                           *struct {
		Status, Reason, OpenedAt string
		ClosedAt, ClosedBy       *string
		CloseNote                *string
	}
}

// reviewed reads a payment with its review as merchant A's API key.
func (x *e2e) reviewed(t *testing.T, id string) reviewedView {
	t.Helper()
	var p reviewedView
	x.ok(t, x.gql("API_KEY", `query($id: ID!) { payment(id: $id) { `+reviewedFields+` } }`, map[string]any{"id": id}), "payment", &p)
	return p
}

// reviewQueue lists the ids of the payments whose review is status (any
// when ""), as principal sees them.
func (x *e2e) reviewQueue(t *testing.T, principal, status string) []string {
	t.Helper()
	vars := map[string]any{}
	if status != "" {
		vars["s"] = status
	}
	var page struct {
		Edges []struct{ Node struct{ ID string } }
	}
	x.ok(t, x.gql(principal, `query($s: PaymentReviewStatus) { paymentReviews(status: $s, first: 50) { edges { node { id } } } }`,
		vars), "paymentReviews", &page)
	var ids []string
	for _, e := range page.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

// TestAMLReviewHoldsThePaymentUntilAPersonDecidesEndToEnd: an AML rule with
// the action review sends a payment to review instead of refusing it. With
// the real cardnet plugin and card network, the payment is authorized and
// not captured, the session completes, and nothing is posted; the merchant
// cannot capture it. Approving it captures it once at the network and
// posts it; rejecting another voids it at the network and posts nothing.
// A review closes once; another merchant cannot see or decide it; a
// replayed approval answers byte for byte the same.
func TestAMLReviewHoldsThePaymentUntilAPersonDecidesEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		network := x.sb.URL()
		x.ok(t, x.gql("OPERATOR", `mutation($in: RiskRuleInput!) { upsertRiskRule(input: $in) { key action } }`,
			map[string]any{"in": map[string]any{"key": "aml-sgd", "kind": "aml_threshold", "action": "review",
				"enabled": true, "score": 60, "params": map[string]any{"currency": "SGD", "maxMinor": "5000"}}}),
			"upsertRiskRule", &struct{}{})

		below := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(1_000, "SGD")}), "4242424242424242", cvc3)
		if got := x.reviewed(t, below.ID); got.Status != "SUCCEEDED" || got.Review != nil {
			t.Fatalf("below the threshold: %+v", got)
		}

		// Held: authorized at the network, nothing captured or posted.
		before := x.counts(t)
		s := x.open(t, map[string]any{"amount": amountOf(8_000, "SGD")})
		held := x.payCard(t, s, "4242424242424242", cvc3)
		p := x.reviewed(t, held.ID)
		if p.Status != "REQUIRES_CAPTURE" || p.AmountCapturable.Amount != "8000" || p.Review == nil || p.Review.Status != "OPEN" ||
			!strings.Contains(p.Review.Reason, "AML threshold") || p.Review.OpenedAt == "" || p.Review.ClosedAt != nil || p.Review.ClosedBy != nil {
			t.Fatalf("held payment %+v review %+v", p, p.Review)
		}
		att := x.payment(t, held.ID).attempts()
		if len(att) != 1 || att[0].Status != "AUTHORIZED" {
			t.Fatalf("attempts %+v", att)
		}
		if at := cardPaymentsAt(t, network, att[0].ID); len(at) != 1 || at[0].State != "authorized" || at[0].CapturedAmount != 0 {
			t.Fatalf("the network holds %+v", at)
		}
		if after := x.counts(t); after.Postings != before.Postings || after.Entries != before.Entries || after.Settled != before.Settled {
			t.Fatalf("money moved for a payment under review: %+v then %+v", before, after)
		}
		if got := x.sessionStatus(t, s); got != "COMPLETE" {
			t.Fatalf("session %s", got)
		}
		if r := x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{"id": held.ID, "idempotencyKey": "cap-held"}}); r.code() != "CONFLICT" {
			t.Fatalf("capture under review: %s", r.Raw)
		}
		for _, principal := range []string{"OPERATOR", "API_KEY", "MERCHANT_ANALYST"} {
			if q := x.reviewQueue(t, principal, "OPEN"); len(q) != 1 || q[0] != held.ID {
				t.Fatalf("%s's open reviews %v", principal, q)
			}
		}
		if q := x.reviewQueue(t, x.merchantB(), ""); len(q) != 0 {
			t.Fatalf("merchant B sees reviews %v", q)
		}
		for i, m := range []string{approvePaymentReview, rejectPaymentReview} {
			key := fmt.Sprintf("b-%d", i)
			if r := x.gql(x.merchantB(), m, map[string]any{"in": map[string]any{"paymentID": held.ID, "idempotencyKey": key}}); r.code() != "NOT_FOUND" {
				t.Fatalf("merchant B decided A's review: %s", r.Raw)
			}
		}
		if r := x.gql("API_KEY", approvePaymentReview, map[string]any{"in": map[string]any{"paymentID": held.ID, "idempotencyKey": "k-1"}}); r.code() != "FORBIDDEN" {
			t.Fatalf("an API key approved: %s", r.Raw)
		}

		// Approved: captured once at the network, posted.
		admin := x.tokens["MERCHANT_ADMIN"]
		in := map[string]any{"in": map[string]any{"paymentID": held.ID, "note": "ID checked", "idempotencyKey": "approve-1"}}
		status, replayed, body := x.rawGQL(admin, approvePaymentReview, in)
		if status != 200 || replayed != "" || strings.Contains(body, `"errors"`) {
			t.Fatalf("approve: %d %s", status, body)
		}
		status, replayed, again := x.rawGQL(admin, approvePaymentReview, in)
		if status != 200 || replayed != "true" || again != body {
			t.Fatalf("replayed approval: %d %q\n%s\nfirst:\n%s", status, replayed, again, body)
		}
		p = x.reviewed(t, held.ID)
		if p.Status != "SUCCEEDED" || p.AmountCaptured.Amount != "8000" || p.Review.Status != "APPROVED" ||
			p.Review.ClosedAt == nil || p.Review.ClosedBy == nil || !strings.HasPrefix(*p.Review.ClosedBy, "merchant_user:") ||
			p.Review.CloseNote == nil || *p.Review.CloseNote != "ID checked" {
			t.Fatalf("approved payment %+v review %+v", p, p.Review)
		}
		if at := cardPaymentsAt(t, network, att[0].ID); len(at) != 1 || at[0].State != "captured" || at[0].CapturedAmount != 8_000 {
			t.Fatalf("the network holds %+v", at)
		}
		approved := x.counts(t)
		if approved.Settled != before.Settled+1 || approved.Entries != before.Entries+1 {
			t.Fatalf("after the approval: %+v, before %+v", approved, before)
		}
		if r := x.gql("OPERATOR", approvePaymentReview, map[string]any{"in": map[string]any{"paymentID": held.ID, "idempotencyKey": "approve-2"}}); r.code() != "CONFLICT" {
			t.Fatalf("approved twice: %s", r.Raw)
		}

		// Rejected: voided at the network, nothing posted.
		other := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(9_000, "SGD")}), "5555555555554444", cvc3)
		otherAtt := x.payment(t, other.ID).attempts()[0]
		before = x.counts(t)
		var rejected reviewedView
		x.ok(t, x.gql("OPERATOR", rejectPaymentReview, map[string]any{"in": map[string]any{"paymentID": other.ID,
			"reason": "sanctions list match", "idempotencyKey": "reject-1"}}), "rejectPaymentReview", &rejected)
		if rejected.Status != "CANCELED" || rejected.Review == nil || rejected.Review.Status != "REJECTED" ||
			rejected.Review.ClosedBy == nil || *rejected.Review.ClosedBy != "operator:test-op" ||
			rejected.Review.CloseNote == nil || *rejected.Review.CloseNote != "sanctions list match" {
			t.Fatalf("rejected payment %+v review %+v", rejected, rejected.Review)
		}
		if at := cardPaymentsAt(t, network, otherAtt.ID); len(at) != 1 || at[0].State != "voided" || at[0].CapturedAmount != 0 {
			t.Fatalf("the network holds %+v", at)
		}
		if after := x.counts(t); after != before {
			t.Fatalf("money moved for a rejected review: %+v then %+v", before, after)
		}
		if r := x.gql("MERCHANT_ADMIN", rejectPaymentReview, map[string]any{"in": map[string]any{"paymentID": other.ID, "idempotencyKey": "reject-2"}}); r.code() != "CONFLICT" {
			t.Fatalf("rejected twice: %s", r.Raw)
		}
		if q := x.reviewQueue(t, "OPERATOR", "OPEN"); len(q) != 0 {
			t.Fatalf("open reviews left %v", q)
		}
		if q := x.reviewQueue(t, "API_KEY", ""); len(q) != 2 {
			t.Fatalf("reviews %v", q)
		}

		var logs struct {
			Edges []struct {
				Node struct{ Action, TargetID string }
			}
		}
		x.ok(t, x.gql("MERCHANT_ADMIN", `{ auditLogs(first: 50) { edges { node { action targetID } } } }`, nil), "auditLogs", &logs)
		var decided []string
		for _, e := range logs.Edges {
			if strings.HasPrefix(e.Node.Action, "payment_review.") {
				decided = append(decided, e.Node.Action+" "+e.Node.TargetID)
			}
		}
		if len(decided) != 2 || decided[0] != "payment_review.reject "+other.ID || decided[1] != "payment_review.approve "+held.ID {
			t.Fatalf("audit log %v", decided)
		}
		x.balanced(t)
		x.noCardData(t)
	})
}
