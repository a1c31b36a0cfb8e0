package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/events"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

// wsClient is one graphql-transport-ws socket to a test server.
type wsClient struct {
	t   *testing.T
	c   *websocket.Conn
	ctx context.Context
}

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func dialWS(t *testing.T, srv *httptest.Server, header http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c, ctx: ctx}
}

// ackedWS is a socket of srv whose connection_init with credential was
// acknowledged.
func ackedWS(t *testing.T, srv *httptest.Server, credential string) *wsClient {
	t.Helper()
	w := dialWS(t, srv, nil)
	w.init(credential)
	w.expect("connection_ack")
	return w
}

// subscribedWS is ackedWS subscribed to query (as id, with vars).
func subscribedWS(t *testing.T, srv *httptest.Server, credential, id, query string, vars map[string]any) *wsClient {
	t.Helper()
	w := ackedWS(t, srv, credential)
	w.subscribe(id, query, vars)
	return w
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	if err := wsjson.Write(w.ctx, w.c, v); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) init(credential string) {
	w.t.Helper()
	payload := map[string]any{}
	if credential != "" {
		payload["Authorization"] = "Bearer " + credential
	}
	w.send(map[string]any{"type": "connection_init", "payload": payload})
}

// read returns the next message other than a ping, or the close error.
func (w *wsClient) read() (wsMessage, error) {
	for {
		var m wsMessage
		if err := wsjson.Read(w.ctx, w.c, &m); err != nil {
			return m, err
		}
		if m.Type != "ping" && m.Type != "pong" {
			return m, nil
		}
	}
}

func (w *wsClient) expect(typ string) wsMessage {
	w.t.Helper()
	m, err := w.read()
	if err != nil || m.Type != typ {
		w.t.Fatalf("want %s, got %+v, %v", typ, m, err)
	}
	return m
}

// closedWith waits for the socket to close and checks its code.
func (w *wsClient) closedWith(code websocket.StatusCode) {
	w.t.Helper()
	for {
		_, err := w.read()
		if err != nil {
			if got := websocket.CloseStatus(err); got != code {
				w.t.Fatalf("closed with %d (%v), want %d", got, err, code)
			}
			return
		}
	}
}

func (w *wsClient) subscribe(id, query string, vars map[string]any) {
	w.t.Helper()
	w.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
}

// liveEnv is the test env with its events running, served over HTTP.
func liveEnv(t *testing.T, configure func(*app.Config)) (*env, *httptest.Server) {
	t.Helper()
	return liveEnvOn(t, "sqlite", configure)
}

// liveEnvOn is liveEnv on the given database dialect.
func liveEnvOn(t *testing.T, dialect string, configure func(*app.Config)) (*env, *httptest.Server) {
	t.Helper()
	return liveEnvWith(t, newEnvWith(t, storetest.Open(t, dialect), func(cfg *app.Config, _ *app.Options) {
		cfg.CORSOrigins = []string{"https://dashboard.example"}
		if configure != nil {
			configure(cfg)
		}
	}))
}

// liveEnvWith starts e's events and serves it over HTTP.
func liveEnvWith(t *testing.T, e *env) (*env, *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = e.app.Close() })
	if err := e.app.StartEvents(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.app.Handler())
	t.Cleanup(srv.Close)
	return e, srv
}

