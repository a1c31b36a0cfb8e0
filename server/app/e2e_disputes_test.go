package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/channelevent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/payments/inbox"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
	"github.com/straitpay/strait/server/app"
)

// disputeBalances are the ledger balances a dispute moves, in minor units;
// merchant is the merchant's pending and available together.
type disputeBalances struct{ merchant, pending, available, hold, receivable, suspense int64 }

func (x *e2e) disputeBalances(t *testing.T, merchantID, currency string) disputeBalances {
	t.Helper()
	n := func(ownerType, ownerID, kind string) int64 {
		s := x.accountBalance(t, ownerType, ownerID, kind, currency)
		if s == "" {
			return 0
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("balance %q: %v", s, err)
		}
		return v
	}
	b := disputeBalances{
		pending: n("MERCHANT", merchantID, "PENDING"), available: n("MERCHANT", merchantID, "AVAILABLE"),
		hold: n("MERCHANT", merchantID, "DISPUTE_HOLD"), receivable: n("CHANNEL", "cardnet", "RECEIVABLE"),
		suspense: n("PLATFORM", "platform", "SUSPENSE"),
	}
	b.merchant = b.pending + b.available
	return b
}

// TestDisputesEndToEnd opens each kind of dispute on the sandbox's card
// network against a payment made over GraphQL with the real cardnet plugin,
// lets the notifications reach Strait through the signed webhooks and the
// inbox, answers through the dispute service (evidence or acceptance, which
// call the plugin), and checks the states the dispute went through and the
// ledger by hand-computed amounts: amount A = 40.00 SGD, fee F = 15.00 SGD.
func TestDisputesEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dataDir := t.TempDir() // evidence files
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}, sandbox: func(c *sandbox.Config) {
			c.ChargebackDelay = time.Hour // the test opens disputes itself
			c.DisputeResolveDelay = 200 * time.Millisecond
		}, configure: func(c *app.Config) { c.DataDir = dataDir }})
		const amount, fee = 4000, 1500
		// A large payment first, so the merchant's pending balance covers
		// every hold: nothing is advanced from suspense.
		x.payCard(t, x.open(t, map[string]any{"amount": amountOf(1_000_000, "SGD")}), "4242424242424242", cvc3)
		merchant := x.a.ID
		sys := viewer.SystemContext(context.Background())
		cases := []struct {
			name, kind string
			answers    []string // evidence text per stage; "accept" accepts
			states     []dispute.State
			// the net change of each balance once the dispute ends
			want disputeBalances
		}{
			{"inquiry closed", sandbox.DisputeKindInquiry, []string{"receipt: " + sandbox.WinningEvidence},
				[]dispute.State{"WARNING_NEEDS_RESPONSE", "WARNING_UNDER_REVIEW", "WARNING_CLOSED"}, disputeBalances{}},
			{"fraud won", sandbox.DisputeKindFraud, []string{"signed delivery " + sandbox.WinningEvidence},
				[]dispute.State{"NEEDS_RESPONSE", "UNDER_REVIEW", "WON"},
				disputeBalances{merchant: -fee, receivable: fee}},
			{"not received lost", sandbox.DisputeKindNotReceived, []string{"we think it arrived"},
				[]dispute.State{"NEEDS_RESPONSE", "UNDER_REVIEW", "LOST"},
				disputeBalances{merchant: -(amount + fee), receivable: amount + fee}},
			{"accepted", sandbox.DisputeKindFraud, []string{"accept"},
				[]dispute.State{"NEEDS_RESPONSE", "ACCEPTED"},
				disputeBalances{merchant: -(amount + fee), receivable: amount + fee}},
			{"pre-arbitration won", sandbox.DisputeKindPreArbitration, []string{"first answer", "second answer " + sandbox.WinningEvidence},
				[]dispute.State{"NEEDS_RESPONSE", "UNDER_REVIEW", "NEEDS_RESPONSE", "UNDER_REVIEW", "WON"},
				disputeBalances{merchant: -fee, receivable: fee}},
		}
		networkIDs := map[string]string{}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(amount, "SGD")}), "4242424242424242", cvc3)
				att := x.payment(t, p.ID).attempts()[0]
				before := x.disputeBalances(t, merchant, "SGD")
				networkID, err := x.sb.TriggerDispute(att.ConnectorReference, tc.kind)
				if err != nil {
					t.Fatal(err)
				}
				networkIDs[tc.name] = networkID
				var d *ent.Dispute
				wait := func(state dispute.State) {
					t.Helper()
					waitFor(t, "dispute "+string(state), func() bool {
						d, err = db.Client.Dispute.Query().Where(dispute.NetworkDisputeID(networkID)).Only(sys)
						return err == nil && d.State == state
					})
				}
				wait(tc.states[0])
				if d.PaymentID != p.ID || d.Amount != amount || d.Currency != "SGD" || d.DueBy == nil || d.MerchantID != merchant {
					t.Fatalf("dispute %+v", d)
				}
				if tc.kind != sandbox.DisputeKindInquiry {
					// Available first, then pending.
					held := x.disputeBalances(t, merchant, "SGD")
					fromAvailable := min(before.available, amount+fee)
					if held.hold-before.hold != amount+fee || held.available-before.available != -fromAvailable ||
						held.pending-before.pending != -(amount+fee-fromAvailable) {
						t.Fatalf("on opening: hold %+d, available %+d, pending %+d; want %d held, %d of it from available",
							held.hold-before.hold, held.available-before.available, held.pending-before.pending, amount+fee, fromAvailable)
					}
				}
				if tc.name == "fraud won" {
					x.checkUploads(t, d.ID)
				}
				step := 1
				for _, answer := range tc.answers {
					key := strings.ReplaceAll(tc.name, " ", "_") + "-" + strconv.Itoa(step)
					if answer == "accept" {
						x.ok(t, x.gql("API_KEY", acceptDispute, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": key}}), "acceptDispute", &struct{}{})
					} else {
						x.ok(t, x.gql("API_KEY", updateDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID,
							"evidence": map[string]any{"uncategorizedText": answer, "customerName": "Ada Buyer"}}}), "updateDisputeEvidence", &struct{}{})
						var sub struct{ State string }
						x.ok(t, x.gql("API_KEY", submitDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": key}}), "submitDisputeEvidence", &sub)
						if sub.State != "UNDER_REVIEW" && sub.State != "WARNING_UNDER_REVIEW" {
							t.Fatalf("after submission: %s", sub.State)
						}
						// A second submission at the same stage, with another key.
						if r := x.gql("API_KEY", submitDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": key + "-again"}}); r.code() != "CONFLICT" {
							t.Fatalf("second submission: %s", r.Raw)
						}
					}
					for ; step < len(tc.states); step++ {
						wait(tc.states[step])
						if tc.states[step] == "NEEDS_RESPONSE" {
							step++
							break
						}
					}
				}
				if tc.name == "fraud won" {
					// The network got the uploaded receipt with the evidence.
					var at struct {
						Evidence []struct {
							Files []struct{ Name, SHA256 string }
						}
					}
					channelGet(t, x.sb.URL(), "/card/disputes/"+networkID, &at)
					sum := sha256.Sum256(pngReceipt)
					if len(at.Evidence) != 1 || len(at.Evidence[0].Files) != 1 || at.Evidence[0].Files[0].SHA256 != hex.EncodeToString(sum[:]) {
						t.Fatalf("the network holds evidence %+v", at.Evidence)
					}
				}
				after := x.disputeBalances(t, merchant, "SGD")
				got := disputeBalances{merchant: after.merchant - before.merchant,
					hold: after.hold - before.hold, receivable: after.receivable - before.receivable, suspense: after.suspense - before.suspense}
				if got != tc.want {
					t.Fatalf("ledger moved %+v, want %+v", got, tc.want)
				}
				// Refunding a disputed payment is refused unless the merchant won.
				r := x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{"id": p.ID, "idempotencyKey": "refund-" + strings.ReplaceAll(tc.name, " ", "_")}})
				if won := d.State == "WON" || d.State == "WARNING_CLOSED"; won != (r.code() == "") || (!won && r.code() != "CONFLICT") {
					t.Fatalf("refund of a %s dispute's payment: %s", d.State, r.Raw)
				}
			})
		}
		t.Run("out-of-order delivery", func(t *testing.T) {
			// The pre-arbitration dispute's five notifications, as the inbox
			// stored them, replayed for another payment: each 1 to 3 times,
			// shuffled, by several seeds. Each replay must end WON with the
			// ledger moved as by the in-order delivery.
			rows, err := db.Client.ChannelEvent.Query().Where(channelevent.Type("dispute"),
				channelevent.ObjectID(networkIDs["pre-arbitration won"])).All(sys)
			if err != nil || len(rows) != 5 {
				t.Fatalf("stored events: %d, %v", len(rows), err)
			}
			for seed := int64(1); seed <= 4; seed++ {
				p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(amount, "SGD")}), "4242424242424242", cvc3)
				att := x.payment(t, p.ID).attempts()[0]
				rng := rand.New(rand.NewSource(seed))
				var deliveries []connectors.Event
				for _, row := range rows {
					ev, err := inbox.Event(row)
					if err != nil {
						t.Fatal(err)
					}
					suffix := fmt.Sprintf("-replay%d", seed)
					ev.ID += suffix
					dd := *ev.Dispute
					dd.ID += suffix
					dd.Reference, dd.PaymentID = att.ID, att.ConnectorReference
					ev.Dispute, ev.Reference, ev.PaymentID, ev.ObjectID = &dd, att.ID, att.ConnectorReference, dd.ID
					for range 1 + rng.Intn(3) {
						deliveries = append(deliveries, ev)
					}
				}
				rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
				before := x.disputeBalances(t, merchant, "SGD")
				for _, ev := range deliveries {
					if err := x.app.Disputes.HandleEvent(sys, ev); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
				d, err := db.Client.Dispute.Query().Where(dispute.PaymentID(p.ID)).Only(sys)
				if err != nil || d.State != "WON" || d.Stage != "PRE_ARBITRATION" || d.Fee != fee || d.Amount != amount {
					t.Fatalf("seed %d: dispute %+v, %v", seed, d, err)
				}
				after := x.disputeBalances(t, merchant, "SGD")
				got := disputeBalances{merchant: after.merchant - before.merchant,
					hold: after.hold - before.hold, receivable: after.receivable - before.receivable, suspense: after.suspense - before.suspense}
				if want := (disputeBalances{merchant: -fee, receivable: fee}); got != want {
					t.Fatalf("seed %d: ledger moved %+v, want %+v", seed, got, want)
				}
			}
		})
		t.Run("merchant views and bad input", func(t *testing.T) {
			var page struct {
				Edges []struct {
					Node struct{ ID, State, Reason string }
				}
			}
			x.ok(t, x.gql("API_KEY", `query($f: DisputeListFilter) { disputes(first: 20, filter: $f) { edges { node { id state reason } } } }`,
				map[string]any{"f": map[string]any{"state": "LOST"}}), "disputes", &page)
			if len(page.Edges) != 1 || page.Edges[0].Node.Reason != "NOT_RECEIVED" {
				t.Fatalf("lost disputes: %+v", page)
			}
			id := page.Edges[0].Node.ID
			// Another merchant's dispute is not there at all.
			_, _, body := x.rawGQL(x.merchantB(), `query($id: ID!) { dispute(id: $id) { id } }`, map[string]any{"id": id})
			if !strings.Contains(body, `"NOT_FOUND"`) {
				t.Fatalf("merchant B reads A's dispute: %s", body)
			}
			// A closed dispute takes no evidence.
			if r := x.gql("API_KEY", updateDisputeEvidence, map[string]any{"in": map[string]any{"id": id, "evidence": map[string]any{"receipt": "r"}}}); r.code() != "CONFLICT" {
				t.Fatalf("evidence on a lost dispute: %s", r.Raw)
			}
			var all struct {
				Edges []struct{ Node struct{ ID string } }
			}
			x.ok(t, x.gql("OPERATOR", `{ disputes(first: 50) { edges { node { id } } } }`, nil), "disputes", &all)
			if len(all.Edges) != len(cases)+4 {
				t.Fatalf("the operator sees %d disputes, want %d", len(all.Edges), len(cases)+4)
			}
			var one struct {
				Amount   struct{ Amount, Currency string }
				Fee      struct{ Amount string }
				Timeline []struct{ Kind, ToState string }
				Evidence struct{ UncategorizedText, CustomerName *string }
				Payment  struct{ ID string }
			}
			x.ok(t, x.gql("API_KEY", `query($id: ID!) { dispute(id: $id) { amount { amount currency } fee { amount }
				timeline { kind toState } evidence { uncategorizedText customerName } payment { id } } }`, map[string]any{"id": id}), "dispute", &one)
			if one.Amount.Amount != itoa(amount) || one.Amount.Currency != "SGD" || one.Fee.Amount != itoa(fee) ||
				one.Evidence.CustomerName == nil || *one.Evidence.CustomerName != "Ada Buyer" || len(one.Timeline) < 4 {
				t.Fatalf("dispute %+v", one)
			}
		})
		x.balanced(t)
	})
}

