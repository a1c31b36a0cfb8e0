package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/disputes"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
	"github.com/straitpay/strait/server/app"
)

// TestDisputeCompellingEvidenceAndLiveUpdatesEndToEnd runs, over HTTP with
// the real cardnet plugin and the sandbox:
//
//   - Compelling Evidence 3.0: a card paid four times through checkouts from
//     one IP address (the confirm request's client address), with one
//     email, device id and shipping address, three of them backdated by
//     writing created_at directly in the test database (150, 200 and 30
//     days) and one from a second address, email and no shipping (180
//     days); a fraud dispute of a fifth payment is offered the 150- and
//     200-day payments with the elements each shares, and
//     submitDisputeEvidence(useCompellingEvidence: true), with nothing
//     staged, wins in the sandbox. A fraud dispute of a card without
//     history is offered none, and its CE3.0 submission is BAD_USER_INPUT.
//   - disputeUpdated: the merchant's subscription sees every dispute event,
//     resumes after a cursor with no repeat, and merchant B sees none of
//     them (and an error for A's dispute id).
//   - dispute.* webhooks: an endpoint selecting "dispute." receives
//     dispute.created, signed (verified with the Standard Webhooks library),
//     and nothing else.
//   - Evidence after dueBy: the test moves the app's clock (the harness's
//     offsetClock, which the dispute service reads) past the dispute's
//     dueBy; submitDisputeEvidence is CONFLICT and the sandbox's network
//     holds no evidence for the dispute.
func TestDisputeCompellingEvidenceAndLiveUpdatesEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}, sandbox: func(c *sandbox.Config) {
			c.ChargebackDelay = time.Hour // the test opens disputes itself
			c.DisputeResolveDelay = 200 * time.Millisecond
		}, configure: func(c *app.Config) {
			c.WebhookAllowPrivate = true
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // the load balancer
		}})
		sys := viewer.SystemContext(context.Background())
		merchant := x.a.ID

		// The merchant's webhook endpoint for disputes only.
		hooks := newHookReceiver(t)
		var created struct{ Secret string }
		x.ok(t, x.gql("MERCHANT_ADMIN", `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret } }`,
			map[string]any{"in": map[string]any{"url": hooks.srv.URL + "/strait", "eventTypes": []string{"dispute."}}}), "createWebhookEndpoint", &created)
		hooks.mu.Lock()
		hooks.secret = created.Secret
		hooks.mu.Unlock()

		// The merchant's live disputes, and merchant B's.
		live := subscribedWS(t, x.srv, x.tokens["API_KEY"], "d", disputeUpdatedQuery, nil)
		other := subscribedWS(t, x.srv, x.merchantB(), "all", disputeUpdatedQuery, nil)
		time.Sleep(100 * time.Millisecond)

		// A large payment first, so the merchant's balance covers every hold.
		x.payCard(t, x.open(t, map[string]any{"amount": amountOf(1_000_000, "SGD")}), "4242424242424242", cvc3)

		const cardX, cardY = "4111111111111111", "5555555555554444"
		home := map[string]any{"line1": "1 Orchard Road", "city": "Singapore", "postalCode": "238823", "country": "SG"}
		type buy struct {
			card, ip, email, device string
			ship                    map[string]any
			// via is the TCP peer when it is not ip (a proxy), and xff the
			// X-Forwarded-For header it sends.
			via, xff string
			age      time.Duration // backdated this much; 0: now
		}
		pay := func(b buy) string {
			t.Helper()
			in := map[string]any{"amount": amountOf(2500, "SGD")}
			if b.ship != nil {
				in["shippingAddress"] = b.ship
			}
			s := x.open(t, in)
			tok := x.tokenize(t, s, b.card, cvc3)
			conf := map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "confirm-" + tok, "email": b.email}
			if b.device != "" {
				conf["deviceID"] = b.device
			}
			peer := b.ip
			if b.via != "" {
				peer = b.via
			}
			p := x.confirmFrom(t, s, conf, peer, b.xff)
			if p.Status != "SUCCEEDED" {
				t.Fatalf("payment %s: %s", p.ID, p.Status)
			}
			if b.age > 0 {
				// Backdated in the test database: the card's history.
				if _, err := db.SQL.ExecContext(sys, "UPDATE payments SET created_at = ? WHERE id = ?",
					time.Now().UTC().Add(-b.age).Truncate(time.Microsecond), p.ID); err != nil {
					t.Fatal(err)
				}
			}
			return p.ID
		}
		day := 24 * time.Hour
		ann := buy{card: cardX, ip: "198.51.100.7", email: "Ann@Example.com", device: "ann-phone", ship: home}
		with := func(b buy, age time.Duration, change func(*buy)) buy {
			b.age = age
			if change != nil {
				change(&b)
			}
			return b
		}
		prior150 := pay(with(ann, 150*day, nil))
		prior200 := pay(with(ann, 200*day, func(b *buy) { b.device, b.email = "", "ann@example.com" }))
		// Too recent; and a client's own X-Forwarded-For is not believed.
		recent := pay(with(ann, 30*day, func(b *buy) { b.xff = "192.0.2.99" }))
		pay(with(ann, 180*day, func(b *buy) { b.email, b.device, b.ship = "someone@example.com", "", nil }))
		disputedX := pay(ann)
		// Through the trusted load balancer: the client is the rightmost
		// address it did not add (what lies left of it may be forged).
		disputedY := pay(buy{card: cardY, email: ann.email, device: ann.device, ship: home,
			via: "10.0.0.5", xff: "192.0.2.77, 198.51.100.7, 10.1.1.1"})

		// What the payment kept of the buyer (and never shows in GraphQL).
		px, err := db.Client.Payment.Get(sys, disputedX)
		if err != nil {
			t.Fatal(err)
		}
		if px.BuyerIP != "198.51.100.7" || px.BuyerEmail != "ann@example.com" || px.DeviceIDHash != disputes.HashDeviceID("ann-phone") ||
			px.ShippingAddressHash != disputes.HashShippingAddress(map[string]string{"line1": "1 Orchard Road", "city": "Singapore", "postal_code": "238823", "country": "SG"}) ||
			px.CardFingerprint == "" {
			t.Fatalf("payment facts: ip %q email %q device %q shipping %q fingerprint %q", px.BuyerIP, px.BuyerEmail, px.DeviceIDHash, px.ShippingAddressHash, px.CardFingerprint)
		}
		if n, err := db.Client.Payment.Query().Where(payment.CardFingerprint(px.CardFingerprint)).Count(sys); err != nil || n != 5 {
			t.Fatalf("card X has %d payments, %v", n, err)
		}
		for id, want := range map[string]string{recent: "198.51.100.7", disputedY: "198.51.100.7"} {
			if p, err := db.Client.Payment.Get(sys, id); err != nil || p.BuyerIP != want {
				t.Fatalf("payment %s: buyer IP %q, want %q (%v)", id, p.BuyerIP, want, err)
			}
		}

		open := func(paymentID string) *ent.Dispute {
			t.Helper()
			att := x.payment(t, paymentID).attempts()[0]
			networkID, err := x.sb.TriggerDispute(att.ConnectorReference, sandbox.DisputeKindFraud)
			if err != nil {
				t.Fatal(err)
			}
			return x.waitDispute(t, networkID, "NEEDS_RESPONSE")
		}
		dx := open(disputedX)
		dy := open(disputedY)

		t.Run("compelling evidence offered", func(t *testing.T) {
			ce := x.compelling(t, dx.ID)
			if !ce.Eligible || len(ce.Candidates) != 2 {
				t.Fatalf("card X: %+v", ce)
			}
			want := []struct {
				id      string
				matched []string
				days    int
			}{
				{prior150, []string{"IP_ADDRESS", "DEVICE_ID", "SHIPPING_ADDRESS", "CUSTOMER_ACCOUNT"}, 150},
				{prior200, []string{"IP_ADDRESS", "SHIPPING_ADDRESS", "CUSTOMER_ACCOUNT"}, 200},
			}
			for i, w := range want {
				c := ce.Candidates[i]
				if c.Payment.ID != w.id || !slices.Equal(c.Matched, w.matched) || c.DaysBefore < w.days-1 || c.DaysBefore > w.days {
					t.Fatalf("candidate %d: %+v, want %+v", i, c, w)
				}
			}
			reasons := strings.Join(ce.Reasons, "\n")
			for _, s := range []string{"3 earlier succeeded payments", "2 share", prior150 + " (", "shares ip address, device id, shipping address, customer account"} {
				if !strings.Contains(reasons, s) {
					t.Fatalf("reasons lack %q:\n%s", s, reasons)
				}
			}
			if ce := x.compelling(t, dy.ID); ce.Eligible || len(ce.Candidates) != 0 || len(ce.Reasons) == 0 {
				t.Fatalf("card Y: %+v", ce)
			}
			// Merchant B cannot read A's dispute, nor its evidence.
			if r := x.gql(x.merchantB(), `query($id: ID!) { dispute(id: $id) { compellingEvidence { eligible } } }`,
				map[string]any{"id": dx.ID}); r.code() != "NOT_FOUND" {
				t.Fatalf("merchant B: %s", r.Raw)
			}
		})

		t.Run("compelling evidence submitted and won", func(t *testing.T) {
			r := x.gql("API_KEY", submitDisputeEvidence, map[string]any{"in": map[string]any{"id": dy.ID, "idempotencyKey": "ce3-y", "useCompellingEvidence": true}})
			if r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Raw, "does not qualify") {
				t.Fatalf("CE3.0 without history: %s", r.Raw)
			}
			before := x.disputeBalances(t, merchant, "SGD")
			var sub struct{ State string }
			x.ok(t, x.gql("API_KEY", submitDisputeEvidence, map[string]any{"in": map[string]any{"id": dx.ID, "idempotencyKey": "ce3-x", "useCompellingEvidence": true}}),
				"submitDisputeEvidence", &sub)
			if sub.State != "UNDER_REVIEW" {
				t.Fatalf("after submission: %s", sub.State)
			}
			won := x.waitDispute(t, dx.NetworkDisputeID, "WON")
			// No "winning_evidence" anywhere: the issuer decided on CE3.0.
			var at struct {
				Evidence []struct{ Fields map[string]string }
			}
			channelGet(t, x.sb.URL(), "/card/disputes/"+dx.NetworkDisputeID, &at)
			if len(at.Evidence) != 1 {
				t.Fatalf("the network holds %d submissions", len(at.Evidence))
			}
			f := at.Evidence[0].Fields
			if !strings.Contains(f[disputes.FieldCEPriors], prior150) || !strings.Contains(f[disputes.FieldCEPriors], prior200) ||
				f["customer_purchase_ip"] != "198.51.100.7" || f["shipping_address"] != "1 Orchard Road, Singapore, 238823, SG" {
				t.Fatalf("the network got %v", f)
			}
			for k, v := range f {
				if strings.Contains(v, sandbox.WinningEvidence) {
					t.Fatalf("field %s carries the winning convention", k)
				}
			}
			if won.Evidence[disputes.FieldCEPriors] == "" {
				t.Fatal("the sent bundle is not on the dispute")
			}
			after := x.disputeBalances(t, merchant, "SGD")
			// Won: the amount back, the fee (15.00) kept by the channel.
			if got := after.merchant - before.merchant; got != 2500 {
				t.Fatalf("merchant balance moved %+d on winning, want +2500 (the held amount back)", got)
			}
		})

		t.Run("disputeUpdated and webhooks", func(t *testing.T) {
			// The merchant saw both disputes open and X move to WON.
			var first disputeChange
			seen := map[string][]string{}
			for !slices.Contains(seen[dx.ID], "dispute.closed") {
				c := nextDisputeChange(t, live, "d")
				if first.Cursor == "" {
					first = c
				}
				seen[c.Dispute.ID] = append(seen[c.Dispute.ID], c.Type)
			}
			if first.Type != "dispute.created" || first.Dispute.ID != dx.ID || seen[dy.ID][0] != "dispute.created" {
				t.Fatalf("first change %+v; seen %v", first, seen)
			}
			// Resumed after the first change: the rest of X's, no repeat.
			again := subscribedWS(t, x.srv, x.tokens["MERCHANT_ANALYST"], "x", disputeUpdatedQuery, map[string]any{"id": dx.ID, "after": first.Cursor})
			var resumed []string
			for !slices.Contains(resumed, "dispute.closed") {
				c := nextDisputeChange(t, again, "x")
				if c.Dispute.ID != dx.ID || c.EventID == first.EventID {
					t.Fatalf("resumed change %+v", c)
				}
				resumed = append(resumed, c.Type)
			}
			if want := seen[dx.ID][1:]; !slices.Equal(resumed, want) {
				t.Fatalf("resumed %v, want %v", resumed, want)
			}
			// Merchant B: an error for A's dispute, and nothing of A's.
			other.subscribe("one", disputeUpdatedQuery, map[string]any{"id": dx.ID})
			if m := other.expect("error"); m.ID != "one" || !strings.Contains(string(m.Payload), "NOT_FOUND") {
				t.Fatalf("merchant B subscribing to A's dispute: %+v", m)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			for {
				var m wsMessage
				if err := wsjson.Read(ctx, other.c, &m); err != nil {
					break // nothing within the wait
				}
				if m.Type != "ping" && m.Type != "pong" {
					t.Fatalf("merchant B got %s %s", m.Type, m.Payload)
				}
			}
			// The webhook: dispute.created, signed, and only dispute.* types.
			hooks.waitFor(t, "dispute.closed")
			hooks.mu.Lock()
			defer hooks.mu.Unlock()
			var types []string
			for _, ty := range hooks.types {
				types = append(types, ty)
			}
			if !slices.Contains(types, "dispute.created") {
				t.Fatalf("webhooks delivered %v", types)
			}
			for _, ty := range types {
				if !strings.HasPrefix(ty, "dispute.") {
					t.Fatalf("an endpoint for dispute. got %s", ty)
				}
			}
		})

		t.Run("evidence after dueBy", func(t *testing.T) {
			p := pay(buy{card: "4242424242424242", ip: "203.0.113.9", email: "late@example.com"})
			d := open(p)
			x.ok(t, x.gql("API_KEY", updateDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID,
				"evidence": map[string]any{"uncategorizedText": "late " + sandbox.WinningEvidence}}}), "updateDisputeEvidence", &struct{}{})
			// The app's clock past dueBy (the sandbox keeps the real one).
			x.clock.Advance(d.DueBy.Sub(time.Now()) + time.Hour)
			r := x.gql("API_KEY", submitDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": "late"}})
			if r.code() != "CONFLICT" || !strings.Contains(r.Raw, "was due by") {
				t.Fatalf("evidence after dueBy: %s", r.Raw)
			}
			if r := x.gql("API_KEY", acceptDispute, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": "late-accept"}}); r.code() != "CONFLICT" {
				t.Fatalf("acceptance after dueBy: %s", r.Raw)
			}
			var at struct {
				Status   string
				Evidence []any
			}
			channelGet(t, x.sb.URL(), "/card/disputes/"+d.NetworkDisputeID, &at)
			if at.Status != "needs_response" || len(at.Evidence) != 0 {
				t.Fatalf("the network got something: %+v", at)
			}
			now, err := db.Client.Dispute.Get(sys, d.ID)
			if err != nil || now.State != dispute.StateNEEDS_RESPONSE || now.EvidenceSubmittedAt != nil {
				t.Fatalf("dispute after refusals: %+v, %v", now, err)
			}
		})
		x.balanced(t)
	})
}

