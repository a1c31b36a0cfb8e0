package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
)

// natsURL is the NATS server for tests (.ci/run sets STRAIT_TEST_NATS_URL);
// outside CI a test without one skips.
func natsURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("STRAIT_TEST_NATS_URL"); u != "" {
		return u
	}
	if os.Getenv("CI") != "" {
		t.Fatal("STRAIT_TEST_NATS_URL is not set in CI")
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		t.Skipf("no NATS at 127.0.0.1:4222: %v", err)
	}
	c.Close()
	return "nats://127.0.0.1:4222"
}

// replica is one `strait serve` process.
type replica struct {
	base string
	cmd  *exec.Cmd
	done chan error
	logs *syncBuffer
}

// post sends a GraphQL request with cred and returns the HTTP status and
// body.
func (r replica) post(t *testing.T, cred, query string, vars map[string]any) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", r.base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (r replica) gql(t *testing.T, cred, query string, vars map[string]any, out any) {
	t.Helper()
	_, raw := r.post(t, cred, query, vars)
	var res struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.Unmarshal(raw, &res); err != nil || len(res.Errors) > 0 {
		t.Fatalf("%s on %s: %s\n%s", strings.Fields(query)[0:2], r.base, raw, grepLines(r.logs.String(), "connector"))
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// subscriber is a graphql-transport-ws client of paymentUpdated.
type subscriber struct {
	c   *websocket.Conn
	ctx context.Context
}

type change struct {
	Cursor, EventID, Type string
	Payment               struct{ ID string }
}

func subscribe(t *testing.T, r replica, cred, after string) *subscriber {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	s := &subscriber{c: c, ctx: ctx}
	_ = wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + cred}})
	var ack struct{ Type string }
	if err := wsjson.Read(ctx, c, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("ack: %+v %v", ack, err)
	}
	vars := map[string]any{}
	if after != "" {
		vars["after"] = after
	}
	_ = wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription($after: Cursor) { paymentUpdated(after: $after) { cursor eventID type payment { id } } }`, "variables": vars}})
	return s
}

// next returns the next change, or an error when the socket ends.
func (s *subscriber) next(timeout time.Duration) (change, error) {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	for {
		var m struct {
			Type    string
			Payload struct {
				Data struct{ PaymentUpdated change }
			}
		}
		if err := wsjson.Read(ctx, s.c, &m); err != nil {
			return change{}, err
		}
		if m.Type == "next" {
			return m.Payload.Data.PaymentUpdated, nil
		}
		if m.Type != "ping" && m.Type != "pong" {
			return change{}, fmt.Errorf("unexpected %s", m.Type)
		}
	}
}

// TestTwoReplicasShareEventsAndWebhooks runs two `strait serve` processes
// on one MariaDB database and one NATS: a payment confirmed on A is seen
// by a subscriber on B and sent as exactly one webhook per event; a
// subscriber on A that loses A to a SIGKILL resumes on B from its last
// cursor and misses nothing.
func TestTwoReplicasShareEventsAndWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every binary")
	}
	if len(storetest.Dialects(t)) < 2 {
		t.Skip("replicas share MySQL: set " + storetest.EnvMySQL)
	}
	nats := natsURL(t)
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if out, err := exec.Command("go", "build", "-o", plugins+"/", "../plugins/cardnet", "../plugins/bank", "../plugins/wallet", "../plugins/fx").CombinedOutput(); err != nil {
		t.Fatalf("build plugins: %v\n%s", err, out)
	}
	sandboxBin := filepath.Join(dir, "sandbox")
	if out, err := exec.Command("go", "build", "-o", sandboxBin, "../sandbox/cmd/sandbox").CombinedOutput(); err != nil {
		t.Fatalf("build sandbox: %v\n%s", err, out)
	}
	sandboxAddr, addrA, addrB := freeAddr(t), freeAddr(t), freeAddr(t)
	manifest := exec.Command("sh", "../plugins/manifest.sh", plugins)
	manifest.Env = append(os.Environ(), "SANDBOX_URL=http://"+sandboxAddr, "STRAIT_PUBLIC_URL=http://"+addrA)
	if out, err := manifest.CombinedOutput(); err != nil {
		t.Fatalf("manifest.sh: %v\n%s", err, out)
	}
	sbLogs := &syncBuffer{}
	sb := exec.Command(sandboxBin, "-addr", sandboxAddr, "-data", filepath.Join(dir, "sandbox-data"))
	sb.Stderr = sbLogs
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Process.Signal(syscall.SIGTERM); _ = sb.Wait() })
	waitFor(t, "http://"+sandboxAddr+"/healthz", nil, sbLogs)

	run := strings.ToUpper(strings.TrimPrefix(pulid.New("t"), "t_"))
	common := []string{"STRAIT_DATABASE_URL=" + dbURL(t, "mysql"), "STRAIT_KEYS_DIR=" + filepath.Join(dir, "keys"),
		"STRAIT_PLUGIN_DIR=" + plugins, "SANDBOX_API_KEY=sk_sandbox_test", "SANDBOX_WEBHOOK_SECRET=whsec_e2e",
		"STRAIT_NATS_URL=" + nats, "STRAIT_NATS_STREAM=TEST_" + run, "STRAIT_NATS_SUBJECT=test." + run,
		"STRAIT_WEBHOOK_ALLOW_PRIVATE=true", "STRAIT_VAULT_KEYS=k1:" + vault.GenerateKey(),
		"STRAIT_VAULT_FINGERPRINT_KEY=" + vault.GenerateKey(),
		// The relays poll every 30 s: events reach subscribers within
		// seconds only because each commit wakes the relay, on whichever
		// replica holds its lease (a NATS nudge across replicas).
		"STRAIT_RELAY_POLL=30s"}
	envA := append([]string{"STRAIT_DATA_DIR=" + filepath.Join(dir, "a"), "STRAIT_ADDR=" + addrA}, common...)
	envB := append([]string{"STRAIT_DATA_DIR=" + filepath.Join(dir, "b"), "STRAIT_ADDR=" + addrB}, common...)
	strait(t, envA, "keys")
	strait(t, envA, "migrate")
	operator := strait(t, envA, "token", "--role", "operator")
	start := func(env []string, addr string) replica {
		cmd, done, logs := startServe(t, env, addr)
		return replica{base: "http://" + addr, cmd: cmd, done: done, logs: logs}
	}
	a, b := start(envA, addrA), start(envB, addrB)

	var merchant struct{ CreateMerchant struct{ ID string } }
	a.gql(t, operator, `mutation { createMerchant(input: {legalName: "Two Replicas Ltd", country: "SG", settlementCurrency: "SGD"}) { id } }`, nil, &merchant)
	var key struct{ CreateAPIKey struct{ Secret string } }
	a.gql(t, operator, `mutation($m: ID) { createAPIKey(input: {merchantID: $m, name: "server"}) { secret } }`,
		map[string]any{"m": merchant.CreateMerchant.ID}, &key)
	apiKey := key.CreateAPIKey.Secret

	// The merchant's webhook receiver, verifying with the reference library.
	var mu sync.Mutex
	var secret string
	deliveries := map[string]int{}
	var badSigs int
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, _ := standardwebhooks.NewWebhook(secret)
		if wh == nil || wh.Verify(body, r.Header) != nil {
			badSigs++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		deliveries[r.Header.Get("webhook-id")]++
	}))
	t.Cleanup(hooks.Close)
	var ep struct{ CreateWebhookEndpoint struct{ Secret string } }
	b.gql(t, apiKey, `mutation($u: String!) { createWebhookEndpoint(input: {url: $u, eventTypes: ["payment."]}) { secret } }`,
		map[string]any{"u": hooks.URL}, &ep)
	mu.Lock()
	secret = ep.CreateWebhookEndpoint.Secret
	mu.Unlock()

	pay := func(r replica) string {
		t.Helper()
		var s struct {
			CreateCheckoutSession struct{ CashierToken string }
		}
		r.gql(t, apiKey, `mutation { createCheckoutSession(input: {amount: {amount: "4200", currency: "SGD"}, returnURL: "https://shop.example/done", buyerCountry: "SG"}) { cashierToken } }`, nil, &s)
		cashier := s.CreateCheckoutSession.CashierToken
		var tok struct{ TokenizeCard struct{ Token string } }
		r.gql(t, cashier, `mutation { tokenizeCard(input: {number: "4242424242424242", cvc: "739", expMonth: 12, expYear: 2031}) { token } }`, nil, &tok)
		var p struct {
			ConfirmCheckoutSession struct{ ID, Status string }
		}
		r.gql(t, cashier, `mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { id status } }`,
			map[string]any{"in": map[string]any{"method": "CARD", "cardToken": tok.TokenizeCard.Token, "idempotencyKey": "k-" + tok.TokenizeCard.Token}}, &p)
		if p.ConfirmCheckoutSession.Status != "SUCCEEDED" {
			t.Fatalf("payment %+v", p)
		}
		return p.ConfirmCheckoutSession.ID
	}
	waitSucceeded := func(s *subscriber, id string) []change {
		t.Helper()
		var seen []change
		for {
			c, err := s.next(20 * time.Second)
			if err != nil {
				t.Fatalf("waiting for %s: %v (seen %+v)", id, err, seen)
			}
			seen = append(seen, c)
			// A sale's last event: its capture, after payment.succeeded.
			if c.Payment.ID == id && c.Type == "payment.captured" {
				return seen
			}
		}
	}

	// 1. Confirmed on A, seen on B; then confirmed on B, seen on both.
	// One of the two replicas does not hold the relay's lease: its
	// payment's events are published by the other, woken by its nudge,
	// well before the 30 s poll.
	onB := subscribe(t, b, apiKey, "")
	onA := subscribe(t, a, apiKey, "")
	time.Sleep(200 * time.Millisecond)
	first := pay(a)
	confirmed := time.Now()
	waitSucceeded(onB, first)
	if took := time.Since(confirmed); took > 5*time.Second {
		t.Fatalf("a payment confirmed on A reached B's subscriber %s later (the relay waited for its poll)", took)
	}
	waitSucceeded(onA, first)
	onB2 := pay(b)
	confirmed = time.Now()
	waitSucceeded(onA, onB2)
	if took := time.Since(confirmed); took > 5*time.Second {
		t.Fatalf("a payment confirmed on B reached A's subscriber %s later (the relay waited for its poll)", took)
	}
	seen := waitSucceeded(onB, onB2)
	lastCursor := seen[len(seen)-1].Cursor

	// Its webhook went out before A dies: a replica killed while sending
	// leaves its delivery leased for a minute, then another sends it again
	// (at least once; receivers dedupe by webhook-id, docs/events.md).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(deliveries)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no webhook for the first payment")
		}
	}

	// 1b. A merchant user disabled on A: their sockets on both replicas
	// close with 4403 within 5 s, and B refuses their token at once.
	disabledUserIsCutOffOnEveryReplica(t, a, b, operator, envA, merchant.CreateMerchant.ID)

	// 2. A dies; payments go on through B; the client of A resumes on B.
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	if _, err := onA.next(5 * time.Second); err == nil {
		t.Fatal("a subscriber of a killed replica still reads")
	}
	// A's relay lease (10 s from its last renewal) runs out; B's next
	// commit takes it over (with the default 10 ms poll, B's next poll).
	time.Sleep(11 * time.Second)
	second, third := pay(b), pay(b)
	resumed := subscribe(t, b, apiKey, lastCursor)
	got := waitSucceeded(resumed, third)

	// Exactly the events of the second and third payments, in order, none
	// twice: the same list the events query gives.
	var listed struct {
		Events struct {
			Edges []struct {
				Node struct{ ID, Type, ObjectID string }
			}
		}
	}
	b.gql(t, apiKey, `{ events(first: 100, filter: {type: "payment."}) { edges { node { id type objectID } } } }`, nil, &listed)
	var want []string
	for i := len(listed.Events.Edges) - 1; i >= 0; i-- { // oldest first
		n := listed.Events.Edges[i].Node
		if n.ObjectID == second || n.ObjectID == third {
			want = append(want, n.ID)
		}
	}
	var gotIDs []string
	for _, c := range got {
		gotIDs = append(gotIDs, c.EventID)
	}
	if strings.Join(gotIDs, ",") != strings.Join(want, ",") {
		t.Fatalf("resumed on B with %v, want %v", gotIDs, want)
	}

	// 3. Every payment event went out as exactly one verified webhook.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n, bad := len(deliveries), badSigs
		dup := ""
		for id, c := range deliveries {
			if c != 1 {
				dup = id
			}
		}
		mu.Unlock()
		if bad > 0 || dup != "" {
			t.Fatalf("%d bad signatures; duplicate %q", bad, dup)
		}
		if n == len(listed.Events.Edges) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks for %d events", n, len(listed.Events.Edges))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // nothing more comes: no second delivery
	mu.Lock()
	defer mu.Unlock()
	for id, c := range deliveries {
		if c != 1 {
			t.Fatalf("event %s delivered %d times", id, c)
		}
	}
}

// disabledUserIsCutOffOnEveryReplica creates a merchant user on a, opens a
// socket for them on each replica, disables them on a, and checks that
// both sockets close with 4403 within 5 s and that b answers their next
// HTTP call UNAUTHENTICATED.
func disabledUserIsCutOffOnEveryReplica(t *testing.T, a, b replica, operator string, env []string, merchantID string) {
	t.Helper()
	var u struct{ CreateMerchantUser struct{ ID string } }
	a.gql(t, operator, `mutation($m: ID) { createMerchantUser(input: {merchantID: $m, email: "analyst@replicas.test", role: ANALYST}) { id } }`,
		map[string]any{"m": merchantID}, &u)
	tok := strait(t, env, "token", "--merchant", merchantID, "--role", "analyst", "--subject", u.CreateMerchantUser.ID)
	onA, onB := subscribe(t, a, tok, ""), subscribe(t, b, tok, "")
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	a.gql(t, operator, `mutation($id: ID!) { disableMerchantUser(id: $id) { status } }`, map[string]any{"id": u.CreateMerchantUser.ID}, nil)
	if status, raw := b.post(t, tok, "{ viewer { subject } }", nil); status != http.StatusUnauthorized || !strings.Contains(string(raw), `"UNAUTHENTICATED"`) {
		t.Fatalf("a disabled user's call on B: %d %s", status, raw)
	}
	for name, s := range map[string]*subscriber{"A": onA, "B": onB} {
		_, err := s.next(5 * time.Second)
		if code := websocket.CloseStatus(err); code != 4403 {
			t.Fatalf("the socket on %s ended with %v (code %d), want 4403", name, err, code)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("sockets closed %s after the disable", d)
	}
}