// emit commits an outbox event about a payment, as the cashier does with
// each state change, and wakes the relay.
func emit(t *testing.T, e *env, p *ent.Payment, typ string) {
	t.Helper()
	err := e.db.Client.Event.Create().SetMerchantID(p.MerchantID).SetType(typ).SetObjectID(p.ID).
		SetData(map[string]any{"payment_id": p.ID, "status": strings.TrimPrefix(typ, "payment.")}).
		Exec(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	e.app.Relay.Wake()
}

const paymentUpdatedQuery = `subscription($id: ID, $after: Cursor) { paymentUpdated(id: $id, after: $after) { cursor eventID type payment { id } } }`

type paymentChange struct {
	Cursor, EventID, Type string
	Payment               struct{ ID string }
}

func nextPaymentChange(t *testing.T, w *wsClient, id string) paymentChange {
	t.Helper()
	var c paymentChange
	nextResult(t, w, id, "paymentUpdated", &c)
	return c
}

// nextResult reads the next result of subscription id, with no error, and
// decodes its field into out.
func nextResult(t *testing.T, w *wsClient, id, field string, out any) {
	t.Helper()
	m := w.expect("next")
	if m.ID != id {
		t.Fatalf("next for %q, want %q", m.ID, id)
	}
	var body struct {
		Data   map[string]json.RawMessage
		Errors []any
	}
	if err := json.Unmarshal(m.Payload, &body); err != nil || len(body.Errors) > 0 {
		t.Fatalf("payload %s: %v", m.Payload, err)
	}
	if err := json.Unmarshal(body.Data[field], out); err != nil {
		t.Fatalf("payload %s: %s: %v", m.Payload, field, err)
	}
}

func TestWebsocketCloseCodesFollowGraphQLTransportWS(t *testing.T) {
	e, srv := liveEnv(t, func(c *app.Config) { c.WSInitTimeout = 300 * time.Millisecond })
	cases := []struct {
		name string
		do   func(w *wsClient)
		code websocket.StatusCode
	}{
		{"no credential", func(w *wsClient) { w.init("") }, 4403},
		{"bad credential", func(w *wsClient) { w.init("not-a-token") }, 4403},
		{"revoked-looking API key", func(w *wsClient) { w.init("sk_live_nothing_like_a_key") }, 4403},
		{"subscribe before ack", func(w *wsClient) { w.subscribe("1", paymentUpdatedQuery, nil) }, 4401},
		{"malformed message", func(w *wsClient) { _ = w.c.Write(w.ctx, websocket.MessageText, []byte("{not json")) }, 4400},
		{"message without a type", func(w *wsClient) { w.send(map[string]any{"id": "1"}) }, 4400},
		{"no init in time", func(w *wsClient) {}, 4408},
		{"repeated init", func(w *wsClient) {
			w.init(e.tokens["MERCHANT_ADMIN"])
			w.expect("connection_ack")
			w.init(e.tokens["MERCHANT_ADMIN"])
		}, 4429},
		{"subscribe reusing an active id", func(w *wsClient) {
			w.init(e.tokens["MERCHANT_ADMIN"])
			w.expect("connection_ack")
			w.subscribe("1", paymentUpdatedQuery, nil)
			w.subscribe("1", paymentUpdatedQuery, nil)
		}, 4409},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := dialWS(t, srv, nil)
			w.t = t
			c.do(w)
			w.closedWith(c.code)
		})
	}
}

func TestWebsocketFromAForeignOriginIsRefusedAtTheUpgrade(t *testing.T) {
	_, srv := liveEnv(t, nil)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
	for origin, want := range map[string]int{"https://evil.example": http.StatusForbidden, "https://dashboard.example": http.StatusSwitchingProtocols} {
		c, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {origin}}})
		if resp == nil || resp.StatusCode != want {
			t.Fatalf("origin %s: response %v, err %v; want %d", origin, resp, err, want)
		}
		if c != nil {
			c.CloseNow()
		}
	}
}