const updateDisputeEvidence = `mutation($in: UpdateDisputeEvidenceInput!) { updateDisputeEvidence(input: $in) { id state } }`
const submitDisputeEvidence = `mutation($in: SubmitDisputeEvidenceInput!) { submitDisputeEvidence(input: $in) { id state } }`
const acceptDispute = `mutation($in: AcceptDisputeInput!) { acceptDispute(input: $in) { id state } }`

// pngReceipt is a PNG's signature and a few bytes: enough for content
// sniffing.
var pngReceipt = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 64)...)

// upload sends a GraphQL multipart request (operations, map, file) as
// merchant A's API key, and returns the status and body.
func (x *e2e) upload(t *testing.T, query string, vars map[string]any, path, name string, data []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	mw.WriteField("operations", string(ops))
	mw.WriteField("map", `{"0": ["`+path+`"]}`)
	fw, err := mw.CreateFormFile("0", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/graphql", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+x.tokens["API_KEY"])
	rec := httptest.NewRecorder()
	x.app.Handler().ServeHTTP(rec, req)
	x.keep(rec.Body.String())
	return rec.Code, rec.Body.String()
}

const uploadDisputeFile = `mutation($in: UploadDisputeFileInput!) { uploadDisputeFile(input: $in) { id name contentType size sha256 purpose } }`

// checkUploads uploads evidence for dispute id: a PNG receipt is kept; a
// PNG named .pdf, a text file, an oversized file and another mutation sent
// along as multipart are refused with coded errors.
func (x *e2e) checkUploads(t *testing.T, id string) {
	t.Helper()
	vars := func() map[string]any {
		return map[string]any{"in": map[string]any{"id": id, "purpose": "receipt", "file": nil}}
	}
	refused := []struct {
		what, name string
		data       []byte
	}{
		{"a PNG named .pdf", "receipt.pdf", pngReceipt},
		{"a text file", "receipt.png", []byte("just some text, not an image")},
		{"an oversized PDF", "big.pdf", append([]byte("%PDF-1.4\n"), make([]byte, 4<<20)...)},
	}
	for _, r := range refused {
		status, body := x.upload(t, uploadDisputeFile, vars(), "variables.in.file", r.name, r.data)
		if status != http.StatusOK || !strings.Contains(body, `"BAD_USER_INPUT"`) {
			t.Fatalf("%s: %d %s", r.what, status, truncate(body, 300))
		}
	}
	status, body := x.upload(t, `mutation($in: UploadDisputeFileInput!, $id: ID!) { uploadDisputeFile(input: $in) { id }
		updateDisputeEvidence(input: {id: $id, evidence: {receipt: "r"}}) { id } }`,
		map[string]any{"in": map[string]any{"id": id, "file": nil}, "id": id}, "variables.in.file", "receipt.png", pngReceipt)
	if status != http.StatusBadRequest || !strings.Contains(body, `"BAD_USER_INPUT"`) {
		t.Fatalf("another mutation in a multipart request: %d %s", status, body)
	}
	status, body = x.upload(t, uploadDisputeFile, vars(), "variables.in.file", "receipt.png", pngReceipt)
	var out struct {
		Data struct {
			UploadDisputeFile struct {
				ID, Name, ContentType, Purpose string
				Size                           int
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || status != http.StatusOK {
		t.Fatalf("upload: %d %s", status, body)
	}
	if f := out.Data.UploadDisputeFile; f.ContentType != "image/png" || f.Size != len(pngReceipt) || f.Purpose != "receipt" || f.Name != "receipt.png" {
		t.Fatalf("uploaded %+v (%s)", f, body)
	}
}