const disputeUpdatedQuery = `subscription($id: ID, $after: Cursor) { disputeUpdated(id: $id, after: $after) { cursor eventID type dispute { id state } } }`

type disputeChange struct {
	Cursor, EventID, Type string
	Dispute               struct{ ID, State string }
}

func nextDisputeChange(t *testing.T, w *wsClient, id string) disputeChange {
	t.Helper()
	return nextOf[disputeChange](t, w, id, "disputeUpdated")
}

// nextOf reads the next update of subscription id and decodes its field.
func nextOf[T any](t *testing.T, w *wsClient, id, field string) T {
	t.Helper()
	m := w.expect("next")
	var body struct {
		Data   map[string]json.RawMessage
		Errors []any
	}
	var v T
	if m.ID != id {
		t.Fatalf("next for %q, want %q", m.ID, id)
	}
	if err := json.Unmarshal(m.Payload, &body); err != nil || len(body.Errors) > 0 {
		t.Fatalf("payload %s: %v", m.Payload, err)
	}
	if err := json.Unmarshal(body.Data[field], &v); err != nil {
		t.Fatalf("%s in %s: %v", field, m.Payload, err)
	}
	return v
}

// confirmFrom confirms the session as its cashier from the TCP peer ip,
// with an X-Forwarded-For header when xff is not empty.
func (x *e2e) confirmFrom(t *testing.T, s session, in map[string]any, ip, xff string) payView {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": confirmMutation, "variables": map[string]any{"in": in}})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Cashier)
	req.RemoteAddr = ip + ":40123"
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	r := x.serve(req)
	x.keep(r.Raw)
	var p payView
	x.ok(t, r, "confirmCheckoutSession", &p)
	return p
}

// waitDispute waits for the dispute of networkID to reach state.
func (x *e2e) waitDispute(t *testing.T, networkID string, state dispute.State) *ent.Dispute {
	t.Helper()
	var d *ent.Dispute
	waitFor(t, "dispute "+string(state), func() bool {
		var err error
		d, err = x.db.Client.Dispute.Query().Where(dispute.NetworkDisputeID(networkID)).Only(viewer.SystemContext(context.Background()))
		return err == nil && d.State == state
	})
	return d
}

type compellingView struct {
	Eligible   bool
	Reasons    []string
	Candidates []struct {
		Payment    struct{ ID string }
		Matched    []string
		DaysBefore int
	}
}

func (x *e2e) compelling(t *testing.T, id string) compellingView {
	t.Helper()
	var out struct{ CompellingEvidence compellingView }
	x.ok(t, x.gql("MERCHANT_ANALYST", `query($id: ID!) { dispute(id: $id) { compellingEvidence { eligible reasons
		candidates { payment { id } matched daysBefore } } } }`, map[string]any{"id": id}), "dispute", &out)
	return out.CompellingEvidence
}