func TestPaymentUpdatedStreamsAndResumesFromACursor(t *testing.T) {
	e, srv := liveEnv(t, nil)
	w := dialWS(t, srv, nil)
	w.init(e.tokens["MERCHANT_ADMIN"])
	if ack := w.expect("connection_ack"); len(ack.Payload) > 0 && string(ack.Payload) != "null" {
		t.Fatalf("ack echoes a payload: %s", ack.Payload)
	}
	w.subscribe("all", paymentUpdatedQuery, nil)
	w.subscribe("one", paymentUpdatedQuery, map[string]any{"id": e.payA[1].ID})
	time.Sleep(100 * time.Millisecond)         // the subscriptions are registered
	emit(t, e, e.payB[0], "payment.succeeded") // another merchant's: never seen
	emit(t, e, e.payA[0], "payment.processing")
	emit(t, e, e.payA[1], "payment.succeeded")
	// Each operation sees its changes in order; between operations the
	// order is free.
	got := map[string][]paymentChange{}
	for n := 0; n < 3; n++ {
		m := w.expect("next")
		var body struct {
			Data struct{ PaymentUpdated paymentChange }
		}
		_ = json.Unmarshal(m.Payload, &body)
		got[m.ID] = append(got[m.ID], body.Data.PaymentUpdated)
	}
	all, one := got["all"], got["one"]
	if len(all) != 2 || all[0].Payment.ID != e.payA[0].ID || all[0].Type != "payment.processing" || all[0].Cursor == "" ||
		all[1].Payment.ID != e.payA[1].ID || len(one) != 1 || one[0].Payment.ID != e.payA[1].ID {
		t.Fatalf("changes %+v", got)
	}
	first := all[0]
	w.c.CloseNow()

	// Changes while the client is away, then it resumes after the first.
	emit(t, e, e.payA[0], "payment.succeeded")
	time.Sleep(300 * time.Millisecond)
	r := subscribedWS(t, srv, e.tokens["MERCHANT_ADMIN"], "resume", paymentUpdatedQuery, map[string]any{"after": first.Cursor})
	a := nextPaymentChange(t, r, "resume")
	b := nextPaymentChange(t, r, "resume")
	if a.Payment.ID != e.payA[1].ID || b.Payment.ID != e.payA[0].ID || b.Type != "payment.succeeded" {
		t.Fatalf("resumed with %+v then %+v; want payA[1] succeeded then payA[0] succeeded", a, b)
	}
	emit(t, e, e.payA[1], "payment.refunded") // live after the replay, no duplicate before it
	if c := nextPaymentChange(t, r, "resume"); c.Type != "payment.refunded" {
		t.Fatalf("live after replay: %+v", c)
	}
}

func TestASubscriptionTheCallerMayNotSeeIsAnErrorNotAClose(t *testing.T) {
	e, srv := liveEnv(t, func(c *app.Config) { c.WSMaxSubscriptions = 2 })
	w := subscribedWS(t, srv, e.tokens["MERCHANT_ADMIN"], "other", paymentUpdatedQuery, map[string]any{"id": e.payB[0].ID})
	if m := w.expect("error"); m.ID != "other" || !strings.Contains(string(m.Payload), "NOT_FOUND") {
		t.Fatalf("error %+v", m)
	}
	w.subscribe("ops", `subscription { connectorHealth { connector } }`, nil)
	if m := w.expect("error"); m.ID != "ops" || !strings.Contains(string(m.Payload), "FORBIDDEN") {
		t.Fatalf("error %s", m.Payload)
	}
	// The cap: two live subscriptions, the third refused alone.
	w.subscribe("s1", paymentUpdatedQuery, nil)
	w.subscribe("s2", paymentUpdatedQuery, nil)
	w.subscribe("s3", paymentUpdatedQuery, nil)
	if m := w.expect("error"); m.ID != "s3" || !strings.Contains(string(m.Payload), "RATE_LIMITED") {
		t.Fatalf("third subscription: %+v", m)
	}
	time.Sleep(100 * time.Millisecond)
	emit(t, e, e.payA[0], "payment.succeeded")
	seen := map[string]bool{}
	for len(seen) < 2 {
		seen[w.expect("next").ID] = true
	}
	if !seen["s1"] || !seen["s2"] {
		t.Fatalf("socket stopped serving after the refusals: %v", seen)
	}
}

func TestASocketClosesWhenItsCredentialEnds(t *testing.T) {
	e, srv := liveEnv(t, func(c *app.Config) { c.WSMaxSockets = 2 })
	t.Run("token expiry", func(t *testing.T) {
		tok, err := e.keys.Mint(viewer.Viewer{Kind: viewer.Operator, Subject: "op-short"}, 1500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		w := dialWS(t, srv, nil)
		w.t = t
		w.init(tok)
		w.expect("connection_ack")
		start := time.Now()
		w.closedWith(4403)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("closed %s after ack, want at the token's expiry", d)
		}
	})
	t.Run("API key revoked, within 5 s", func(t *testing.T) {
		w := dialWS(t, srv, nil)
		w.t = t
		w.init(e.tokens["API_KEY"])
		w.expect("connection_ack")
		w.subscribe("1", paymentUpdatedQuery, nil)
		var keys struct {
			Data struct {
				APIKeys struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
		}
		r := e.do("MERCHANT_ADMIN", `{ apiKeys(first: 1) { edges { node { id } } } }`, nil)
		if err := json.Unmarshal([]byte(r.Raw), &keys); err != nil || len(keys.Data.APIKeys.Edges) != 1 {
			t.Fatalf("api keys: %s", r.Raw)
		}
		start := time.Now()
		if r := e.do("MERCHANT_ADMIN", `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`,
			map[string]any{"id": keys.Data.APIKeys.Edges[0].Node.ID}); len(r.Errors) > 0 {
			t.Fatalf("revoke: %s", r.Raw)
		}
		w.closedWith(4403)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("socket closed %s after the revocation", d)
		}
	})
	t.Run("sockets per principal", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			ackedWS(t, srv, e.tokens["MERCHANT_ANALYST"])
		}
		w := dialWS(t, srv, nil)
		w.t = t
		w.init(e.tokens["MERCHANT_ANALYST"])
		w.closedWith(websocket.StatusPolicyViolation)
	})
}

func TestConnectorHealthReachesOperatorsAndResumes(t *testing.T) {
	e, srv := liveEnv(t, nil)
	w := ackedWS(t, srv, e.tokens["OPERATOR"])
	const q = `subscription($after: Cursor) { connectorHealth(after: $after) { cursor connector health replica lastError } }`
	w.subscribe("h", q, nil)
	time.Sleep(100 * time.Millisecond)
	record := func(health, lastError string) {
		t.Helper()
		if err := events.RecordConnectorHealth(context.Background(), e.db.Client, events.ConnectorHealthData{
			Connector: "cardnet", Health: health, Replica: "replica-a", LastError: lastError}, time.Now()); err != nil {
			t.Fatal(err)
		}
		e.app.Relay.Wake()
	}
	type change struct {
		Cursor, Connector, Health, Replica string
		LastError                          *string
	}
	next := func(w *wsClient) change {
		t.Helper()
		m := w.expect("next")
		var body struct {
			Data struct{ ConnectorHealth change }
		}
		if err := json.Unmarshal(m.Payload, &body); err != nil {
			t.Fatal(err)
		}
		return body.Data.ConnectorHealth
	}
	record("restarting", "plugin exited")
	first := next(w)
	if first.Connector != "cardnet" || first.Health != "RESTARTING" || first.Replica != "replica-a" || first.LastError == nil {
		t.Fatalf("first %+v", first)
	}
	w.c.CloseNow()
	record("up", "")
	r := subscribedWS(t, srv, e.tokens["OPERATOR"], "h", q, map[string]any{"after": first.Cursor})
	if c := next(r); c.Health != "UP" || c.LastError != nil {
		t.Fatalf("resumed with %+v", c)
	}
}

// TestACommitWakesTheRelay: with the relay's poll at an hour, an event is
// published within seconds of its commit, in a transaction or not: the
// commit wakes the relay (events.WakeOnCommit), nobody calls Wake.
func TestACommitWakesTheRelay(t *testing.T) {
	e, _ := liveEnv(t, func(c *app.Config) { c.RelayPoll = time.Hour })
	sys := viewer.SystemContext(context.Background())
	time.Sleep(100 * time.Millisecond) // the relay's first step (at its start) is behind it
	published := func(id string) bool {
		ev, err := e.db.Client.Event.Get(sys, id)
		return err == nil && ev.PublishedAt != nil
	}
	alone, err := e.db.Client.Event.Create().SetType("payment.processing").SetObjectID("pay_alone").SetData(map[string]any{}).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := e.db.Client.Tx(sys)
	if err != nil {
		t.Fatal(err)
	}
	inTx, err := tx.Event.Create().SetType("payment.processing").SetObjectID("pay_tx").SetData(map[string]any{}).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !published(alone.ID) || !published(inTx.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("events not published in 5 s with the relay's poll at an hour: %v %v", published(alone.ID), published(inTx.ID))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
